import { HostMachine, type VirtualizationExtension } from '@hvsim/hypervisor';
import { type GuestCpu, NativeMachine } from '@hvsim/platform';
import { type CpuCacheConfig, skylakeTlb, WalkEntry } from '@hvsim/tlb-tagged';
import { SvmExtension } from '@hvsim/vendor-amd';
import { VmxExtension } from '@hvsim/vendor-intel';

/** Guest-physical memory of every platform's guest. */
export const MEMORY = 0x200_0000;

const caches: CpuCacheConfig = {
  tlb: skylakeTlb.config,
  walkCache: {
    levels: [
      { kind: WalkEntry.Pde, entries: 32, ways: 4 },
      { kind: WalkEntry.Pdpte, entries: 4, ways: 4 },
      { kind: WalkEntry.Pml4e, entries: 2, ways: 2 },
    ],
  },
};

export interface Platform {
  readonly name: string;
  readonly cpu: GuestCpu;
  /** The host machine (absent on bare metal), for its statistics. */
  readonly host?: HostMachine;
}

export function platforms(withCaches: boolean): Platform[] {
  const c = withCaches ? { caches } : {};
  const hosted = (
    name: string,
    extension: VirtualizationExtension,
    paging: 'nested' | 'shadow',
    roots = 3,
  ) => {
    const host = new HostMachine({ extension, ...c });
    const vcpu = host.createVm({ memorySize: MEMORY, paging, shadowRoots: roots }).createVcpu();
    vcpu.run(host.cpus[0]);
    return { name, cpu: vcpu, host };
  };
  return [
    { name: 'native', cpu: new NativeMachine(c).cpus[0] },
    hosted('AMD shadow', new SvmExtension(), 'shadow'),
    // Two cached roots for three address spaces: switches evict and rebuild roots.
    hosted('Intel shadow', new VmxExtension(), 'shadow', 2),
    hosted('AMD NPT', new SvmExtension(), 'nested'),
    hosted('Intel EPT', new VmxExtension(), 'nested'),
  ];
}
