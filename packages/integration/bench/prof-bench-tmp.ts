/**
 * A first-level TLB hit through the whole stack against `TlbHierarchy.lookup` alone (issue 13: within
 * 3x). Every case touches the same 32 warm pages of a 4-level guest, which the Skylake L1 DTLB (64
 * entries) holds, so every access after the fill is an L1 hit: the baseline does only the lookup;
 * the cases go through `GuestCpu.access` on bare metal, AMD NPT, Intel EPT and shadow paging.
 *
 * Run: pnpm --filter @hvsim/integration bench
 */
import { AccessKind } from '@hvsim/cpu-core';
import type { VirtualizationExtension } from '@hvsim/hypervisor';
import { type GuestCpu, NativeMachine } from '@hvsim/platform';
import { compareToBaseline } from '@hvsim/test-utils';
import { skylakeTlb, TagTable, TlbHierarchy } from '@hvsim/tlb-tagged';
import { SvmExtension } from '@hvsim/vendor-amd';
import { VmxExtension } from '@hvsim/vendor-intel';
import { hostedVcpu, longModeGuest } from './long-mode-guest.js';

const PAGES = 32;
const BASE = 0x10_0000_0000;
const caches = { tlb: skylakeTlb.config };

/** Reads 32 consecutive pages; after the fill and one more pass every access is an L1 TLB hit. */
function guest(cpu: GuestCpu): () => void {
  const { run, out } = longModeGuest(cpu, {
    pages: PAGES,
    stride: 1,
    base: BASE,
    access: AccessKind.Read,
    offset: 8,
  });
  run();
  if (!out.translation.tlbHit || out.translation.tlbLevel !== 0) throw new Error('expected an L1 TLB hit');
  return run;
}

function hosted(extension: VirtualizationExtension, paging: 'nested' | 'shadow'): () => void {
  return guest(hostedVcpu(extension, paging, caches));
}

function lookupAlone(): () => void {
  const tags = new TagTable();
  const tlb = new TlbHierarchy(skylakeTlb.config, tags);
  const ctx = tags.context(1, 0);
  const vpn0 = BASE / 0x1000;
  for (let i = 0; i < PAGES; i++)
    tlb.fill(ctx, vpn0 + i, AccessKind.Read, 0x1000, 0x100_0000 + i * 0x1000, 0xff);
  // Compiled from its own source text like the guests' loops (long-mode-guest.ts): the same loop
  // shape, one call per page, with nothing but the lookup in the body.
  const loop = new Function(
    'tlb',
    'ctx',
    'vpn0',
    'pages',
    'read',
    `// lookup loop
    return function lookupLoop() {
      let sum = 0;
      for (let i = 0; i < pages; i++) sum += tlb.lookup(ctx, vpn0 + i, read, 0);
      return sum;
    };`,
  )(tlb, ctx, vpn0, PAGES, AccessKind.Read) as () => number;
  let sink = 0;
  return () => {
    sink += loop();
    if (sink === -1) throw new Error('unreachable');
  };
}

await compareToBaseline(
  `a first-level TLB hit, ${PAGES} warm pages (Skylake TLBs)`,
  {
    name: 'TlbHierarchy.lookup alone',
    ops: PAGES,
    fn: lookupAlone(),
  },
  [
    { name: 'native GuestCpu.access', ops: PAGES, fn: guest(new NativeMachine({ caches }).cpus[0]) },
    ...(process.argv[2] === 'native'
      ? []
      : [
          { name: 'AMD NPT', ops: PAGES, fn: hosted(new SvmExtension(), 'nested') },
          { name: 'Intel EPT', ops: PAGES, fn: hosted(new VmxExtension(), 'nested') },
          { name: 'AMD shadow', ops: PAGES, fn: hosted(new SvmExtension(), 'shadow') },
          { name: 'Intel shadow', ops: PAGES, fn: hosted(new VmxExtension(), 'shadow') },
        ]),
  ],
);
