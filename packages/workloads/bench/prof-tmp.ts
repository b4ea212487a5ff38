import { HostMachine } from '@hvsim/hypervisor';
import { type CpuCacheConfig, PageSize, skylakeTlb, WalkEntry } from '@hvsim/tlb-tagged';
import { SvmExtension } from '@hvsim/vendor-amd';
import { GuestOs, workloads } from '../src/index.js';

const caches: CpuCacheConfig = {
  tlb: skylakeTlb.config,
  walkCache: {
    levels: [
      { kind: WalkEntry.Pde, entries: 32, ways: 4 },
      { kind: WalkEntry.Pdpte, entries: 4, ways: 4 },
      { kind: WalkEntry.Pml4e, entries: 2, ways: 2 },
    ],
  },
  nestedTlb: { name: 'n', entries: 32, ways: 4, pageSizes: [PageSize.Size4K, PageSize.Size2M] },
};
const t0 = performance.now();
let n = 0;
for (let seed = 1; seed <= 40; seed++) {
  const host = new HostMachine({ extension: new SvmExtension(), cpus: 2, caches });
  const vm = host.createVm({ memorySize: 256 * 2 ** 20, paging: 'shadow' });
  const cpus = host.cpus.map((cpu) => {
    const v = vm.createVcpu();
    v.run(cpu);
    return v;
  });
  const os = new GuestOs({ cpus, memoryBytes: 256 * 2 ** 20 });
  workloads['process-churn'].run(os, { seed, accesses: 20_000, workingSetBytes: 4 * 2 ** 20 });
  n += 20_000;
}
console.log('shadow churn', Math.round(n / ((performance.now() - t0) / 1000)), 'acc/s');
