/**
 * @hvsim/hypervisor: a simulated hypervisor over @hvsim/mmu-nested and @hvsim/tlb-tagged. A host
 * machine with physical CPUs and their TLBs, VMs whose guest-physical memory is backed through
 * nested tables the hypervisor builds (on demand or up front, with 4 KiB, 2 MiB or 1 GiB pages) or
 * virtualized by shadow paging, vCPUs scheduled on the CPUs with world switches, ASID/VPID pools with
 * generations, exits as events handed to handlers, TLB shootdowns and a cost model. Vendor behaviour
 * comes through `VirtualizationExtension`, which `@hvsim/vendor-amd` and `@hvsim/vendor-intel`
 * implement.
 */

/**
 * The linear page number of an address given as a number or halves.
 * @deprecated Use `linearPageNumberOf` of `@hvsim/cpu-core`.
 */
export { linearPageNumberOf as vpnOfLinear } from '@hvsim/cpu-core';
/**
 * The guest seam, the bare-metal machine, the cost model and the counters moved to
 * `@hvsim/platform`; these re-exports stay for one release.
 * @deprecated Import them from `@hvsim/platform`.
 */
export {
  accessSegmented,
  type CostModel,
  checkCosts,
  defaultCosts,
  GuestAccess,
  type GuestCpu,
  MachineStats as HypervisorStats,
  NativeCpu,
  NativeMachine,
  type NativeMachineOptions,
} from '@hvsim/platform';
/** Exits as events: kinds and what handlers decide. */
export { ExitAction, ExitKind, VmExit } from './exits.js';
/** The extension interface the vendors implement. */
export {
  type BackingPageSize,
  type CpuTranslationCaches,
  EntryFlush,
  type ExitEvent,
  type ExitReport,
  type NestedTables,
  type VirtualizationExtension,
} from './extension.js';
export type { Host } from './host.js';
/** The host machine; what a VM and its paging backend need of a host. */
export { type CpuCacheConfig, HostMachine, type HostMachineOptions } from './host-machine.js';
/** ASID/VPID pools with generations. */
export { IdAllocator } from './id-allocator.js';
/** Nested paging: the VM's nested tables (NPT, EPT) and the two-dimensional walk. */
export { NestedPaging } from './nested-paging.js';
/** Paging as a strategy the VM chooses once: what a backend implements, and what the vCPU lends it. */
export {
  type ControlsBefore,
  type ExitPort,
  type IdAssignment,
  type IdOwner,
  MAX_RESUMES,
  type PagingBackend,
  type PagingBackendFactory,
  type PagingVcpu,
  type PagingVm,
  type VcpuPaging,
} from './paging-backend.js';
/** Physical CPUs. */
export { PhysicalCpu, type RunningGuest } from './physical-cpu.js';
/** A vCPU with the hypervisor's scheduling around it: world switches between guests and timer exits. */
export { ScheduledCpu } from './scheduled-cpu.js';
/** Shadow paging: the hypervisor's shadow roots, fills, zaps and write-protected guest table pages. */
export { ShadowPaging, ShadowRoot } from './shadow-paging.js';
/** VMs, their guest-physical memory, their vCPUs and exit handlers. */
export {
  type ExitHandler,
  VirtualCpu,
  VirtualMachine,
  type VirtualMachineOptions,
} from './virtual-machine.js';
