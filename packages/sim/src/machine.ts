import { HostMachine, ScheduledCpu, type VirtualizationExtension } from '@hvsim/hypervisor';
import { type CostModel, type GuestCpu, type MachineStats, NativeMachine } from '@hvsim/platform';
import {
  type CpuCacheConfig,
  PageSize,
  type PagingStructureCache,
  type PagingStructureCacheConfig,
  TlbHierarchy,
  type TlbHierarchyConfig,
  type TlbOrganization,
  tlbPresets,
  WalkEntry,
} from '@hvsim/tlb-tagged';
import { SvmExtension } from '@hvsim/vendor-amd';
import { VmxExtension } from '@hvsim/vendor-intel';
import { tlbLevelCosts } from './collect.js';
import { BACKING_BYTES, type SimConfig } from './config.js';
import { checkMemory } from './machine-memory.js';

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

/** How a machine is built. */
export interface AssembleOptions {
  /** The most memory the machine may need, in bytes (default: half of this computer's; see `checkMemory`). */
  readonly memoryLimit?: number;
}

/**
 * Builds the machine a configuration describes, once `checkMemory` has found that it fits (an
 * `InputError` with the estimate and the limit when it does not). Throws, before anything runs,
 * when the TLB-hit costs give one level two costs (`tlbLevelCosts`).
 */
export function assemble(config: SimConfig, options: AssembleOptions = {}): Machine {
  checkMemory(config, options.memoryLimit);
  const machine = build(config);
  for (const tlb of machine.tlbs) if (tlb instanceof TlbHierarchy) tlbLevelCosts(tlb, machine.costs);
  return machine;
}

function build(config: SimConfig): Machine {
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
