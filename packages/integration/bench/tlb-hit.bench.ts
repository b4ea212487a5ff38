/**
 * A first-level TLB hit through the whole stack against `TlbHierarchy.lookup` alone (issue 13: within
 * 3x). Every case touches the same 32 warm pages of a 4-level guest, which the Skylake L1 DTLB (64
 * entries) holds, so every access after the fill is an L1 hit: the baseline does only the lookup;
 * the cases go through `GuestCpu.access` on bare metal, AMD NPT, Intel EPT and shadow paging.
 *
 * Run: pnpm --filter @hvsim/integration bench
 */
import { AccessKind, Cr0, Cr4, Efer, FrameAllocator, PageTableBuilder, PagingMode } from '@hvsim/cpu-core';
import { HostMachine, type VirtualizationExtension } from '@hvsim/hypervisor';
import { GuestAccess, type GuestCpu, NativeMachine } from '@hvsim/platform';
import { compareToBaseline } from '@hvsim/test-utils';
import { skylakeTlb, TagTable, TlbHierarchy } from '@hvsim/tlb-tagged';
import { SvmExtension } from '@hvsim/vendor-amd';
import { VmxExtension } from '@hvsim/vendor-intel';

const PAGES = 32;
const BASE = 0x10_0000_0000;
const caches = { tlb: skylakeTlb.config };

function guest(cpu: GuestCpu): () => void {
  const memory = {
    readWord: (a: number) => cpu.readPhysical(a),
    writeWord: (a: number, v: number) => cpu.writePhysical(a, v),
  };
  const frames = new FrameAllocator(0x10_0000, 0x80_0000);
  const tables = new PageTableBuilder(memory, PagingMode.Level4, () => frames.allocate());
  for (let i = 0; i < PAGES; i++) tables.map(BASE + i * 0x1000, 0x100_0000 + i * 0x1000);
  cpu.setControlRegisters({ cr0: Cr0.PE | Cr0.PG, cr3: tables.root, cr4: Cr4.PAE, efer: Efer.LME });
  const out = new GuestAccess();
  const run = () => {
    for (let i = 0; i < PAGES; i++) cpu.access(BASE + i * 0x1000 + 8, AccessKind.Read, out);
  };
  run(); // fill: back every page, fill every shadow entry and TLB entry
  run();
  if (!out.translation.tlbHit || out.translation.tlbLevel !== 0) throw new Error('expected an L1 TLB hit');
  return run;
}

function hosted(extension: VirtualizationExtension, paging: 'nested' | 'shadow'): () => void {
  const host = new HostMachine({ extension, caches });
  const vcpu = host.createVm({ memorySize: 0x200_0000, paging }).createVcpu();
  vcpu.run(host.cpus[0]);
  return guest(vcpu);
}

function lookupAlone(): () => void {
  const tags = new TagTable();
  const tlb = new TlbHierarchy(skylakeTlb.config, tags);
  const ctx = tags.context(1, 0);
  const vpn0 = BASE / 0x1000;
  for (let i = 0; i < PAGES; i++)
    tlb.fill(ctx, vpn0 + i, AccessKind.Read, 0x1000, 0x100_0000 + i * 0x1000, 0xff);
  let sink = 0;
  return () => {
    for (let i = 0; i < PAGES; i++) sink += tlb.lookup(ctx, vpn0 + i, AccessKind.Read, 0);
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
    { name: 'AMD NPT', ops: PAGES, fn: hosted(new SvmExtension(), 'nested') },
    { name: 'Intel EPT', ops: PAGES, fn: hosted(new VmxExtension(), 'nested') },
    { name: 'AMD shadow', ops: PAGES, fn: hosted(new SvmExtension(), 'shadow') },
    { name: 'Intel shadow', ops: PAGES, fn: hosted(new VmxExtension(), 'shadow') },
  ],
);
