/**
 * @hvsim/scenario/node: the parts of @hvsim/scenario that need Node's file system. The main entry
 * point stays free of Node-only APIs so that it runs in a browser; these read the bundled example
 * scenarios from the package's `scenarios/` folder and scenario files from disk.
 */

/** Bundled example scenarios with hand-derived expected results, and reading scenario files. */
export {
  type BundledScenario,
  bundledScenarioDir,
  listBundledScenarios,
  loadBundledExpectedResult,
  loadBundledScenario,
  readScenarioFile,
} from './bundled-scenarios.js';
