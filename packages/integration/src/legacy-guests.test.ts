import {
  AccessKind,
  Cr0,
  FrameAllocator,
  PageTableBuilder,
  PagingMode,
  PfError,
  PteFlag,
  Rflags,
  Segment,
} from '@hvsim/cpu-core';
import { TranslateStatus } from '@hvsim/mmu-nested';
import { accessSegmented, GuestAccess, type GuestCpu } from '@hvsim/platform';
import { describe, expect, it } from 'vitest';
import { platforms } from './platforms.test-helper.js';

/*
 * Legacy guests on every platform. Real mode: linear = selector × 16 + offset, wrapped at 1 MiB with
 * A20 off (SDM vol. 3A §20.1.1), physical = linear; shadow paging runs it on a shadow table mapping
 * guest-physical memory (AMD paged real mode, APM vol. 2 §15.19), nested paging with the guest's paging
 * off through the nested tables (APM vol. 2 §15.25.5; Intel's unrestricted guest, SDM vol. 3C §25.6 in the 2016 edition).
 * Virtual-8086 mode: a 32-bit kernel with paging runs a DOS task at CPL 3 (SDM vol. 3A §20.2): its
 * accesses are user accesses through the kernel's tables.
 */

function outcome(
  cpu: GuestCpu,
  segment: Segment,
  selector: number,
  offset: number,
  kind: AccessKind,
): string {
  const out = new GuestAccess();
  cpu.state.loadSegmentReal(segment, selector);
  const status = accessSegmented(cpu, segment, offset, kind, out);
  if (status === TranslateStatus.Ok) return `ok ${out.translation.guestPhysical.toString(16)}`;
  if (status === TranslateStatus.PageFault)
    return `#PF ${out.translation.errorCode} cr2 ${cpu.state.cr2Lo.toString(16)}`;
  return `status ${status}`;
}

describe('real mode on every platform', () => {
  it('reaches selector x 16 + offset, with the 1 MiB wrap when A20 is off', () => {
    for (const { name, cpu } of platforms(true)) {
      expect(cpu.setControlRegisters({ cr0: 0, cr3: 0, cr4: 0, efer: 0 }), name).toBe(TranslateStatus.Ok);
      expect(cpu.state.realMode).toBe(true);
      const seen = [
        outcome(cpu, Segment.DS, 0x1234, 0x10, AccessKind.Read),
        outcome(cpu, Segment.CS, 0xf000, 0xfff0, AccessKind.Execute),
        // FFFF:0010 is 0x100000 with A20 on ...
        outcome(cpu, Segment.ES, 0xffff, 0x10, AccessKind.Write),
      ];
      cpu.state.a20Enabled = false;
      // ... and wraps to 0 with A20 off (the 8086's 20-bit address).
      seen.push(outcome(cpu, Segment.ES, 0xffff, 0x10, AccessKind.Write));
      cpu.state.a20Enabled = true;
      expect({ name, seen }).toEqual({ name, seen: ['ok 12350', 'ok ffff0', 'ok 100000', 'ok 0'] });
    }
  });
});

describe('virtual-8086 mode on every platform', () => {
  it('a DOS task at CPL 3 translates through the kernel tables as user accesses', () => {
    for (const { name, cpu } of platforms(true)) {
      const memory = {
        readWord: (a: number) => cpu.readPhysical(a),
        writeWord: (a: number, v: number) => cpu.writePhysical(a, v),
      };
      const frames = new FrameAllocator(0x10_0000, 0x20_0000);
      const tables = new PageTableBuilder(memory, PagingMode.Legacy32, () => frames.allocate());
      // The task's first megabyte lives at 0x40_0000 + linear, user writable...
      for (let page = 0; page < 0x100; page++) tables.map(page * 0x1000, 0x40_0000 + page * 0x1000);
      // ...except its BIOS area, read-only, and one page the kernel keeps for itself.
      for (let page = 0xf0; page < 0x100; page++)
        tables.map(page * 0x1000, 0x40_0000 + page * 0x1000, { flags: PteFlag.P | PteFlag.US });
      tables.map(0xb8000, 0x40_0000 + 0xb8000, { flags: PteFlag.P | PteFlag.RW });
      const status = cpu.setControlRegisters({
        cr0: Cr0.PE | Cr0.PG | Cr0.WP,
        cr3: tables.root,
        cr4: 0,
        efer: 0,
        rflags: Rflags.FIXED | Rflags.VM,
      });
      expect(status, name).toBe(TranslateStatus.Ok);
      expect(cpu.state.effectiveCpl).toBe(3);
      const seen = [
        outcome(cpu, Segment.DS, 0x1000, 0x234, AccessKind.Write),
        outcome(cpu, Segment.CS, 0xf000, 0x100, AccessKind.Execute),
        outcome(cpu, Segment.ES, 0xf000, 0x100, AccessKind.Write),
        outcome(cpu, Segment.ES, 0xb800, 0x0, AccessKind.Read),
        // 0xFFFF:0x0010 = 0x100000 (A20 on): above the task's megabyte, not mapped.
        outcome(cpu, Segment.SS, 0xffff, 0x10, AccessKind.Read),
      ];
      expect({ name, seen }).toEqual({
        name,
        seen: [
          'ok 410234',
          'ok 4f0100',
          // Read-only page, user write: P | W | U (SDM vol. 3A §4.7).
          `#PF ${PfError.P | PfError.W | PfError.U} cr2 f0100`,
          // Supervisor page, user read: P | U.
          `#PF ${PfError.P | PfError.U} cr2 b8000`,
          // Not present, user read: U.
          `#PF ${PfError.U} cr2 100000`,
        ],
      });
    }
  });
});

describe('readPhysicalPage on every platform', () => {
  it('copies what 1024 readPhysical calls read', () => {
    for (const { name, cpu } of platforms(true)) {
      cpu.writePhysical(0x30_0000, 0x1234_5678);
      cpu.writePhysical(0x30_0ffc, 0x9abc_def0);
      const into = new Uint32Array(1024).fill(1);
      cpu.readPhysicalPage?.(0x30_0800, into);
      const words = Array.from({ length: 1024 }, (_, w) => cpu.readPhysical(0x30_0000 + w * 4));
      expect({ name, words: [...into] }).toEqual({ name, words });
      expect(into[0]).toBe(0x1234_5678);
    }
  });
});
