/**
 * @hvsim/scenario: the translation-scenario formats of spec/scenario.md (`hvsim.scenario/1`,
 * `hvsim.result/1`), the contract with reference emulators. Reads and validates scenarios, runs
 * them on one `ScenarioMachine` (one-stage on cpu-core, nested on AMD NPT or Intel EPT), writes, reads
 * and compares results.
 * Runs anywhere JavaScript runs: reading the bundled examples and files from disk is in the Node-only
 * entry point `@hvsim/scenario/node`.
 */

/** The error every reader throws (from @hvsim/errors): messages name the source, the JSON path, and the problem. */
export { DocumentError, type DocumentIssue, formatPath } from '@hvsim/errors';
/**
 * The TLB organizations a scenario's `caches` names, and what translation caches hold (an explanation's
 * `caches` and `removed`; @hvsim/walk-view's TLB panel).
 */
export {
  cacheEntries,
  removedEntries,
  scenarioTlbConfig,
  type TlbEntryView,
  type TlbStructureView,
  tlbConfigFor,
  viewTlb,
} from './cache-view.js';
/** Comparing two results field by field, walks and `cached` aside (to check against a reference emulator). */
export { compareResults, formatDifference, type ResultDifference } from './compare-results.js';
/** JSON text to a value, with line and column on a syntax error. */
export { parseJsonText } from './json-text.js';
/** Reading, validating and writing `hvsim.result/1` documents. */
export { parseResult, readResult, serializeResult } from './result-format.js';
/** Running a scenario, or a sequence of steps with caches. */
export { type RunOptions, runScenario } from './run-scenario.js';
/** A scenario's memory, CPU state and MMU, assembled once: what `runScenario` and walk-view run on. */
export {
  resultOf,
  SCENARIO_GUEST_TAG,
  ScenarioMachine,
  type ScenarioMachineCaches,
} from './scenario-machine.js';
/** Reading and validating `hvsim.scenario/1` documents, with the spec's defaults. */
export { parseScenario, type ReadOptions, readScenario, SCENARIO_DEFAULTS } from './scenario-reader.js';
/** Writing `hvsim.scenario/1` documents (a scenario built in code or a form, to save). */
export { serializeScenario } from './scenario-writer.js';
/** The parsed documents. */
export {
  type AccessName,
  type AccessResult,
  type AccessStep,
  type CacheConfig,
  type CacheEntryView,
  type Cpl,
  type CpuConfig,
  type DoneResult,
  type EptMisconfigurationResult,
  type EptViolationResult,
  type GeneralProtectionResult,
  type GuestRegisters,
  type HostRegisters,
  type InveptStep,
  type InvlpgaStep,
  type InvlpgStep,
  type InvpcidStep,
  type InvvpidStep,
  type MemoryRun,
  type MovCrStep,
  type NestedConfig,
  type NestedPageFaultResult,
  type OkResult,
  type OperationName,
  type OperationStep,
  type Outcome,
  type PageFaultResult,
  RESULT_FORMAT,
  SCENARIO_FORMAT,
  SCENARIO_TLB_NAMES,
  type Scenario,
  type ScenarioAccess,
  type ScenarioResult,
  type ScenarioStep,
  type ScenarioTlbName,
  type StepResult,
  type StoreStep,
  type Vendor,
  type VmfailResult,
  type WalkStep,
  type WorldSwitchStep,
} from './types.js';
