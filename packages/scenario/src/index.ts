/**
 * @hvsim/scenario: the translation-scenario formats of spec/scenario.md (`hvsim.scenario/1`,
 * `hvsim.result/1`), the contract with reference emulators. Reads and validates scenarios, runs
 * them (one-stage on cpu-core; nested through a `NestedRunner`), writes, reads and compares results.
 * Runs anywhere JavaScript runs: reading the bundled examples and files from disk is in the Node-only
 * entry point `@hvsim/scenario/node`.
 */

/** Comparing two results field by field, walks aside (to check against a reference emulator). */
export { compareResults, formatDifference, type ResultDifference } from './compare-results.js';
/** The error every reader throws: messages name the source, the JSON path, and the problem. */
export { DocumentError, type DocumentIssue, formatPath } from './document-error.js';
/** JSON text to a value, with line and column on a syntax error. */
export { parseJsonText } from './json-text.js';
/** Reading and validating `hvsim.scenario/1` documents, with the spec's defaults. */
/** The nested runner: AMD NPT and Intel EPT scenarios on @hvsim/mmu-nested. */
export { type NestedStageCache, nestedRunner, nestedStageOf, resultOf } from './nested-runner.js';
/** Reading, validating and writing `hvsim.result/1` documents. */
export { parseResult, readResult, serializeResult } from './result-format.js';
/** Running a scenario, and the seam through which nested scenarios are run. */
export {
  type NestedAccessRunner,
  type NestedRunner,
  type NestedSetup,
  type RunOptions,
  runScenario,
} from './run-scenario.js';
export { parseScenario, readScenario, SCENARIO_DEFAULTS } from './scenario-reader.js';
/** The parsed documents. */
export {
  type AccessName,
  type AccessResult,
  type Cpl,
  type CpuConfig,
  type EptMisconfigurationResult,
  type EptViolationResult,
  type GeneralProtectionResult,
  type GuestRegisters,
  type HostRegisters,
  type MemoryRun,
  type NestedConfig,
  type NestedPageFaultResult,
  type OkResult,
  type Outcome,
  type PageFaultResult,
  RESULT_FORMAT,
  SCENARIO_FORMAT,
  type Scenario,
  type ScenarioAccess,
  type ScenarioResult,
  type Vendor,
  type WalkStep,
} from './types.js';
