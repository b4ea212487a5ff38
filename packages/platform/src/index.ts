/**
 * @hvsim/platform: what a guest runs on. The `GuestCpu` seam a guest operating-system model, a
 * workload or a trace drives (accesses, physical stores to its page tables, MOV CR3, mode switches,
 * INVLPG, shootdowns), the outcome of an access (`GuestAccess`), the bare-metal `NativeMachine` that
 * every virtualized configuration is compared with, and the counters and cost model both share.
 * `@hvsim/hypervisor`'s `VirtualCpu` implements the same seam, so a guest written against it runs
 * natively and virtualized without depending on the hypervisor.
 */

/** Cycle costs with their sources. */
export {
  type CostModel,
  checkCosts,
  defaultCosts,
  TLB_HIT_LEVELS,
  tlbHitCycles,
  tlbHitCyclesByLevel,
} from './cost-model.js';
/** The seam a guest runs on, and the outcome of one access. */
export { accessSegmented, ExitRecord, type ExitReport, GuestAccess, type GuestCpu } from './guest-cpu.js';
/** The bare-metal baseline. */
export { NativeCpu, NativeMachine, type NativeMachineOptions } from './native-machine.js';
/** What a run did, counted. */
export { type CycleBreakdown, MachineStats } from './stats.js';
