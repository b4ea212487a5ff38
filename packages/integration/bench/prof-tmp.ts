import { AccessKind } from '@hvsim/cpu-core';
import { NativeMachine } from '@hvsim/platform';
import { skylakeTlb } from '@hvsim/tlb-tagged';
import { SvmExtension } from '@hvsim/vendor-amd';
import { hostedVcpu, longModeGuest } from './long-mode-guest.js';

const caches = { tlb: skylakeTlb.config };
const which = process.argv[2] ?? 'native';
const cpu =
  which === 'native'
    ? new NativeMachine({ caches }).cpus[0]
    : hostedVcpu(new SvmExtension(), which as 'nested', caches);
const { run } = longModeGuest(cpu, {
  pages: 32,
  stride: 1,
  base: 0x10_0000_0000,
  access: AccessKind.Read,
  offset: 8,
});
const t0 = performance.now();
for (let i = 0; i < 2_000_000; i++) run();
console.log(which, (64e6 / (performance.now() - t0) / 1000).toFixed(1), 'M/s');
