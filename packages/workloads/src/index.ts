/**
 * @hvsim/workloads: a guest operating-system model that does to page tables what a kernel does
 * (processes, demand paging, transparent huge pages, copy-on-write fork, exec, exit, mmap, munmap,
 * mprotect, MOV CR3 with PCIDs, INVLPG and shootdowns), seeded synthetic workloads over it, a trace
 * driver, and a virtual-8086 DOS box with EMS banking. It runs on any `GuestCpu` of
 * @hvsim/platform (bare metal, or a vCPU of @hvsim/hypervisor), and digests what the guest saw so runs on different platforms can be compared.
 */

/** What the guest kernel did, counted. */
export { GuestCounters } from './counters.js';
/** The rolling 32-bit digest used for guest-visible results. */
export { formatDigest } from './digest.js';
/** The DOS box: a virtual-8086 task with an EMS page frame banked by PTE rewrites and INVLPG. */
export {
  DosBox,
  type DosBoxOptions,
  EMS_FRAME_SEGMENT,
  EMS_PAGE_BYTES,
  EMS_PHYSICAL_PAGES,
} from './dos-box.js';
/** Digests and dumps of a run's guest-visible results. */
export { dumpPageTables, guestDigest, pageTableDigest } from './guest-digest.js';
/** The guest kernel's frame allocator, with reference counts and huge frames. */
export { GuestFrames } from './guest-frames.js';
/** The guest operating system and its processes. */
export {
  GuestOs,
  type GuestOsOptions,
  type MmapOptions,
  Process,
  Prot,
  type Vma,
} from './guest-os.js';
/** The page-table format helpers and the kernel's software bits in entries. */
export { SoftBit, type TableFormat, type TableVisitor, tableFormat, walkTables } from './page-tables.js';
/** The seeded generator and samplers the workloads use. */
export { Rng, randomCycle, ZipfSampler } from './rng.js';
/** Running memory traces through the guest. */
export {
  type RunTraceOptions,
  runTrace,
  runTraceSync,
  type TraceBatch,
  TraceKind,
  type TraceRunResult,
} from './trace.js';
/** The built-in workloads. */
export {
  defaultWorkload,
  getWorkload,
  type Workload,
  type WorkloadName,
  type WorkloadRunOptions,
  workloadNames,
  workloads,
} from './workloads.js';
