import { describe, expect, it } from 'vitest';
import { AccessKind, PfError, Privilege } from './access.js';
import { CpuState } from './cpu-state.js';
import { loadPdptes, PageWalker } from './page-walker.js';
import { PagingMode } from './paging-mode.js';
import { PhysicalMemory } from './physical-memory.js';
import { Cr0, Cr4, Efer, Rflags } from './registers.js';
import { WalkResult, WalkStatus } from './walk-result.js';

/*
 * The exhaustive permission matrix: (U/S, R/W at each level) x access x CPL x CR0.WP x SMEP x SMAP x
 * AC x NXE/XD, for 4-level, PAE and 32-bit paging. The expected outcome comes from `sdmAllows`, a
 * literal transcription of Intel SDM vol. 3A §4.6.1 ("Determination of Access Rights"), organised as
 * the manual is (by access type, then by the mode of the address), and the error code from §4.7.
 */

interface Case {
  us: number[]; // U/S bit per level (index 0 = top level)
  rw: number[];
  xd: number[];
  access: AccessKind;
  cpl: 0 | 3;
  wp: boolean;
  smep: boolean;
  smap: boolean;
  ac: boolean;
  nxe: boolean;
}

/** SDM vol. 3A §4.6.1, for explicit accesses, as the manual words it. */
function sdmAllows(c: Case, hasXd: boolean): boolean {
  // "A linear address is a user-mode address if U/S = 1 in every paging-structure entry" (§4.6).
  const userModeAddress = c.us.every((b) => b === 1);
  // "R/W flag ... writes allowed ... if R/W = 1 in every paging-structure entry".
  const readWrite = c.rw.every((b) => b === 1);
  // "XD flag ... if IA32_EFER.NXE = 1 and XD = 1 in any paging-structure entry, fetches not allowed".
  const executeDisabled = hasXd && c.nxe && c.xd.some((b) => b === 1);
  const supervisor = c.cpl < 3;
  if (c.access === AccessKind.Read) {
    if (supervisor) {
      if (!userModeAddress) return true; // "Data may be read from any supervisor-mode address."
      if (!c.smap) return true; // "If CR4.SMAP = 0, data may be read from any user-mode address"
      return c.ac; // "If CR4.SMAP = 1 ... EFLAGS.AC = 1 and the access is explicit: may be read"
    }
    return userModeAddress; // "Data may be read from any user-mode address" (CPL = 3)
  }
  if (c.access === AccessKind.Write) {
    if (supervisor) {
      if (!userModeAddress) return c.wp ? readWrite : true; // WP = 0: any; WP = 1: only R/W = 1
      if (c.smap && !c.ac) return false; // SMAP = 1 and AC = 0: "may not be written"
      return c.wp ? readWrite : true;
    }
    return userModeAddress && readWrite; // user-mode: "user-mode address with R/W = 1"
  }
  // Instruction fetches.
  if (supervisor) {
    if (userModeAddress && c.smep) return false; // "If CR4.SMEP = 1, ... may not fetch from user-mode address"
    return !executeDisabled;
  }
  return userModeAddress && !executeDisabled;
}

/** SDM vol. 3A §4.7: the error code of a protection fault. */
function sdmErrorCode(c: Case, paeOrLong: boolean): number {
  let code = PfError.P;
  if (c.access === AccessKind.Write) code |= PfError.W;
  if (c.cpl === 3) code |= PfError.U;
  if (c.access === AccessKind.Execute && (c.smep || (paeOrLong && c.nxe))) code |= PfError.ID;
  return code;
}

function bitsOf(value: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => (value >> i) & 1);
}

interface Layout {
  mode: PagingMode;
  levels: number; // levels that carry permissions
  entryBytes: 4 | 8;
  hasXd: boolean;
  cr4: number;
  efer: number;
  linear: number;
  tables: number[]; // physical address of each level's entry, top first
  chain: number[]; // what each entry points at, top first (the last is the data page)
}

function setUp(mode: PagingMode): { memory: PhysicalMemory; state: CpuState; layout: Layout } {
  const memory = new PhysicalMemory();
  const state = new CpuState();
  const linear = 0x4030_2000; // within 32 bits so every mode can use it
  if (mode === PagingMode.Level4) {
    // PML4 at 0x10000, PDPT 0x11000, PD 0x12000, PT 0x13000, page 0x80000.
    const i4 = 0;
    const i3 = (linear >>> 30) & 511;
    const i2 = (linear >>> 21) & 511;
    const i1 = (linear >>> 12) & 511;
    const layout: Layout = {
      mode,
      levels: 4,
      entryBytes: 8,
      hasXd: true,
      cr4: Cr4.PAE,
      efer: Efer.LME,
      linear,
      tables: [0x10000 + i4 * 8, 0x11000 + i3 * 8, 0x12000 + i2 * 8, 0x13000 + i1 * 8],
      chain: [0x11000, 0x12000, 0x13000, 0x80000],
    };
    state.setControlRegisters({ cr0: Cr0.PE | Cr0.PG, cr3: 0x10000, cr4: layout.cr4, efer: layout.efer });
    return { memory, state, layout };
  }
  if (mode === PagingMode.Pae) {
    const i3 = linear >>> 30;
    const i2 = (linear >>> 21) & 511;
    const i1 = (linear >>> 12) & 511;
    memory.writeEntry(0x10000 + i3 * 8, 0x11000 | 1, 0);
    const layout: Layout = {
      mode,
      levels: 2,
      entryBytes: 8,
      hasXd: true,
      cr4: Cr4.PAE,
      efer: 0,
      linear,
      tables: [0x11000 + i2 * 8, 0x12000 + i1 * 8],
      chain: [0x12000, 0x80000],
    };
    state.setControlRegisters({ cr0: Cr0.PE | Cr0.PG, cr3: 0x10000, cr4: layout.cr4, efer: 0 });
    expect(loadPdptes(memory, state)).toBe(WalkStatus.Ok);
    return { memory, state, layout };
  }
  const layout: Layout = {
    mode,
    levels: 2,
    entryBytes: 4,
    hasXd: false,
    cr4: 0,
    efer: 0,
    linear,
    tables: [0x10000 + (linear >>> 22) * 4, 0x11000 + ((linear >>> 12) & 0x3ff) * 4],
    chain: [0x11000, 0x80000],
  };
  state.setControlRegisters({ cr0: Cr0.PE | Cr0.PG, cr3: 0x10000, cr4: 0, efer: 0 });
  return { memory, state, layout };
}

function runMatrix(mode: PagingMode): { cases: number; faults: number } {
  const { memory, state, layout } = setUp(mode);
  const walker = new PageWalker(memory, state);
  const out = new WalkResult();
  const n = layout.levels;
  // XD variants: none, or XD at exactly one level (only where entries have an XD bit).
  const xdVariants = layout.hasXd ? n + 1 : 1;
  let cases = 0;
  let faults = 0;
  for (let usBits = 0; usBits < 1 << n; usBits++) {
    for (let rwBits = 0; rwBits < 1 << n; rwBits++) {
      for (let xdVariant = 0; xdVariant < xdVariants; xdVariant++) {
        const us = bitsOf(usBits, n);
        const rw = bitsOf(rwBits, n);
        const xd = Array.from({ length: n }, (_, i) => (xdVariant === i + 1 ? 1 : 0));
        for (let access = 0; access < 3; access++) {
          for (const cpl of [0, 3] as const) {
            for (let flags = 0; flags < 32; flags++) {
              const c: Case = {
                us,
                rw,
                xd,
                access: access as AccessKind,
                cpl,
                wp: (flags & 1) !== 0,
                smep: (flags & 2) !== 0,
                smap: (flags & 4) !== 0,
                ac: (flags & 8) !== 0,
                nxe: (flags & 16) !== 0,
              };
              // Rewrite the entries with A and D already set so the walk writes nothing.
              for (let i = 0; i < n; i++) {
                const lo = layout.chain[i] | 0x1 | 0x20 | 0x40 | (rw[i] << 1) | (us[i] << 2);
                if (layout.entryBytes === 8) memory.writeEntry(layout.tables[i], lo, xd[i] ? 0x8000_0000 : 0);
                else memory.writeWord(layout.tables[i], lo);
              }
              state.cr0 = Cr0.PE | Cr0.PG | (c.wp ? Cr0.WP : 0);
              state.cr4 = layout.cr4 | (c.smep ? Cr4.SMEP : 0) | (c.smap ? Cr4.SMAP : 0);
              state.efer = layout.efer | (c.nxe ? Efer.NXE : 0);
              state.rflags = Rflags.FIXED | (c.ac ? Rflags.AC : 0);
              state.refresh();
              const privilege = cpl === 3 ? Privilege.User : Privilege.Supervisor;
              const status = walker.walk(layout.linear, 0, c.access, privilege, out);
              cases++;
              const allowed = sdmAllows(c, layout.hasXd);
              // With NXE=0, a set XD bit is a reserved bit in PAE and long modes (SDM §4.4.2, §4.5.4).
              const reservedXd = layout.hasXd && !c.nxe && xd.some((b) => b === 1);
              let expected: { status: WalkStatus; errorCode?: number; physical?: number };
              if (reservedXd) {
                expected = { status: WalkStatus.PageFault, errorCode: sdmErrorCode(c, true) | PfError.RSVD };
              } else if (allowed) {
                expected = { status: WalkStatus.Ok, physical: 0x80000 };
              } else {
                expected = {
                  status: WalkStatus.PageFault,
                  errorCode: sdmErrorCode(c, mode !== PagingMode.Legacy32),
                };
              }
              const actual =
                status === WalkStatus.Ok
                  ? { status, physical: out.physical }
                  : { status, errorCode: out.errorCode };
              if (JSON.stringify(actual) !== JSON.stringify(expected)) {
                expect({ case: c, actual }).toEqual({ case: c, actual: expected });
              }
              if (status !== WalkStatus.Ok) faults++;
            }
          }
        }
      }
    }
  }
  return { cases, faults };
}

describe('exhaustive permission matrix (SDM vol. 3A §4.6.1, §4.7)', () => {
  it('4-level paging: 16 U/S x 16 R/W x 5 XD placements x 3 accesses x 2 CPLs x 32 register settings', () => {
    const { cases, faults } = runMatrix(PagingMode.Level4);
    expect(cases).toBe(16 * 16 * 5 * 3 * 2 * 32);
    expect(faults).toBeGreaterThan(0);
  });

  it('PAE paging: 4 U/S x 4 R/W x 3 XD placements x 3 accesses x 2 CPLs x 32 register settings', () => {
    const { cases } = runMatrix(PagingMode.Pae);
    expect(cases).toBe(4 * 4 * 3 * 3 * 2 * 32);
  });

  it('32-bit paging: no XD bit, so every page is executable and I/D needs SMEP', () => {
    const { cases } = runMatrix(PagingMode.Legacy32);
    expect(cases).toBe(4 * 4 * 3 * 2 * 32);
  });
});
