import type { MmuCaches } from '@hvsim/mmu-nested';
import type { CpuTranslationCaches } from '@hvsim/tlb-tagged';
import type { IdAllocator } from './id-allocator.js';

/** What a physical CPU knows of the guest it runs: that the hypervisor can take the CPU back from it. */
export interface RunningGuest {
  /** Leaves guest mode (the guest is descheduled: an external-interrupt exit). */
  stop(): void;
}

/**
 * A physical CPU: its TLBs and walk caches, its id pool, and the vCPU it runs. A `HostMachine`'s CPUs
 * run `VirtualCpu`s (`PhysicalCpu<VirtualCpu>`); the parameter keeps this file below the vCPU's.
 */
export class PhysicalCpu<Guest extends RunningGuest = RunningGuest> {
  readonly index: number;
  readonly caches: CpuTranslationCaches;
  readonly ids: IdAllocator;
  /** The vCPU in guest mode on this CPU, or null while the host runs. */
  current: Guest | null = null;

  constructor(index: number, caches: CpuTranslationCaches, ids: IdAllocator) {
    this.index = index;
    this.caches = caches;
    this.ids = ids;
  }

  /** The CPU's structures as an MMU takes them (`withNestedTlb`: with its nested TLB), or undefined when it has none. */
  mmuCaches(withNestedTlb: boolean): MmuCaches | undefined {
    const c = this.caches;
    const nestedTlb = withNestedTlb ? c.nestedTlb : null;
    if (c.tlb === null && c.walkCache === null && nestedTlb === null) return undefined;
    return {
      ...(c.tlb === null ? {} : { tlb: c.tlb }),
      ...(c.walkCache === null ? {} : { walkCache: c.walkCache }),
      ...(nestedTlb === null ? {} : { nestedTlb }),
    };
  }
}
