import {
  AccessKind,
  Cr0,
  Cr4,
  Efer,
  PageTableBuilder,
  PagingMode,
  PfError,
  Privilege,
} from '@hvsim/cpu-core';
import { TranslateStatus } from '@hvsim/mmu-nested';
import { skylakeTlb } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { GuestAccess } from './guest-cpu.js';
import { NativeMachine } from './native-machine.js';

const LONG = { cr0: Cr0.PE | Cr0.PG, cr4: Cr4.PAE, efer: Efer.LME };

function setup(cpus = 1) {
  const machine = new NativeMachine({ cpus, caches: { tlb: skylakeTlb.config } });
  let next = 0x10_0000;
  const tables = new PageTableBuilder(machine.memory, PagingMode.Level4, () => {
    const f = next;
    next += 0x1000;
    return f;
  });
  for (const cpu of machine.cpus) cpu.setControlRegisters({ ...LONG, cr3: tables.root });
  return { machine, tables, cpu: machine.cpus[0] };
}

describe('NativeCpu', () => {
  it('translates through the guest tables and sets A and D as the walker does (SDM vol. 3A §4.8)', () => {
    const { machine, tables, cpu } = setup();
    tables.map(0x40_0000, 0x80_0000);
    const out = new GuestAccess();
    expect(cpu.access(0x40_0123, AccessKind.Write, out)).toBe(TranslateStatus.Ok);
    expect(out.translation.guestPhysical).toBe(0x80_0123);
    const pte = tables.entryAddress(0x40_0000, 1) as number;
    // A (bit 5) and D (bit 6) set on the leaf by a write.
    expect(machine.memory.readWord(pte) & 0x60).toBe(0x60);
    expect(machine.stats.walks).toBe(1);
    cpu.access(0x40_0456, AccessKind.Read, out);
    expect(out.translation.tlbHit).toBe(true);
  });

  it('charges a TLB hit the latency of the level that served it (costs.tlbHit by level)', () => {
    const { machine, tables, cpu } = setup();
    // Eight pages 64 KiB apart: the same set of the 16-set, 4-way L1 DTLB, eight different sets of
    // the 128-set STLB (the Skylake preset). Touching all eight pushes the first out of the L1 only.
    for (let k = 0; k < 8; k++) tables.map(0x40_0000 + k * 0x1_0000, 0x80_0000 + k * 0x1000);
    const out = new GuestAccess();
    for (let k = 0; k < 8; k++) cpu.access(0x40_0000 + k * 0x1_0000, AccessKind.Read, out);
    const before = machine.stats.cycles;
    cpu.access(0x40_0000, AccessKind.Read, out);
    expect(out.translation.tlbHit).toBe(true);
    expect(out.translation.tlbLevel).toBe(1);
    expect(machine.stats.cycles - before).toBe(machine.costs.tlbHit[1]);
    // Promoted to the L1 by that hit: the next one costs the first level's latency.
    const again = machine.stats.cycles;
    cpu.access(0x40_0000, AccessKind.Read, out);
    expect(out.translation.tlbLevel).toBe(0);
    expect(machine.stats.cycles - again).toBe(machine.costs.tlbHit[0]);
  });

  it('reports a #PF with its error code and loads CR2 (SDM vol. 3A §4.7)', () => {
    const { cpu } = setup();
    const out = new GuestAccess();
    expect(cpu.access(0x1234_5678, AccessKind.Write, out, Privilege.User)).toBe(TranslateStatus.PageFault);
    // Not present (P=0), a write (W/R=1), from user mode (U/S=1).
    expect(out.translation.errorCode).toBe(PfError.W | PfError.U);
    expect(cpu.state.cr2Lo).toBe(0x1234_5678);
  });

  it('keeps a stale translation until INVLPG, and MOV CR3 flushes non-global ones (SDM vol. 3A §4.10.4)', () => {
    const { tables, cpu } = setup();
    tables.map(0x40_0000, 0x80_0000);
    const out = new GuestAccess();
    cpu.access(0x40_0000, AccessKind.Read, out);
    tables.unmap(0x40_0000);
    // The TLB may hold the old translation until it is invalidated.
    expect(cpu.access(0x40_0000, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
    cpu.invlpg(0x40_0000);
    expect(cpu.access(0x40_0000, AccessKind.Read, out)).toBe(TranslateStatus.PageFault);
    tables.map(0x40_0000, 0x90_0000);
    cpu.access(0x40_0000, AccessKind.Read, out);
    tables.unmap(0x40_0000);
    expect(cpu.writeCr3(cpu.state.cr3)).toBe(TranslateStatus.Ok);
    expect(cpu.access(0x40_0000, AccessKind.Read, out)).toBe(TranslateStatus.PageFault);
  });

  it('shoots a page down on every CPU with one IPI per other CPU', () => {
    const { machine, tables } = setup(3);
    tables.map(0x40_0000, 0x80_0000);
    const out = new GuestAccess();
    for (const cpu of machine.cpus) cpu.access(0x40_0000, AccessKind.Read, out);
    tables.unmap(0x40_0000);
    machine.cpus[1].shootdown(0x40_0000);
    expect(machine.stats.ipis).toBe(2);
    for (const cpu of machine.cpus)
      expect(cpu.access(0x40_0000, AccessKind.Read, out)).toBe(TranslateStatus.PageFault);
  });

  it('refuses a PAE CR3 whose PDPT has a reserved bit set, leaving CR3 unchanged (SDM vol. 3A §4.4.1)', () => {
    const machine = new NativeMachine();
    const cpu = machine.cpus[0];
    // PDPTE 0 present with bit 1 set: bits 2:1 are reserved in a PAE PDPTE.
    machine.memory.writeWord(0x2000, 0x3003);
    expect(cpu.setControlRegisters({ cr0: Cr0.PE | Cr0.PG, cr3: 0x1000, cr4: Cr4.PAE, efer: 0 })).toBe(
      TranslateStatus.Ok,
    );
    expect(cpu.writeCr3(0x2000)).toBe(TranslateStatus.GeneralProtection);
    expect(cpu.state.cr3).toBe(0x1000);
  });
});

describe('the A20 gate on bare metal', () => {
  // A20M# masks physical address bit 20 of every memory access after translation, page-table reads
  // included (SDM vol. 3A §20.1.1); the linear address is not changed.
  function legacy() {
    const machine = new NativeMachine({ caches: { tlb: skylakeTlb.config } });
    const m = machine.memory;
    // CR3 in the odd megabyte: with A20 on its PDE is not present; with A20 off the walk reads the
    // PDE at 0x1000 instead, whose PT maps linear 0x40_0000 to 0x30_5000.
    m.writeWord(0x1000 + 1 * 4, 0x2000 | 0x3);
    m.writeWord(0x2000, 0x30_5000 | 0x3);
    const cpu = machine.cpus[0];
    cpu.setControlRegisters({ cr0: Cr0.PE | Cr0.PG, cr3: 0x10_1000, cr4: 0, efer: 0 });
    return cpu;
  }

  it('reads the tables and reaches the page with bit 20 of each physical address cleared', () => {
    const cpu = legacy();
    const out = new GuestAccess();
    expect(cpu.access(0x40_0010, AccessKind.Read, out, Privilege.Supervisor)).toBe(TranslateStatus.PageFault);
    cpu.state.a20Enabled = false;
    expect(cpu.access(0x40_0010, AccessKind.Read, out, Privilege.Supervisor)).toBe(TranslateStatus.Ok);
    expect(out.translation.hostPhysical).toBe(0x20_5010);
    expect(out.translation.guestPhysical).toBe(0x20_5010);
    // The mask applies after translation: to a TLB hit too.
    expect(cpu.access(0x40_0020, AccessKind.Read, out, Privilege.Supervisor)).toBe(TranslateStatus.Ok);
    expect(out.translation.tlbHit).toBe(true);
    expect(out.translation.hostPhysical).toBe(0x20_5020);
  });

  it('with paging off, real-mode FFFF:0010 (linear 0x100000) reaches physical 0', () => {
    const cpu = new NativeMachine().cpus[0];
    cpu.setControlRegisters({ cr0: 0, cr3: 0, cr4: 0, efer: 0 });
    cpu.state.a20Enabled = false;
    cpu.state.loadSegmentReal(3, 0xffff);
    const out = new GuestAccess();
    expect(cpu.access(cpu.state.linearAddress(3, 0x10), AccessKind.Read, out)).toBe(TranslateStatus.Ok);
    expect(out.translation.hostPhysical).toBe(0);
  });
});
