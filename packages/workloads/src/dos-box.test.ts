import { AccessKind, PagingMode, PteFlag, Segment } from '@hvsim/cpu-core';
import { TranslateStatus } from '@hvsim/mmu-nested';
import { NativeMachine } from '@hvsim/platform';
import { skylakeTlb } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { DosBox, EMS_FRAME_SEGMENT } from './dos-box.js';
import { GuestOs } from './guest-os.js';

function setup(pagingMode: PagingMode = PagingMode.Legacy32, cpus = 1) {
  const machine = new NativeMachine({ cpus, caches: { tlb: skylakeTlb.config } });
  const os = new GuestOs({ cpus: machine.cpus, memoryBytes: 32 * 2 ** 20, pagingMode });
  const box = new DosBox(os, { emsPages: 16 });
  box.enter(0);
  return { machine, os, box, cpu: machine.cpus[0] as (typeof machine.cpus)[number] };
}

describe('DosBox', () => {
  it('runs as a virtual-8086 task at CPL 3 under 32-bit paging (SDM vol. 3A §20.2)', () => {
    const { cpu } = setup();
    expect(cpu.state.virtual8086).toBe(true);
    expect(cpu.state.effectiveCpl).toBe(3);
    expect(cpu.state.mode).toBe(PagingMode.Legacy32);
  });

  it('addresses linear = segment × 16 + offset, then pages it (SDM vol. 3A §20.1.1)', () => {
    const { os, box } = setup();
    // 1234:5678 -> 0x12340 + 0x5678 = 0x179B8; 179B:0008 -> 0x179B0 + 8, the same byte.
    expect(box.access(0, Segment.DS, 0x1234, 0x5678, AccessKind.Write)).toBe(TranslateStatus.Ok);
    const gpa = os.lastGuestPhysical;
    expect(gpa).toBe(os.translate(box.process, 0x179b8));
    expect(gpa % 4096).toBe(0x9b8);
    box.access(0, Segment.ES, 0x179b, 0x0008, AccessKind.Read);
    expect(os.lastGuestPhysical).toBe(gpa);
    // Conventional memory was mapped when the box was made: no fault.
    expect(os.counters.pageFaults).toBe(0);
  });

  it('reaches the HMA at FFFF:0010 with A20 on; with A20 off the page tables translate it and physical bit 20 is cleared', () => {
    const { os, box, cpu } = setup();
    box.access(0, Segment.DS, 0xffff, 0x0010, AccessKind.Read);
    const hma = os.translate(box.process, 0x10_0000);
    expect(os.lastGuestPhysical).toBe(hma);
    // The A20 gate masks the physical address after translation, not the linear one (SDM vol. 3A
    // §20.1.1): linear 0x100000 still goes where the task's tables map it.
    cpu.state.a20Enabled = false;
    box.access(0, Segment.DS, 0xffff, 0x0010, AccessKind.Read);
    expect(os.lastGuestPhysical).toBe(hma - (hma & 0x10_0000));
    expect(os.lastGuestPhysical).not.toBe(os.translate(box.process, 0));
  });

  for (const [name, mode] of [
    ['32-bit', PagingMode.Legacy32],
    ['PAE', PagingMode.Pae],
  ] as const) {
    it(`banks EMS pages by rewriting the frame's PTEs and INVLPG, so the next access sees the new bank (${name} paging)`, () => {
      const { os, box } = setup(mode);
      // Logical page 5 at physical page 1: E000:4123 is 0xE4123, page 0 of the 16 KiB bank, offset 0x123.
      box.mapPage(1, 5);
      expect(box.access(0, Segment.ES, EMS_FRAME_SEGMENT, 0x4123, AccessKind.Read)).toBe(TranslateStatus.Ok);
      expect(os.lastGuestPhysical).toBe(box.emsFrame(5, 0) + 0x123);
      box.access(0, Segment.ES, EMS_FRAME_SEGMENT, 0x7fff, AccessKind.Write);
      expect(os.lastGuestPhysical).toBe(box.emsFrame(5, 3) + 0xfff);
      const invlpgs = os.counters.invlpgs;
      box.mapPage(1, 9);
      // Four PTEs rewritten, four INVLPGs; the TLB entries of bank 5 do not survive.
      expect(os.counters.invlpgs - invlpgs).toBe(4);
      box.access(0, Segment.ES, EMS_FRAME_SEGMENT, 0x4123, AccessKind.Read);
      expect(os.lastGuestPhysical).toBe(box.emsFrame(9, 0) + 0x123);
      box.access(0, Segment.ES, EMS_FRAME_SEGMENT, 0x7fff, AccessKind.Read);
      expect(os.lastGuestPhysical).toBe(box.emsFrame(9, 3) + 0xfff);
      // The PTE of 0xE4000 now holds bank 9's first frame, present, user, writable.
      const entry = box.process.tables.entryAddress(0xe4000, 1) as number;
      const pte = os.memory.readWord(entry);
      expect((pte & 0xffff_f000) >>> 0).toBe(box.emsFrame(9, 0));
      expect(pte & (PteFlag.P | PteFlag.RW | PteFlag.US)).toBe(PteFlag.P | PteFlag.RW | PteFlag.US);
      // Physical page 0 still shows logical page 0.
      box.access(0, Segment.ES, EMS_FRAME_SEGMENT, 0x0010, AccessKind.Read);
      expect(os.lastGuestPhysical).toBe(box.emsFrame(0, 0) + 0x10);
    });
  }

  it('keeps boxes apart: each has its own tables, switched by MOV CR3', () => {
    const { os, box } = setup();
    const other = new DosBox(os, { emsPages: 8 });
    box.access(0, Segment.DS, 0x2000, 0, AccessKind.Read);
    const first = os.lastGuestPhysical;
    other.enter(0);
    other.access(0, Segment.DS, 0x2000, 0, AccessKind.Read);
    expect(os.lastGuestPhysical).not.toBe(first);
    expect(os.lastGuestPhysical).toBe(os.translate(other.process, 0x20000));
    other.access(0, Segment.ES, EMS_FRAME_SEGMENT, 0, AccessKind.Read);
    expect(os.lastGuestPhysical).toBe(other.emsFrame(0, 0));
  });

  it('frees its EMS pool and tables when closed', () => {
    const machine = new NativeMachine();
    const os = new GuestOs({
      cpus: machine.cpus,
      memoryBytes: 32 * 2 ** 20,
      pagingMode: PagingMode.Legacy32,
    });
    const before = os.counters.framesInUse;
    const box = new DosBox(os, { emsPages: 8 });
    box.enter(0);
    box.mapPage(2, 7);
    box.close();
    expect(os.counters.framesInUse).toBe(before);
  });

  it('refuses long mode and bad EMS pages', () => {
    const machine = new NativeMachine();
    expect(() => new DosBox(new GuestOs({ cpus: machine.cpus }))).toThrow(/long mode/);
    const { box } = setup();
    expect(() => box.mapPage(4, 0)).toThrow(/physical page 4/);
    expect(() => box.mapPage(0, 16)).toThrow(/logical page 16/);
  });
});
