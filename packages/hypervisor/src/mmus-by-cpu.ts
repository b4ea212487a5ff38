import type { PhysicalCpu } from './physical-cpu.js';

/**
 * A vCPU's MMUs, one per physical CPU it has run on (each CPU has its own TLBs), made on first use,
 * and the one of the CPU it last entered, so a guest access finds it without a lookup.
 */
export class MmusByCpu<Mmu> {
  private readonly create: (cpu: PhysicalCpu) => Mmu;
  private readonly mmus: (Mmu | undefined)[] = [];
  private active: Mmu | null = null;
  private activeCpu: PhysicalCpu | null = null;

  constructor(create: (cpu: PhysicalCpu) => Mmu) {
    this.create = create;
  }

  /** The MMU of `cpu`. */
  of(cpu: PhysicalCpu): Mmu {
    let mmu = this.mmus[cpu.index];
    if (mmu === undefined) {
      mmu = this.create(cpu);
      this.mmus[cpu.index] = mmu;
    }
    return mmu;
  }

  /** At a world switch into the guest on `cpu`: makes its MMU the active one, and returns it. */
  activate(cpu: PhysicalCpu): Mmu {
    const mmu = this.of(cpu);
    this.active = mmu;
    this.activeCpu = cpu;
    return mmu;
  }

  /** The MMU of `cpu`, without a lookup when it is the active one (the hot path). */
  current(cpu: PhysicalCpu): Mmu {
    return this.activeCpu === cpu && this.active !== null ? this.active : this.of(cpu);
  }
}
