/**
 * @hvsim/cpu-core: x86 CPU state, sparse physical memory and exact one-dimensional page walks
 * (Intel SDM vol. 3A ch. 4, AMD APM vol. 2 ch. 5). Knows nothing of virtualization.
 */

/** Access kinds, privileges and #PF error-code bits (SDM vol. 3A §4.6-4.7). */
export {
  AccessKind,
  accessKindName,
  explicitPrivilegeOf,
  PfError,
  Privilege,
  privilegeOfCpl,
} from './access.js';
/** What MOV to CR0, CR3 and CR4 refuse with #GP(0), and when they reload the PAE PDPTEs (SDM vol. 2B "MOV—Move to/from Control Registers", vol. 3A §4.4.1). */
export {
  isCanonicalAddress,
  movToCr0Fault,
  movToCr3Fault,
  movToCr4Fault,
  reloadsPdptes,
} from './control-register-writes.js';
/** Architectural state: control registers, PDPTE registers, real-mode segments and the A20 gate. */
export { type ControlRegisters, CpuState, Segment } from './cpu-state.js';
/** Linear addresses as 32-bit halves, converted at the edges. */
export {
  formatHex,
  type LinearAddress,
  linearFromBigInt,
  linearPageNumber,
  linearPageNumberOf,
  linearPageNumberOfBigInt,
  linearToBigInt,
  parseHex64,
  TWO_32,
  TWO_MINUS_32,
  tableIndex,
} from './linear-address.js';
/** Builds x86 paging structures in memory, for tests, examples and workloads. */
export {
  FrameAllocator,
  type MapOptions,
  PageSize,
  PageTableBuilder,
  PteFlag,
  type WordMemory,
} from './page-table-builder.js';
/** One-dimensional page walks for every paging mode, and the PAE PDPTE load (SDM vol. 3A §4.3-4.5). */
export {
  createWalkResult,
  loadPdptes,
  PageWalker,
  type PageWalkerOptions,
  pdptBase,
  pdpteReserved,
} from './page-walker.js';
/** Paging modes and how CR0, CR4 and EFER select them (SDM vol. 3A §4.1.1). */
export {
  controlRegisterProblem,
  isPagedRealMode,
  PagingMode,
  pagingModeName,
  pagingModeOf,
} from './paging-mode.js';
/** Sparse, 52-bit physical memory. */
export {
  MAX_PHYSICAL_ADDRESS_BITS,
  PhysicalMemory,
  type PhysicalMemoryOptions,
  splitHalves,
} from './physical-memory.js';
/** Control-register, EFER and RFLAGS bits (SDM vol. 3A §2.5). */
export { Cr0, Cr4, Efer, Rflags } from './registers.js';
/** The seam through which walkers read their tables. */
export { a20Masked, a20Port, identityPort, type TablePort } from './table-port.js';
/** Walk outcomes and the record of a walk's memory references. */
export { Perm, RefFlag, Stage, WalkResult, WalkStatus, WalkTrace } from './walk-result.js';
