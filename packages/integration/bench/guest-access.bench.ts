/**
 * Guest accesses per second through the `GuestCpu` seam, one warm working set of 1024 pages of a
 * 4-level guest, every access a TLB miss (no TLB): bare metal (a 4-reference walk), shadow paging (a
 * 4-reference walk of the shadow tables, every shadow entry filled beforehand) and nested paging (a
 * 24-reference two-dimensional walk), AMD and Intel. The ratios show what the seam and each strategy
 * cost per access once the exits are behind; the exits themselves are counted, not timed (see the
 * hypervisor README).
 */
import { AccessKind, Cr0, Cr4, Efer, FrameAllocator, PageTableBuilder, PagingMode } from '@hvsim/cpu-core';
import { HostMachine, type VirtualizationExtension } from '@hvsim/hypervisor';
import { GuestAccess, type GuestCpu, NativeMachine } from '@hvsim/platform';
import { compareToBaseline } from '@hvsim/test-utils';
import { SvmExtension } from '@hvsim/vendor-amd';
import { VmxExtension } from '@hvsim/vendor-intel';

const PAGES = 1024;
const BASE = 0x10_0000_0000;

function guest(cpu: GuestCpu): () => void {
  const memory = {
    readWord: (a: number) => cpu.readPhysical(a),
    writeWord: (a: number, v: number) => cpu.writePhysical(a, v),
  };
  const frames = new FrameAllocator(0x10_0000, 0x80_0000);
  const tables = new PageTableBuilder(memory, PagingMode.Level4, () => frames.allocate());
  for (let i = 0; i < PAGES; i++) tables.map(BASE + i * 0x1000 * 17, 0x100_0000 + i * 0x1000);
  cpu.setControlRegisters({
    cr0: Cr0.PE | Cr0.PG,
    cr3: tables.root,
    cr4: Cr4.PAE,
    efer: Efer.LME | Efer.NXE,
  });
  const out = new GuestAccess();
  const run = () => {
    for (let i = 0; i < PAGES; i++) cpu.access(BASE + i * 0x1000 * 17, AccessKind.Write, out);
  };
  run(); // fill: back every page, set every dirty bit, fill every shadow entry
  return run;
}

function hosted(extension: VirtualizationExtension, paging: 'nested' | 'shadow'): () => void {
  const host = new HostMachine({ extension });
  const vcpu = host.createVm({ memorySize: 0x200_0000, paging }).createVcpu();
  vcpu.run(host.cpus[0]);
  return guest(vcpu);
}

await compareToBaseline(
  `GuestCpu.access, ${PAGES} warm pages, no TLB (a walk per access)`,
  { name: 'native (4 references)', ops: PAGES, fn: guest(new NativeMachine().cpus[0]) },
  [
    { name: 'AMD shadow (4 references)', ops: PAGES, fn: hosted(new SvmExtension(), 'shadow') },
    { name: 'Intel shadow (4 references)', ops: PAGES, fn: hosted(new VmxExtension(), 'shadow') },
    { name: 'AMD NPT (24 references)', ops: PAGES, fn: hosted(new SvmExtension(), 'nested') },
    { name: 'Intel EPT (24 references)', ops: PAGES, fn: hosted(new VmxExtension(), 'nested') },
  ],
);
