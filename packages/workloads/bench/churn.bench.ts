/**
 * Process-creation churn, the case that made shadow paging slow: the `process-churn` workload (fork
 * with copy-on-write, writes to shared pages, exec, fresh memory, exit, over and over) natively,
 * under AMD NPT, and under shadow paging, with the `uniform` workload (no page-table changes after
 * the first touches) beside it for contrast. Guest accesses per second, each against native.
 *
 * Run: pnpm --filter @hvsim/workloads bench
 */
import { HostMachine } from '@hvsim/hypervisor';
import { type GuestCpu, NativeMachine } from '@hvsim/platform';
import { compareToBaseline } from '@hvsim/test-utils';
import { type CpuCacheConfig, PageSize, skylakeTlb, WalkEntry } from '@hvsim/tlb-tagged';
import { SvmExtension } from '@hvsim/vendor-amd';
import { GuestOs, type WorkloadName, workloads } from '../src/index.js';

const MEMORY = 256 * 2 ** 20;
const ACCESSES = 20_000;
const caches: CpuCacheConfig = {
  tlb: skylakeTlb.config,
  walkCache: {
    levels: [
      { kind: WalkEntry.Pde, entries: 32, ways: 4 },
      { kind: WalkEntry.Pdpte, entries: 4, ways: 4 },
      { kind: WalkEntry.Pml4e, entries: 2, ways: 2 },
    ],
  },
  nestedTlb: {
    name: 'nested TLB (assumed)',
    entries: 32,
    ways: 4,
    pageSizes: [PageSize.Size4K, PageSize.Size2M],
  },
};

function platform(kind: 'native' | 'nested' | 'shadow'): readonly GuestCpu[] {
  if (kind === 'native') return new NativeMachine({ cpus: 2, caches }).cpus;
  const host = new HostMachine({ extension: new SvmExtension(), cpus: 2, caches });
  const vm = host.createVm({ memorySize: MEMORY, paging: kind });
  return host.cpus.map((cpu) => {
    const vcpu = vm.createVcpu();
    vcpu.run(cpu);
    return vcpu;
  });
}

function run(name: WorkloadName, kind: 'native' | 'nested' | 'shadow') {
  let seed = 0;
  return {
    name: `${name}, ${kind === 'native' ? 'native' : kind === 'nested' ? 'AMD NPT' : 'AMD shadow paging'}`,
    ops: ACCESSES,
    fn: () => {
      const os = new GuestOs({ cpus: platform(kind), memoryBytes: MEMORY });
      workloads[name].run(os, { seed: ++seed, accesses: ACCESSES, workingSetBytes: 4 * 2 ** 20 });
    },
  };
}

for (const name of ['process-churn', 'uniform'] as const) {
  await compareToBaseline(
    `${name}: guest accesses per second (2 CPUs, 4-level paging)`,
    run(name, 'native'),
    [run(name, 'nested'), run(name, 'shadow')],
  );
}
