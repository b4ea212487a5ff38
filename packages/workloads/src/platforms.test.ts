import { PagingMode } from '@hvsim/cpu-core';
import { HostMachine } from '@hvsim/hypervisor';
import { type GuestCpu, NativeMachine } from '@hvsim/platform';
import type { CpuCacheConfig } from '@hvsim/tlb-tagged';
import { PageSize, skylakeTlb, WalkEntry } from '@hvsim/tlb-tagged';
import { SvmExtension } from '@hvsim/vendor-amd';
import { VmxExtension } from '@hvsim/vendor-intel';
import { describe, expect, it } from 'vitest';
import { dumpPageTables, guestDigest } from './guest-digest.js';
import { GuestOs, type GuestOsOptions } from './guest-os.js';
import { type WorkloadName, workloads } from './workloads.js';

/*
 * The guest sees the same machine everywhere: the same workload and seed give the same access
 * outcomes and the same final page tables (A and D bits included) natively, under AMD NPT, under
 * Intel EPT and under shadow paging. Only the cost differs.
 */

const MEMORY = 64 * 2 ** 20;
const caches: CpuCacheConfig = {
  tlb: skylakeTlb.config,
  walkCache: {
    levels: [
      { kind: WalkEntry.Pde, entries: 32, ways: 4 },
      { kind: WalkEntry.Pdpte, entries: 4, ways: 4 },
      { kind: WalkEntry.Pml4e, entries: 2, ways: 2 },
    ],
  },
  nestedTlb: { name: 'nested TLB', entries: 32, ways: 4, pageSizes: [PageSize.Size4K, PageSize.Size2M] },
};

type Platform = (cpus: number) => readonly GuestCpu[];

const native: Platform = (cpus) => new NativeMachine({ cpus, caches }).cpus;

function virtual(extension: () => SvmExtension | VmxExtension, paging: 'nested' | 'shadow'): Platform {
  return (cpus) => {
    const host = new HostMachine({ extension: extension(), cpus, caches });
    const vm = host.createVm({ memorySize: MEMORY, paging });
    const vcpus = [];
    for (let i = 0; i < cpus; i++) {
      const vcpu = vm.createVcpu();
      vcpu.run(host.cpus[i] as (typeof host.cpus)[number]);
      vcpus.push(vcpu);
    }
    return vcpus;
  };
}

const platforms: Array<[string, Platform]> = [
  ['AMD NPT', virtual(() => new SvmExtension(), 'nested')],
  ['Intel EPT', virtual(() => new VmxExtension(), 'nested')],
  ['AMD shadow paging', virtual(() => new SvmExtension(), 'shadow')],
  ['Intel shadow paging', virtual(() => new VmxExtension(), 'shadow')],
];

function runOn(
  platform: Platform,
  name: WorkloadName,
  options: Partial<Omit<GuestOsOptions, 'cpus'>>,
  cpus: number,
) {
  const workload = workloads[name];
  const os = new GuestOs({ cpus: platform(cpus), memoryBytes: MEMORY, ...options, ...workload.osOptions });
  workload.run(os, { seed: 11, accesses: 3000, workingSetBytes: 2 * 2 ** 20 });
  return { digest: guestDigest(os), tables: dumpPageTables(os), counters: os.counters.snapshot() };
}

const cases: Array<[WorkloadName, Partial<Omit<GuestOsOptions, 'cpus'>>, number]> = [
  ['mixed', {}, 2],
  ['mixed', { pcid: true, hugePages: true }, 2],
  ['uniform', { pagingMode: PagingMode.Pae }, 1],
  ['process-churn', { pagingMode: PagingMode.Level5, pcid: true }, 2],
  ['dos-box', {}, 1],
];

describe.each(platforms)('%s', (platformName, platform) => {
  for (const [workload, options, cpus] of cases) {
    const label = `${workload} ${JSON.stringify(options)} on ${cpus} CPU(s)`;
    it(`${label}: the guest kernel does the same work and leaves the same page tables as natively`, () => {
      const expected = runOn(native, workload, options, cpus);
      const got = runOn(platform, workload, options, cpus);
      expect(got.counters, platformName).toEqual(expected.counters);
      expect(got.tables).toEqual(expected.tables);
    });
    it(`${label}: every access has the native outcome (the guest digest matches)`, () => {
      expect(runOn(platform, workload, options, cpus).digest).toBe(
        runOn(native, workload, options, cpus).digest,
      );
    });
  }
});
