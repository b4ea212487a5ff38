import { HostMachine, ScheduledCpu, type VirtualizationExtension } from '@hvsim/hypervisor';
import { type CostModel, type GuestCpu, type MachineStats, NativeMachine } from '@hvsim/platform';
import { type PagingStructureCache, TlbHierarchy, type TlbOrganization } from '@hvsim/tlb-tagged';
import { SvmExtension } from '@hvsim/vendor-amd';
import { VmxExtension } from '@hvsim/vendor-intel';
import { BACKING_BYTES, type SimConfig } from './config.js';
import { cachesOf } from './machine-caches.js';
import { checkMemory } from './machine-memory.js';
import { tlbLevelCosts } from './tlb-level-costs.js';

export { cachesOf, defaultWalkCache, tlbConfigOf } from './machine-caches.js';

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
