import type { AccessKind, ControlRegisters, CpuState, Privilege } from '@hvsim/cpu-core';
import {
  HostMachine,
  type PhysicalCpu,
  type VirtualCpu,
  type VirtualizationExtension,
} from '@hvsim/hypervisor';
import type { TranslateStatus } from '@hvsim/mmu-nested';
import {
  type CostModel,
  type GuestAccess,
  type GuestCpu,
  type MachineStats,
  NativeMachine,
} from '@hvsim/platform';
import {
  type CpuCacheConfig,
  PageSize,
  type PagingStructureCache,
  type PagingStructureCacheConfig,
  type TlbHierarchyConfig,
  type TlbOrganization,
  tlbPresets,
  WalkEntry,
} from '@hvsim/tlb-tagged';
import { SvmExtension } from '@hvsim/vendor-amd';
import { VmxExtension } from '@hvsim/vendor-intel';
import { BACKING_BYTES, type SimConfig } from './config.js';

/**
 * The walk cache a configuration's `walkCache: default` stands for. No vendor publishes the sizes of
 * its paging-structure caches (SDM vol. 3A §4.10.3 defines what they hold, not how many), so these
 * are an assumption: PDE 32 entries 4-way, PDPTE 4 entries 4-way, PML4E 2 entries 2-way.
 */
export const defaultWalkCache: PagingStructureCacheConfig = {
  name: 'paging-structure cache',
  source: 'assumption: sizes are not published (SDM vol. 3A §4.10.3)',
  levels: [
    { kind: WalkEntry.Pde, entries: 32, ways: 4 },
    { kind: WalkEntry.Pdpte, entries: 4, ways: 4 },
    { kind: WalkEntry.Pml4e, entries: 2, ways: 2 },
  ],
};

const PAGE_SIZES = {
  '4K': PageSize.Size4K,
  '2M': PageSize.Size2M,
  '4M': PageSize.Size4M,
  '1G': PageSize.Size1G,
};
const WALK_ENTRIES = {
  PDE: WalkEntry.Pde,
  PDPTE: WalkEntry.Pdpte,
  PML4E: WalkEntry.Pml4e,
  PML5E: WalkEntry.Pml5e,
};

/** The TLB hierarchy of a configuration (a preset's, or its own geometry). */
export function tlbConfigOf(config: SimConfig): TlbHierarchyConfig {
  const tlb = config.tlb;
  if (typeof tlb === 'string') return tlbPresets[tlb].config;
  return {
    ...tlb,
    inclusion: tlb.inclusion ?? 'non-inclusive',
    fillPolicy: tlb.fillPolicy ?? 'all',
    levels: tlb.levels.map((level) => ({
      name: level.name,
      caches: level.caches.map((c) => ({
        name: c.name,
        entries: c.entries,
        ways: c.ways,
        pageSizes: c.pageSizes.map((s) => PAGE_SIZES[s]),
        ...(c.policy === undefined ? {} : { policy: c.policy }),
      })),
    })),
  };
}

/** The translation structures each CPU of a configuration gets. */
export function cachesOf(config: SimConfig): CpuCacheConfig {
  const walk = config.walkCache;
  const walkCache =
    walk === 'none'
      ? undefined
      : walk === 'default'
        ? defaultWalkCache
        : {
            levels: walk.levels.map((l) => ({
              kind: WALK_ENTRIES[l.kind],
              entries: l.entries,
              ways: l.ways,
            })),
          };
  const nested = config.nestedTlb;
  return {
    tlb: tlbConfigOf(config),
    ...(walkCache === undefined ? {} : { walkCache }),
    ...(nested === 'none'
      ? {}
      : {
          nestedTlb: {
            name: 'nested TLB',
            entries: nested.entries,
            ways: nested.ways,
            pageSizes: [PageSize.Size4K, PageSize.Size2M, PageSize.Size1G],
          },
        }),
  };
}

/** An assembled machine: the guests' CPUs, and where its counters are. */
export interface Machine {
  readonly config: SimConfig;
  /** What the run did, counted (`NativeMachine.stats` or `HostMachine.stats`). */
  readonly stats: MachineStats;
  readonly costs: CostModel;
  /** Each guest's CPUs: one list per VM (natively one list, the machine's CPUs). */
  readonly guests: readonly (readonly GuestCpu[])[];
  /** Each physical CPU's TLB and walk cache. */
  readonly tlbs: readonly (TlbOrganization | null)[];
  readonly walkCaches: readonly (PagingStructureCache | null)[];
}

/** Builds the machine a configuration describes. */
export function assemble(config: SimConfig): Machine {
  const caches = cachesOf(config);
  const costs = config.costs as Partial<CostModel>;
  if (config.mmu === 'native') {
    const machine = new NativeMachine({ cpus: config.cpus, caches, costs });
    return {
      config,
      stats: machine.stats,
      costs: machine.costs,
      guests: [machine.cpus],
      tlbs: machine.cpus.map((cpu) => cpu.mmu.caches?.tlb ?? null),
      walkCaches: machine.cpus.map((cpu) => cpu.mmu.caches?.walkCache ?? null),
    };
  }
  const extension: VirtualizationExtension =
    config.vendor === 'intel'
      ? new VmxExtension({ capabilities: { vpid: config.tagging } })
      : new SvmExtension({ capabilities: { asidTagging: config.tagging } });
  const host = new HostMachine({
    extension,
    cpus: config.cpus,
    caches,
    costs,
    tagging: config.tagging,
    ...(config.idPoolSize === undefined ? {} : { idPoolSize: config.idPoolSize }),
  });
  const guests: GuestCpu[][] = [];
  for (let v = 0; v < config.vms; v++) {
    const vm = host.createVm({
      memorySize: config.guest.memory,
      backing: BACKING_BYTES[config.backing],
      fill: config.fill,
      paging: config.mmu === 'shadow' ? 'shadow' : 'nested',
    });
    const cpus: GuestCpu[] = [];
    for (let i = 0; i < config.vcpus; i++) {
      const vcpu = vm.createVcpu();
      const physical = host.cpus[(v * config.vcpus + i) % host.cpus.length];
      cpus.push(new ScheduledCpu(vcpu, physical, config.timer.interval));
    }
    guests.push(cpus);
  }
  return {
    config,
    stats: host.stats,
    costs: host.costs,
    guests,
    tlbs: host.cpus.map((cpu) => cpu.caches.tlb),
    walkCaches: host.cpus.map((cpu) => cpu.caches.walkCache),
  };
}

/**
 * A vCPU as its guest sees it, with the hypervisor's scheduling around it: before the guest uses it,
 * the vCPU is put in guest mode on its physical CPU (descheduling whichever vCPU ran there: a world
 * switch between guests), and every `interval` accesses a timer interrupt sends it to the hypervisor
 * and back (an external-interrupt exit and a VM entry; without tags the entry flushes the TLB).
 */
export class ScheduledCpu implements GuestCpu {
  declare readonly vcpu: VirtualCpu;
  declare readonly physical: PhysicalCpu;
  declare private readonly inner: GuestCpu;
  declare private readonly interval: number;
  declare private countdown: number;

  constructor(vcpu: VirtualCpu, physical: PhysicalCpu, interval: number) {
    this.vcpu = vcpu;
    this.physical = physical;
    this.inner = vcpu;
    this.interval = interval;
    this.countdown = interval;
  }

  get state(): CpuState {
    return this.inner.state;
  }

  access(
    linear: number,
    access: AccessKind,
    out: GuestAccess,
    privilege?: Privilege,
    linearHi?: number,
  ): TranslateStatus {
    if (this.vcpu.cpu === null) this.schedule();
    else if (--this.countdown === 0) this.tick();
    return this.inner.access(linear, access, out, privilege, linearHi);
  }

  readPhysical(gpa: number): number {
    return this.inner.readPhysical(gpa);
  }

  writePhysical(gpa: number, value: number): void {
    if (this.vcpu.cpu === null) this.schedule();
    this.inner.writePhysical(gpa, value);
  }

  writeCr3(value: number, noFlush?: boolean): TranslateStatus {
    if (this.vcpu.cpu === null) this.schedule();
    return this.inner.writeCr3(value, noFlush);
  }

  setControlRegisters(regs: ControlRegisters): TranslateStatus {
    if (this.vcpu.cpu === null) this.schedule();
    return this.inner.setControlRegisters(regs);
  }

  invlpg(linear: number, linearHi?: number): void {
    if (this.vcpu.cpu === null) this.schedule();
    this.inner.invlpg(linear, linearHi);
  }

  shootdown(linear: number, linearHi?: number): void {
    if (this.vcpu.cpu === null) this.schedule();
    this.inner.shootdown(linear, linearHi);
  }

  /** Puts the vCPU in guest mode on its CPU, descheduling the vCPU that ran there. */
  private schedule(): void {
    this.physical.current?.stop();
    this.vcpu.run(this.physical);
    this.countdown = this.interval;
  }

  /** A timer interrupt: an external-interrupt exit, then the VM entry that resumes the guest. */
  private tick(): void {
    this.vcpu.stop();
    this.vcpu.run(this.physical);
    this.countdown = this.interval;
  }
}
