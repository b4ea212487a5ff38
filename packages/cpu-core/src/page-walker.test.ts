import { beforeEach, describe, expect, it } from 'vitest';
import { AccessKind, PfError, Privilege } from './access.js';
import { CpuState } from './cpu-state.js';
import { loadPdptes, PageWalker } from './page-walker.js';
import { PhysicalMemory } from './physical-memory.js';
import { Cr0, Cr4, Efer } from './registers.js';
import { a20Masked, a20Port, type TablePort } from './table-port.js';
import { Perm, WalkResult, WalkStatus, WalkTrace } from './walk-result.js';

/*
 * Hand-built tables with expectations worked out from the entry formats of Intel SDM vol. 3A
 * chapter 4 (Tables 4-4 to 4-20) and AMD APM vol. 2 chapter 5. Entries are written raw, without the
 * builder, so these tests do not lean on other hvsim code.
 */

const R = AccessKind.Read;
const W = AccessKind.Write;
const X = AccessKind.Execute;
const SUP = Privilege.Supervisor;
const USER = Privilege.User;
const PG = Cr0.PE | Cr0.PG;

function machine(maxPhysicalAddressBits = 48) {
  const memory = new PhysicalMemory({ maxPhysicalAddressBits });
  const state = new CpuState();
  const walker = new PageWalker(memory, state);
  const out = new WalkResult();
  return { memory, state, walker, out };
}

/** Entry with low flags `flags` pointing at `address`, XD optional; returns [lo, hi]. */
function entry(address: number, flags: number, xd = false): [number, number] {
  const hi = Math.floor(address / 2 ** 32);
  return [((address % 2 ** 32) + flags) >>> 0, (hi | (xd ? 0x8000_0000 : 0)) >>> 0];
}

describe('4-level paging (SDM vol. 3A §4.5)', () => {
  // Linear 0x0000_7f12_3456_7abc: PML4 index 0xfe, PDPT 0x48, PD 0x1a2, PT 0x167, offset 0xabc.
  const lo = 0x3456_7abc;
  const hi = 0x7f12;
  let m: ReturnType<typeof machine>;
  beforeEach(() => {
    m = machine();
    m.state.setControlRegisters({ cr0: PG, cr3: 0x1000, cr4: Cr4.PAE, efer: Efer.LME | Efer.NXE });
    m.memory.writeEntry(0x1000 + 0xfe * 8, ...entry(0x2000, 0x7));
    m.memory.writeEntry(0x2000 + 0x48 * 8, ...entry(0x3000, 0x7));
    m.memory.writeEntry(0x3000 + 0x1a2 * 8, ...entry(0x4000, 0x7));
    m.memory.writeEntry(0x4000 + 0x167 * 8, ...entry(0x12_3456_7000, 0x7));
  });

  it('translates through four levels and sets A at every level, D only on the leaf for a write', () => {
    expect(m.walker.walk(lo, hi, R, USER, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x12_3456_7abc);
    expect(m.out.pageShift).toBe(12);
    expect(m.out.references).toBe(4);
    expect(m.memory.readWord(0x1000 + 0xfe * 8)).toBe(0x2027);
    expect(m.memory.readWord(0x4000 + 0x167 * 8)).toBe(0x3456_7027);
    expect(m.out.perms & Perm.Dirty).toBe(0);
    expect(m.walker.walk(lo, hi, W, USER, m.out)).toBe(WalkStatus.Ok);
    expect(m.memory.readWord(0x4000 + 0x167 * 8)).toBe(0x3456_7067);
    expect(m.memory.readWord(0x3000 + 0x1a2 * 8)).toBe(0x4027); // non-leaf D is not set
    expect(m.out.perms & Perm.Dirty).toBe(Perm.Dirty);
  });

  it('resumes below the root from a cached entry: only the levels below are read (SDM §4.10.3.2)', () => {
    // As if a paging-structure cache held the PDPTE: continue at the PD (0x3000) with full perms.
    const perms = Perm.Write | Perm.User | Perm.Execute;
    expect(m.walker.walkFrom(lo, hi, R, USER, 2, 0x3000, perms, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x12_3456_7abc);
    expect(m.out.references).toBe(2);
    // The cached levels were not used, so their accessed bits stay clear.
    expect(m.memory.readWord(0x1000 + 0xfe * 8)).toBe(0x2007);
    expect(m.memory.readWord(0x3000 + 0x1a2 * 8)).toBe(0x4027);
    // Cached perms still count: a read-only upper level denies a user write.
    expect(m.walker.walkFrom(lo, hi, W, USER, 2, 0x3000, Perm.User | Perm.Execute, m.out)).toBe(
      WalkStatus.PageFault,
    );
    expect(m.out.errorCode).toBe(PfError.P | PfError.W | PfError.U);
  });

  it('records every reference in order with the entry after its update', () => {
    const trace = new WalkTrace();
    m.walker.trace = trace;
    m.walker.walk(lo, hi, R, USER, m.out);
    expect(trace.count).toBe(4);
    expect(Array.from(trace.level.subarray(0, 4))).toEqual([4, 3, 2, 1]);
    expect(Array.from(trace.address.subarray(0, 4))).toEqual([
      0x1000 + 0xfe * 8,
      0x2000 + 0x48 * 8,
      0x3000 + 0x1a2 * 8,
      0x4000 + 0x167 * 8,
    ]);
    expect(trace.entryLo[0]).toBe(0x2027);
  });

  it('keeps the upper A bits of a walk that faults further down, and leaves the leaf untouched', () => {
    m.memory.writeEntry(0x4000 + 0x167 * 8, ...entry(0x12_3456_7000, 0x5)); // read-only
    expect(m.walker.walk(lo, hi, W, USER, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.errorCode).toBe(PfError.P | PfError.W | PfError.U);
    expect(m.memory.readWord(0x3000 + 0x1a2 * 8)).toBe(0x4027);
    expect(m.memory.readWord(0x4000 + 0x167 * 8)).toBe(0x3456_7005);
    expect([m.out.faultLo, m.out.faultHi]).toEqual([lo, hi]);
  });

  it('reports a not-present entry with P=0 and the access bits', () => {
    m.memory.writeEntry(0x3000 + 0x1a2 * 8, 0x4006, 0);
    expect(m.walker.walk(lo, hi, X, USER, m.out)).toBe(WalkStatus.PageFault);
    // I/D is reported: PAE-family paging with NXE=1 (SDM §4.7).
    expect(m.out.errorCode).toBe(PfError.U | PfError.ID);
    expect(m.out.level).toBe(2);
  });

  it('raises #GP(0) for a non-canonical address before reading any table', () => {
    expect(m.walker.walk(0, 0x8000, R, SUP, m.out)).toBe(WalkStatus.GeneralProtection);
    expect(m.out.references).toBe(0);
    // 0xffff_8000_0000_0000 is canonical: bits 63:47 all ones.
    expect(m.walker.walk(0, 0xffff_8000, R, SUP, m.out)).toBe(WalkStatus.PageFault);
  });

  it('maps 2 MiB pages from a PDE with PS=1 and treats bits 20:13 as reserved', () => {
    m.memory.writeEntry(0x3000 + 0x1a2 * 8, ...entry(0x8_0020_0000, 0x87));
    expect(m.walker.walk(lo, hi, R, SUP, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x8_0020_0000 + (lo & 0x1f_ffff));
    expect(m.out.pageShift).toBe(21);
    m.memory.writeEntry(0x3000 + 0x1a2 * 8, ...entry(0x8_0020_0000 + 0x2000, 0x87));
    expect(m.walker.walk(lo, hi, R, SUP, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.errorCode).toBe(PfError.P | PfError.RSVD);
  });

  it('maps 1 GiB pages from a PDPTE with PS=1 and treats bits 29:13 as reserved', () => {
    m.memory.writeEntry(0x2000 + 0x48 * 8, ...entry(0x40_4000_0000, 0x83));
    expect(m.walker.walk(lo, hi, W, SUP, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x40_4000_0000 + (lo & 0x3fff_ffff));
    expect(m.out.pageShift).toBe(30);
    expect(m.out.references).toBe(2);
    m.memory.writeEntry(0x2000 + 0x48 * 8, ...entry(0x40_4000_0000 + 0x10_0000, 0x83));
    expect(m.walker.walk(lo, hi, W, SUP, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.errorCode).toBe(PfError.P | PfError.W | PfError.RSVD);
  });

  it('treats PS=1 in a PDPTE as reserved when 1 GiB pages are not supported', () => {
    m.walker.gigabytePages = false;
    m.memory.writeEntry(0x2000 + 0x48 * 8, ...entry(0x40_4000_0000, 0x83));
    expect(m.walker.walk(lo, hi, R, SUP, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.errorCode).toBe(PfError.P | PfError.RSVD);
  });

  it('treats PS in a PML4E as reserved (SDM Table 4-15)', () => {
    m.memory.writeEntry(0x1000 + 0xfe * 8, ...entry(0x2000, 0x87));
    expect(m.walker.walk(lo, hi, R, SUP, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.errorCode).toBe(PfError.P | PfError.RSVD);
    expect(m.out.level).toBe(4);
  });

  it('treats address bits at or above MAXPHYADDR as reserved', () => {
    // MAXPHYADDR 48: bit 48 of an entry (bit 16 of the high half) is reserved.
    m.memory.writeEntry(0x4000 + 0x167 * 8, 0x3456_7007, 0x1_0000);
    expect(m.walker.walk(lo, hi, R, USER, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.errorCode).toBe(PfError.P | PfError.U | PfError.RSVD);
    // Bits 62:52 are ignored in 4-level entries.
    m.memory.writeEntry(0x4000 + 0x167 * 8, 0x3456_7007, 0x0010_0000 | 0x12);
    expect(m.walker.walk(lo, hi, R, USER, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x12_3456_7abc);
  });

  it('with MAXPHYADDR 52 no address bit is reserved', () => {
    const m52 = machine(52);
    m52.state.setControlRegisters({ cr0: PG, cr3: 0x1000, cr4: Cr4.PAE, efer: Efer.LME });
    m52.memory.writeEntry(0x1000, 0x2007, 0);
    m52.memory.writeEntry(0x2000, 0x3007, 0);
    m52.memory.writeEntry(0x3000, 0x4007, 0);
    m52.memory.writeEntry(0x4000, 0x7007, 0xf_ffff);
    expect(m52.walker.walk(0x10, 0, R, SUP, m52.out)).toBe(WalkStatus.Ok);
    expect(m52.out.physical).toBe(0xf_ffff_0000_7010);
  });

  it('treats XD as reserved when EFER.NXE=0', () => {
    m.state.setControlRegisters({ cr0: PG, cr3: 0x1000, cr4: Cr4.PAE, efer: Efer.LME });
    m.memory.writeEntry(0x4000 + 0x167 * 8, ...entry(0x12_3456_7000, 0x7, true));
    expect(m.walker.walk(lo, hi, X, USER, m.out)).toBe(WalkStatus.PageFault);
    // NXE=0 and SMEP=0: I/D is not reported (SDM §4.7).
    expect(m.out.errorCode).toBe(PfError.P | PfError.U | PfError.RSVD);
  });

  it('reports the global bit only with CR4.PGE', () => {
    m.memory.writeEntry(0x4000 + 0x167 * 8, ...entry(0x12_3456_7000, 0x107));
    m.walker.walk(lo, hi, R, USER, m.out);
    expect(m.out.perms & Perm.Global).toBe(0);
    m.state.setControlRegisters({ cr0: PG, cr3: 0x1000, cr4: Cr4.PAE | Cr4.PGE, efer: Efer.LME | Efer.NXE });
    m.walker.walk(lo, hi, R, USER, m.out);
    expect(m.out.perms & Perm.Global).toBe(Perm.Global);
  });

  it('applies protection keys to user pages from PKRU (SDM §4.6.2)', () => {
    m.state.setControlRegisters({
      cr0: PG | Cr0.WP,
      cr3: 0x1000,
      cr4: Cr4.PAE | Cr4.PKE,
      efer: Efer.LME | Efer.NXE,
    });
    m.memory.writeEntry(0x4000 + 0x167 * 8, 0x3456_7007, 0x12 | (5 << 27));
    m.state.pkru = 1 << (2 * 5); // AD for key 5
    expect(m.walker.walk(lo, hi, R, USER, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.errorCode).toBe(PfError.P | PfError.U | PfError.PK);
    expect(m.walker.walk(lo, hi, X, USER, m.out)).toBe(WalkStatus.Ok); // fetches ignore keys
    m.state.pkru = 2 << (2 * 5); // WD for key 5
    expect(m.walker.walk(lo, hi, R, USER, m.out)).toBe(WalkStatus.Ok);
    expect(m.walker.walk(lo, hi, W, SUP, m.out)).toBe(WalkStatus.PageFault); // WP=1: supervisor writes too
    expect(m.out.errorCode).toBe(PfError.P | PfError.W | PfError.PK);
    m.state.pkru = 1 << (2 * 4); // another key: no effect
    expect(m.walker.walk(lo, hi, W, USER, m.out)).toBe(WalkStatus.Ok);
  });

  it('SMAP denies implicit supervisor accesses to user pages even with RFLAGS.AC=1', () => {
    m.state.setControlRegisters({
      cr0: PG,
      cr3: 0x1000,
      cr4: Cr4.PAE | Cr4.SMAP,
      efer: Efer.LME,
      rflags: 0x4_0002,
    });
    expect(m.walker.walk(lo, hi, R, SUP, m.out)).toBe(WalkStatus.Ok);
    expect(m.walker.walk(lo, hi, R, Privilege.ImplicitSupervisor, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.errorCode).toBe(PfError.P);
  });
});

describe('5-level paging (SDM vol. 3A §4.5, CR4.LA57)', () => {
  it('walks five levels and checks canonicality at bit 56', () => {
    const m = machine();
    m.state.setControlRegisters({ cr0: PG, cr3: 0x1000, cr4: Cr4.PAE | Cr4.LA57, efer: Efer.LME });
    // Linear 0x0023_4567_89ab_c000: PML5 0x23 (bits 56:48), PML4 (0x4567 >> 7) & 511 = 0x8a,
    // PDPT ((0x4567 & 0x7f) << 2) | (0x89abc000 >>> 30) = 0x19e, PD 0x4d, PT 0xbc.
    const lo = 0x89ab_c000;
    const hi = 0x0023_4567;
    m.memory.writeEntry(0x1000 + 0x23 * 8, 0x2007, 0);
    m.memory.writeEntry(0x2000 + 0x8a * 8, 0x3007, 0);
    m.memory.writeEntry(0x3000 + 0x19e * 8, 0x4007, 0);
    m.memory.writeEntry(0x4000 + 0x4d * 8, 0x5007, 0);
    m.memory.writeEntry(0x5000 + 0xbc * 8, 0x9000_0007, 0);
    expect(m.walker.walk(lo, hi, R, USER, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x9000_0000);
    expect(m.out.references).toBe(5);
    // Bit 57 set without bits 63:58: non-canonical.
    expect(m.walker.walk(0, 0x0200_0000, R, USER, m.out)).toBe(WalkStatus.GeneralProtection);
    // PS in a PML5E is reserved.
    m.memory.writeEntry(0x1000 + 0x23 * 8, 0x2087, 0);
    expect(m.walker.walk(lo, hi, R, USER, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.errorCode).toBe(PfError.P | PfError.U | PfError.RSVD);
  });
});

describe('PAE paging (SDM vol. 3A §4.4)', () => {
  let m: ReturnType<typeof machine>;
  // Linear 0xc040_3123: PDPTE 3, PD index 2, PT index 3.
  const lin = 0xc040_3123;
  beforeEach(() => {
    m = machine(36);
    m.state.setControlRegisters({ cr0: PG, cr3: 0x1020, cr4: Cr4.PAE, efer: Efer.NXE });
    m.memory.writeEntry(0x1020 + 3 * 8, 0x2001, 0);
    m.memory.writeEntry(0x2000 + 2 * 8, 0x3007, 0);
    m.memory.writeEntry(0x3000 + 3 * 8, 0x0_5000_0007, 0x8);
  });

  it('loads the PDPTEs at CR3 bits 31:5 and walks PDE and PTE (two references)', () => {
    expect(loadPdptes(m.memory, m.state)).toBe(WalkStatus.Ok);
    expect(m.walker.walk(lin, 0, W, USER, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x8_5000_0123);
    expect(m.out.references).toBe(2);
    // PDPTEs have no accessed bit: the register and memory are unchanged.
    expect(m.memory.readWord(0x1020 + 3 * 8)).toBe(0x2001);
  });

  it('uses the loaded registers, not memory, until the next load', () => {
    loadPdptes(m.memory, m.state);
    m.memory.writeEntry(0x1020 + 3 * 8, 0, 0);
    expect(m.walker.walk(lin, 0, R, USER, m.out)).toBe(WalkStatus.Ok);
    loadPdptes(m.memory, m.state);
    expect(m.walker.walk(lin, 0, R, USER, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.errorCode).toBe(PfError.U);
    expect(m.out.level).toBe(3);
  });

  it('fails the load with #GP when a present PDPTE has a reserved bit, leaving the registers', () => {
    loadPdptes(m.memory, m.state);
    m.memory.writeEntry(0x1020 + 0 * 8, 0x7003, 0); // R/W (bit 1) is reserved in a PDPTE
    expect(loadPdptes(m.memory, m.state)).toBe(WalkStatus.GeneralProtection);
    expect(m.state.pdpteLo[3]).toBe(0x2001);
    m.memory.writeEntry(0x1020 + 0 * 8, 0x7001, 0x10); // bit 36 >= MAXPHYADDR 36
    expect(loadPdptes(m.memory, m.state)).toBe(WalkStatus.GeneralProtection);
    m.memory.writeEntry(0x1020 + 0 * 8, 0x7002, 0x10); // not present: nothing is checked
    expect(loadPdptes(m.memory, m.state)).toBe(WalkStatus.Ok);
  });

  it('reads the PDPTE from memory on every walk when asked (AMD nested paging)', () => {
    m.walker.pdptesOnDemand = true;
    expect(m.walker.walk(lin, 0, R, USER, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.references).toBe(3);
    m.memory.writeEntry(0x1020 + 3 * 8, 0x2001, 0x8000_0000); // bit 63 is reserved in a PDPTE
    expect(m.walker.walk(lin, 0, R, USER, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.errorCode).toBe(PfError.P | PfError.U | PfError.RSVD);
  });

  it('treats bits 62:MAXPHYADDR of PDEs and PTEs as reserved (SDM Tables 4-9 to 4-11)', () => {
    loadPdptes(m.memory, m.state);
    m.memory.writeEntry(0x3000 + 3 * 8, 0x5000_0007, 0x0010_0000); // bit 52
    expect(m.walker.walk(lin, 0, R, USER, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.errorCode).toBe(PfError.P | PfError.U | PfError.RSVD);
  });

  it('maps 2 MiB pages', () => {
    loadPdptes(m.memory, m.state);
    m.memory.writeEntry(0x2000 + 2 * 8, 0x0060_0083, 0x1);
    expect(m.walker.walk(lin, 0, W, SUP, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x1_0060_0000 + (lin & 0x1f_ffff));
    expect(m.out.pageShift).toBe(21);
  });
});

describe('32-bit paging (SDM vol. 3A §4.3)', () => {
  let m: ReturnType<typeof machine>;
  const lin = 0x8040_1abc; // PDE index 0x201, PTE index 0x001
  beforeEach(() => {
    m = machine(40);
    m.state.setControlRegisters({ cr0: PG, cr3: 0x1000, cr4: 0, efer: 0 });
    m.memory.writeWord(0x1000 + 0x201 * 4, 0x2007);
    m.memory.writeWord(0x2000 + 0x001 * 4, 0x0abc_d007);
  });

  it('walks a 4-byte PDE and PTE', () => {
    expect(m.walker.walk(lin, 0, W, USER, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x0abc_dabc);
    expect(m.memory.readWord(0x1000 + 0x201 * 4)).toBe(0x2027);
    expect(m.memory.readWord(0x2000 + 0x001 * 4)).toBe(0x0abc_d067);
  });

  it('ignores PS without CR4.PSE and maps 4 MiB pages with it, PSE-36 bits 20:13 giving PA 39:32', () => {
    m.memory.writeWord(0x1000 + 0x201 * 4, 0x0040_0087 | (0x12 << 13));
    // Without PSE the PDE points at a page table at 0x0042_4000 (PS and bits 20:13 are address bits).
    expect(m.walker.walk(lin, 0, R, SUP, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.level).toBe(1);
    m.state.setControlRegisters({ cr0: PG, cr3: 0x1000, cr4: Cr4.PSE, efer: 0 });
    expect(m.walker.walk(lin, 0, R, SUP, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x12_0040_0000 + (lin & 0x3f_ffff));
    expect(m.out.pageShift).toBe(22);
  });

  it('treats bit 21 of a 4 MiB PDE as reserved, and bits 21:17 with MAXPHYADDR 36', () => {
    m.state.setControlRegisters({ cr0: PG, cr3: 0x1000, cr4: Cr4.PSE, efer: 0 });
    m.memory.writeWord(0x1000 + 0x201 * 4, 0x0040_0087 | (1 << 21));
    expect(m.walker.walk(lin, 0, R, SUP, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.errorCode).toBe(PfError.P | PfError.RSVD);
    const m36 = machine(36);
    m36.state.setControlRegisters({ cr0: PG, cr3: 0x1000, cr4: Cr4.PSE, efer: 0 });
    m36.memory.writeWord(0x1000 + 0x201 * 4, 0x0040_0087 | (1 << 17));
    expect(m36.walker.walk(lin, 0, R, SUP, m36.out)).toBe(WalkStatus.PageFault);
    m36.memory.writeWord(0x1000 + 0x201 * 4, 0x0040_0087 | (1 << 16));
    expect(m36.walker.walk(lin, 0, R, SUP, m36.out)).toBe(WalkStatus.Ok);
    expect(m36.out.physical).toBe(0x8_0040_0000 + (lin & 0x3f_ffff));
  });

  it('reports I/D for fetches only with SMEP (no XD in 32-bit paging)', () => {
    m.memory.writeWord(0x2000 + 0x001 * 4, 0);
    m.state.setControlRegisters({ cr0: PG, cr3: 0x1000, cr4: 0, efer: Efer.NXE });
    m.walker.walk(lin, 0, X, USER, m.out);
    expect(m.out.errorCode).toBe(PfError.U);
    m.state.setControlRegisters({ cr0: PG, cr3: 0x1000, cr4: Cr4.SMEP, efer: 0 });
    m.walker.walk(lin, 0, X, USER, m.out);
    expect(m.out.errorCode).toBe(PfError.U | PfError.ID);
  });
});

describe('legacy modes', () => {
  it('no paging: the linear address is the physical address, truncated to 32 bits', () => {
    const m = machine();
    m.state.setControlRegisters({ cr0: Cr0.PE, cr3: 0, cr4: 0, efer: 0 });
    expect(m.walker.walk(0x1234_5678, 0x1, W, USER, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x1234_5678);
    expect(m.out.references).toBe(0);
  });

  it('AMD paged real mode (CR0.PE=0, PG=1) walks the tables with supervisor accesses', () => {
    const m = machine();
    m.state.setControlRegisters({ cr0: Cr0.PG, cr3: 0x1000, cr4: 0, efer: 0 });
    expect(m.state.pagedRealMode).toBe(true);
    expect(m.state.effectiveCpl).toBe(0);
    // Real mode is CPL 0 whatever the CPL field holds (SDM vol. 3A §20.1).
    m.state.cpl = 3;
    expect(m.state.explicitPrivilege).toBe(Privilege.Supervisor);
    m.state.cpl = 0;
    m.memory.writeWord(0x1000, 0x2003); // supervisor PDE
    m.memory.writeWord(0x2000 + 0xb8 * 4, 0x0030_0003);
    const linear = m.state.linearAddress(0, 0xb800 * 16 - m.state.segmentBase[0]);
    expect(m.walker.walk(linear, 0, W, Privilege.Supervisor, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x0030_0000);
  });

  it('virtual-8086 mode: CPL 3, linear = selector x 16 + offset, user-mode page checks', () => {
    const m = machine();
    m.state.setControlRegisters({ cr0: PG, cr3: 0x1000, cr4: 0, efer: 0, rflags: 0x2_0002 });
    m.state.cpl = 0;
    expect(m.state.virtual8086).toBe(true);
    expect(m.state.effectiveCpl).toBe(3);
    // Virtual-8086 accesses are user-mode accesses (SDM vol. 3A §20.2); out of it CPL 0 is supervisor.
    expect(m.state.explicitPrivilege).toBe(Privilege.User);
    m.state.rflags = 0x2;
    expect(m.state.explicitPrivilege).toBe(Privilege.Supervisor);
    m.state.cpl = 3;
    expect(m.state.explicitPrivilege).toBe(Privilege.User);
    m.state.cpl = 0;
    m.state.rflags = 0x2_0002;
    m.state.loadSegmentReal(3, 0xd000); // DS = D000: an EMM386-style page frame
    const linear = m.state.linearAddress(3, 0x4010);
    expect(linear).toBe(0xd_4010);
    m.memory.writeWord(0x1000, 0x2007);
    m.memory.writeWord(0x2000 + 0xd4 * 4, 0x0080_0005); // user, read-only
    expect(m.walker.walk(linear, 0, R, Privilege.User, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x0080_0010);
    expect(m.walker.walk(linear, 0, W, Privilege.User, m.out)).toBe(WalkStatus.PageFault);
    expect(m.out.errorCode).toBe(PfError.P | PfError.W | PfError.U);
  });

  it('the A20 gate leaves the linear address alone: FFFF:0010 is linear 0x100000 either way', () => {
    const state = new CpuState();
    state.setControlRegisters({ cr0: 0, cr3: 0, cr4: 0, efer: 0 });
    state.loadSegmentReal(3, 0xffff);
    expect(state.linearAddress(3, 0x10)).toBe(0x10_0000);
    state.a20Enabled = false;
    expect(state.linearAddress(3, 0x10)).toBe(0x10_0000);
    expect(state.linearAddress(3, 0xffff)).toBe(0x10_ffef);
  });

  it('A20 off clears physical bit 20 (SDM vol. 3A §20.1.1), above 4 GiB too', () => {
    expect(a20Masked(0x10_0000)).toBe(0);
    expect(a20Masked(0x10_ffef)).toBe(0xffef);
    expect(a20Masked(0xf_ffff)).toBe(0xf_ffff);
    expect(a20Masked(0x30_1234)).toBe(0x20_1234);
    expect(a20Masked(0x1_0010_0008)).toBe(0x1_0000_0008);
    expect(a20Port.locate(0x10_2000, 1)).toBe(0x2000);
    expect(a20Port.locateForUpdate(0x10_2000, 1)).toBe(0x2000);
  });
});

describe('the table port seam', () => {
  it('reads every entry where the port says and stops at a port fault', () => {
    const m = machine();
    m.state.setControlRegisters({ cr0: PG, cr3: 0x1000, cr4: Cr4.PAE, efer: Efer.LME });
    // Tables live 16 MiB above where the walker believes they are.
    const offset = 0x100_0000;
    m.memory.writeEntry(offset + 0x1000, 0x2007, 0);
    m.memory.writeEntry(offset + 0x2000, 0x3007, 0);
    m.memory.writeEntry(offset + 0x3000, 0x4007, 0);
    m.memory.writeEntry(offset + 0x4000, 0x5007, 0);
    const seen: number[] = [];
    let refuseLevel = 0;
    const port: TablePort = {
      locate: (address, level) => {
        seen.push(level);
        return level === refuseLevel ? -1 : address + offset;
      },
      locateForUpdate: (address) => address + offset,
    };
    m.walker.port = port;
    expect(m.walker.walk(0x123, 0, R, SUP, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x5123);
    expect(m.memory.readWord(offset + 0x4000)).toBe(0x5027);
    refuseLevel = 2;
    seen.length = 0;
    expect(m.walker.walk(0x123, 0, R, SUP, m.out)).toBe(WalkStatus.PortFault);
    expect(seen).toEqual([4, 3, 2]);
    expect(m.out.level).toBe(2);
  });

  it('asks the port before writing A/D and stops if the write is refused', () => {
    const m = machine();
    m.state.setControlRegisters({ cr0: PG, cr3: 0x1000, cr4: Cr4.PAE, efer: Efer.LME });
    m.memory.writeEntry(0x1000, 0x2027, 0);
    m.memory.writeEntry(0x2000, 0x3027, 0);
    m.memory.writeEntry(0x3000, 0x4007, 0); // A clear at level 2
    m.memory.writeEntry(0x4000, 0x5067, 0);
    const updates: number[] = [];
    m.walker.port = {
      locate: (a) => a,
      locateForUpdate: (_a, level) => {
        updates.push(level);
        return -1;
      },
    };
    expect(m.walker.walk(0, 0, R, SUP, m.out)).toBe(WalkStatus.PortFault);
    expect(updates).toEqual([2]);
    expect(m.memory.readWord(0x3000)).toBe(0x4007);
  });
});
