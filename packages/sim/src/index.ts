/**
 * @hvsim/sim: machine configurations and the runs made on them. A configuration (JSON or YAML, or a
 * built-in preset) composes a machine from the other packages: bare metal, or a hypervisor with AMD
 * SVM or Intel VMX, nested or shadow paging, tagged or untagged TLBs, a TLB hierarchy and walk
 * caches, a cost model, CPUs, VMs and vCPUs, and the page sizes of each stage. A run drives the
 * guest OS of @hvsim/workloads with a built-in workload or a memory trace and reports its figures as
 * @hvsim/report's `RunReport`; comparisons and sweeps run several configurations on worker threads.
 */

/**
 * Scheduling vCPUs on physical CPUs, with timer exits, is the hypervisor's; this re-export stays for one release.
 * @deprecated Import `ScheduledCpu` from `@hvsim/hypervisor`.
 */
export { ScheduledCpu } from '@hvsim/hypervisor';
/** A run's figures from the machine's counters. */
export { collectRun, withOverheads } from './collect.js';
/** Comparisons and sweeps. */
export { compare, parseSweepAxis, type SweepAxis, sweep, sweepGrid } from './compare.js';
/** Configurations: the schema, reading JSON or YAML with errors that name the line and JSON path. */
export {
  BACKING_BYTES,
  checkConfig,
  configSchema,
  parseConfig,
  type SimConfig,
  type SimConfigInput,
} from './config.js';
/** The TLB levels and exit kinds every CSV of hvsim's runs has a column for, so that any two line up. */
export { REPORT_CSV_COLUMNS } from './csv-columns.js';
/** Assembling the machine a configuration describes. */
export {
  type AssembleOptions,
  assemble,
  cachesOf,
  defaultWalkCache,
  type Machine,
  tlbConfigOf,
} from './machine.js';
/** What a machine needs to be simulated, and the refusal of one that cannot fit. */
export {
  checkMemory,
  defaultMemoryLimit,
  estimateMemory,
  type MemoryEstimate,
  type MemoryPart,
} from './machine-memory.js';
/** Several runs on worker threads. */
export { type PoolOptions, runMany } from './pool.js';
/** Built-in presets (files in the package's presets/ folder) and reading a configuration by file or preset name. */
export {
  defaultComparison,
  listPresets,
  loadConfig,
  loadPreset,
  type PresetInfo,
  presetDir,
} from './presets.js';
/** One run. */
export {
  demoWorkload,
  describeWorkload,
  listWorkloads,
  makeReport,
  type RunOptions,
  runConfig,
  type WorkloadSpec,
} from './run.js';
export { tlbLevelCosts } from './tlb-level-costs.js';
