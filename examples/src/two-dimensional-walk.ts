/**
 * The same guest translated under AMD nested paging and Intel EPT: a 4-level guest over 4-level
 * nested tables makes 24 memory references on a TLB miss. Prints each reference of the walk.
 */
import {
  AccessKind,
  CpuState,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  PageTableBuilder,
  PagingMode,
  PhysicalMemory,
  Privilege,
  WalkTrace,
} from '@hvsim/cpu-core';
import { type MmuStrategy, NestedMmu, TranslateStatus, Translation } from '@hvsim/mmu-nested';
import { NptStage } from '@hvsim/vendor-amd';
import { EptBuilder, EptStage } from '@hvsim/vendor-intel';

const GUEST_LINEAR = 0x7f00_1234_5000;
const GUEST_DATA = 0x80_0000; // guest-physical
const HOST_OFFSET = 0x1_0000_0000; // the hypervisor backs guest-physical X with host-physical X + 4 GiB

/** Builds a guest (4-level tables in guest-physical memory) and returns its state and the pages to back. */
function buildGuest(memory: PhysicalMemory) {
  const guestFrames = new FrameAllocator(0x10_0000, 0x20_0000);
  // Guest tables live in guest-physical memory, which sits at host-physical + HOST_OFFSET.
  const view = new PageTableBuilder(memory, PagingMode.Level4, () => guestFrames.allocate() + HOST_OFFSET);
  view.map(GUEST_LINEAR, GUEST_DATA + HOST_OFFSET);
  // The builder wrote host-physical addresses into the entries; rewrite them as guest-physical.
  const pages: number[] = [];
  for (let hpa = 0x10_0000 + HOST_OFFSET; hpa < guestFrames.watermark + HOST_OFFSET; hpa += 0x1000) {
    for (let i = 0; i < 512; i++) {
      const lo = memory.readWord(hpa + i * 8);
      const hi = memory.readWord(hpa + i * 8 + 4);
      if ((lo & 1) === 0) continue;
      const target = hi * 2 ** 32 + (lo & 0xffff_f000) - HOST_OFFSET;
      memory.writeEntry(hpa + i * 8, (target % 2 ** 32) + (lo & 0xfff), Math.floor(target / 2 ** 32));
    }
    pages.push(hpa - HOST_OFFSET);
  }
  pages.push(GUEST_DATA);
  const cpu = new CpuState();
  cpu.setControlRegisters({
    cr0: Cr0.PE | Cr0.PG,
    cr3: view.root - HOST_OFFSET,
    cr4: Cr4.PAE,
    efer: Efer.LME | Efer.NXE,
  });
  return { cpu, pages };
}

function describe(mmu: MmuStrategy): string[] {
  const trace = new WalkTrace();
  mmu.trace = trace;
  const out = new Translation();
  mmu.translate(
    GUEST_LINEAR % 2 ** 32,
    Math.floor(GUEST_LINEAR / 2 ** 32),
    AccessKind.Read,
    Privilege.User,
    out,
  );
  const lines = [
    out.status === TranslateStatus.Ok
      ? `  guest-linear 0x${GUEST_LINEAR.toString(16)} -> guest-physical 0x${out.guestPhysical.toString(16)} -> host-physical 0x${out.hostPhysical.toString(16)}`
      : `  fault (status ${out.status})`,
    `  ${out.references} memory references:`,
  ];
  for (let i = 0; i < trace.count; i++) {
    const stage = trace.stage[i] === 0 ? 'guest ' : 'nested';
    lines.push(
      `    ${String(i + 1).padStart(2)}. ${stage} L${trace.level[i]} @ 0x${trace.address[i].toString(16)}`,
    );
  }
  return lines;
}

export function twoDimensionalWalk(): string[] {
  const lines: string[] = [];
  {
    const memory = new PhysicalMemory();
    const { cpu, pages } = buildGuest(memory);
    const hostFrames = new FrameAllocator(0x4000_0000, 0x4100_0000);
    const npt = new PageTableBuilder(memory, PagingMode.Level4, () => hostFrames.allocate());
    for (const gpa of pages) npt.map(gpa, gpa + HOST_OFFSET);
    lines.push(
      'AMD nested paging (NPT):',
      ...describe(new NestedMmu(memory, cpu, new NptStage(memory, { nestedCr3: npt.root }))),
    );
  }
  {
    const memory = new PhysicalMemory();
    const { cpu, pages } = buildGuest(memory);
    const hostFrames = new FrameAllocator(0x4000_0000, 0x4100_0000);
    const ept = new EptBuilder(memory, () => hostFrames.allocate());
    for (const gpa of pages) ept.map(gpa, gpa + HOST_OFFSET);
    lines.push(
      'Intel EPT:',
      ...describe(new NestedMmu(memory, cpu, new EptStage(memory, { eptp: ept.eptp(true) }))),
    );
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(twoDimensionalWalk().join('\n'));
