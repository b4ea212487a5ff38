import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccessKind, Privilege } from './access.js';
import { CpuState } from './cpu-state.js';
import { loadPdptes, PageWalker } from './page-walker.js';
import { PhysicalMemory } from './physical-memory.js';
import { Cr0, Cr4, Efer, Rflags } from './registers.js';
import { Stage, WalkResult, WalkStatus, WalkTrace } from './walk-result.js';

/*
 * Properties of one-dimensional walks over random paging structures. The tables are a small pool of
 * 4 KiB frames filled with random entries (present or not, PS or not, random permission, A/D,
 * reserved, ignored, XD and protection-key bits) that point back into the pool, or anywhere in the
 * 52-bit space, so walks go deep, loop through the same tables, map large pages and fault in every
 * way. Linear addresses are built from a few table indices, so that the entries they select exist.
 *
 * The expectations are derived here, with BigInt, from the entry formats and the linear-address
 * split of Intel SDM vol. 3A §4.3 (Figure 4-2, Table 4-4 to 4-6), §4.4 (Tables 4-7 to 4-11) and
 * §4.5 (Figures 4-8 to 4-11, Tables 4-14 to 4-20), not from the walker's code.
 */

type ModeName = 'legacy32' | 'pae' | 'level4' | 'level5';

interface EntrySpec {
  readonly present: boolean;
  /** Bits 11:1 of the entry other than PS (R/W, U/S, PWT, PCD, A, D, G, ignored bits). */
  readonly low: number;
  /** PS (bit 7): a large page at levels 2 and 3, reserved above, PAT in a PTE. */
  readonly ps: boolean;
  /**
   * With PS, round the target down to 2^largeAlign bytes (2 MiB, 4 MiB, 1 GiB; 0: leave it), so that
   * large pages are often aligned (a misaligned one has reserved bits set).
   */
  readonly largeAlign: 0 | 21 | 22 | 30;
  /** Set R/W and U/S whatever `low` says, so that more walks reach a leaf that allows the access. */
  readonly permissive: boolean;
  /** Which frame of the pool the entry points to (modulo the pool's size), unless `wild`. */
  readonly target: number;
  /** Point at `wildFrame` instead: a frame outside the pool, maybe at or above MAXPHYADDR. */
  readonly wild: boolean;
  readonly wildFrame: number;
  /** Keep a wild frame below MAXPHYADDR. */
  readonly wildInRange: boolean;
  /** log2 of the alignment (in frames) of a wild target: 4 KiB, 2 MiB, 4 MiB or 1 GiB. */
  readonly wildAlign: 0 | 9 | 10 | 18;
  /** Noise in bits 21:13 (reserved bits of large pages, PSE-36 address bits). */
  readonly midBits: number;
  /** ORed into the high half: reserved, ignored, XD and protection-key bits. */
  readonly hiNoise: number;
  /**
   * Where the entry is a PAE PDPTE, clear its reserved bits (2:1, 8:5, 63:32; SDM Table 4-8), so
   * that the PDPTE load and the walks can succeed: random low bits would almost always set one.
   */
  readonly cleanPdpte: boolean;
}

interface AccessSpec {
  /** Per level (index 0 = level 1), which of the scenario's table indices the linear address uses. */
  readonly picks: readonly number[];
  readonly pdpt: number;
  readonly offset: number;
  /** A bit of 63:47 (63:56 with LA57) to flip, making the address non-canonical; -1 for none. */
  readonly flip: number;
  /** Garbage in the high half where the linear address is 32 bits (ignored by 32-bit and PAE paging). */
  readonly hiGarbage: number;
  readonly access: AccessKind;
  readonly privilege: Privilege;
}

interface Scenario {
  readonly mode: ModeName;
  readonly maxPhysicalAddressBits: number;
  /** Table frames: a random frame, aligned to 2^align frames so that some can be large pages too. */
  readonly pool: readonly { readonly seed: number; readonly align: number }[];
  readonly cr3Low: number;
  readonly indices: readonly number[];
  readonly entries: readonly EntrySpec[];
  readonly wp: boolean;
  readonly pse: boolean;
  readonly pge: boolean;
  readonly smep: boolean;
  readonly smap: boolean;
  readonly pke: boolean;
  readonly nxe: boolean;
  readonly ac: boolean;
  readonly gigabytePages: boolean;
  readonly pdptesOnDemand: boolean;
  readonly pkru: number;
  readonly accesses: readonly AccessSpec[];
}

/** True `percent` times in a hundred (fast-check's bias towards extreme integers would skew `nat`). */
const often = (percent: number) =>
  fc.oneof(
    { weight: percent, arbitrary: fc.constant(true) },
    { weight: 100 - percent, arbitrary: fc.constant(false) },
  );

const entryArb: fc.Arbitrary<EntrySpec> = fc.record({
  present: often(90),
  low: fc.nat(0xfff).map((bits) => bits & 0xf7e),
  ps: often(20),
  largeAlign: fc.oneof(
    { weight: 3, arbitrary: fc.constant<0>(0) },
    { weight: 3, arbitrary: fc.constant<21>(21) },
    { weight: 2, arbitrary: fc.constant<22>(22) },
    { weight: 2, arbitrary: fc.constant<30>(30) },
  ),
  permissive: often(50),
  target: fc.nat(4),
  wild: often(15),
  wildFrame: fc.nat(2 ** 40 - 1),
  wildInRange: often(60),
  wildAlign: fc.constantFrom<0 | 9 | 10 | 18>(0, 9, 10, 18),
  midBits: fc.oneof(
    { weight: 4, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.nat(0x1ff).map((b) => b << 13) },
  ),
  hiNoise: fc.oneof(
    { weight: 8, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.constant(0x8000_0000) }, // XD
    { weight: 2, arbitrary: fc.nat(0xf).map((k) => k << 27) }, // protection key (62:59)
    { weight: 1, arbitrary: fc.nat(0xffff_ffff) },
  ),
  cleanPdpte: often(90),
});

const accessArb: fc.Arbitrary<AccessSpec> = fc.record({
  picks: fc.array(fc.nat(2), { minLength: 5, maxLength: 5 }),
  pdpt: fc.nat(3),
  offset: fc.nat(0xfff),
  flip: fc.oneof(
    { weight: 9, arbitrary: fc.constant(-1) },
    { weight: 1, arbitrary: fc.integer({ min: 47, max: 63 }) },
  ),
  hiGarbage: fc.oneof(fc.constant(0), fc.nat(0xffff_ffff)),
  access: fc.constantFrom<AccessKind>(AccessKind.Read, AccessKind.Write, AccessKind.Execute),
  privilege: fc.constantFrom<Privilege>(Privilege.Supervisor, Privilege.User, Privilege.ImplicitSupervisor),
});

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  mode: fc.constantFrom<ModeName>('legacy32', 'pae', 'level4', 'level5'),
  maxPhysicalAddressBits: fc.integer({ min: 32, max: 52 }),
  pool: fc.array(fc.record({ seed: fc.nat(2 ** 40 - 1), align: fc.constantFrom(0, 0, 9, 10, 18) }), {
    minLength: 2,
    maxLength: 5,
  }),
  cr3Low: fc.nat(0xfff),
  indices: fc.array(fc.nat(1023), { minLength: 1, maxLength: 3 }),
  entries: fc.array(entryArb, { minLength: 40, maxLength: 40 }),
  wp: fc.boolean(),
  pse: fc.boolean(),
  pge: fc.boolean(),
  smep: fc.boolean(),
  smap: fc.boolean(),
  pke: fc.boolean(),
  nxe: fc.boolean(),
  ac: fc.boolean(),
  gigabytePages: often(80),
  pdptesOnDemand: fc.boolean(),
  pkru: fc.nat(0xffff_ffff),
  accesses: fc.array(accessArb, { minLength: 1, maxLength: 4 }),
});

/** Widths of the PhysicalMemory methods a walker may read or write entries through. */
const READ_WIDTH: Readonly<Record<string, number>> = { readWord: 4, readPair: 8 };
const WRITE_WIDTH: Readonly<Record<string, number>> = { writeWord: 4, writeEntry: 8 };

/** The memory accesses made while `recording`: [address, bytes] of each outermost read or write call. */
interface AccessLog {
  recording: boolean;
  readonly reads: [number, number][];
  readonly writes: [number, number][];
}

/**
 * Physical memory behind a proxy that logs every read* and write* call, whichever of PhysicalMemory's
 * methods the walker uses (a subclass would miss a read path added later).
 */
function recordingMemory(maxPhysicalAddressBits: number): {
  memory: PhysicalMemory;
  raw: PhysicalMemory;
  log: AccessLog;
} {
  const log: AccessLog = { recording: false, reads: [], writes: [] };
  let depth = 0;
  const raw = new PhysicalMemory({ maxPhysicalAddressBits });
  const memory = new Proxy(raw, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      const isRead = key.startsWith('read');
      if (!isRead && !key.startsWith('write')) return value;
      return function (this: unknown, ...args: unknown[]) {
        if (log.recording && depth === 0) {
          const width = (isRead ? READ_WIDTH : WRITE_WIDTH)[key];
          if (width === undefined)
            throw new Error(`walk-properties.test.ts does not know the width of ${key}`);
          (isRead ? log.reads : log.writes).push([args[0] as number, width]);
        }
        depth++;
        try {
          return value.apply(this, args);
        } finally {
          depth--;
        }
      };
    },
  });
  return { memory, raw, log };
}

function startRecording(log: AccessLog): void {
  log.reads.length = 0;
  log.writes.length = 0;
  log.recording = true;
}

const TWO_32 = 2 ** 32;
const FRAME = 4096;
const ADDRESS_51_12 = 0x000f_ffff_ffff_f000n;

interface Machine {
  readonly scenario: Scenario;
  readonly memory: PhysicalMemory;
  /** The same memory without the proxy, for snapshots. */
  readonly raw: PhysicalMemory;
  readonly log: AccessLog;
  readonly state: CpuState;
  readonly walker: PageWalker;
  readonly trace: WalkTrace;
  readonly entryBytes: 4 | 8;
  /** Paging-structure levels the walk reads from memory (PAE: 2, or 3 when PDPTEs are read on demand). */
  readonly memoryLevels: number;
}

function build(s: Scenario): Machine {
  const { memory, raw, log } = recordingMemory(s.maxPhysicalAddressBits);
  const legacy = s.mode === 'legacy32';
  const pae = s.mode === 'pae';
  const long = s.mode === 'level4' || s.mode === 'level5';
  const entryBytes = legacy ? 4 : 8;
  // Tables of 32-bit paging sit below 4 GiB (4-byte entries hold 32-bit addresses), as do CR3's PAE
  // PDPT and 32-bit page directory (CR3 is 32 bits there); elsewhere anywhere below 2^MAXPHYADDR.
  const tableFrames = 2 ** ((legacy ? 32 : s.maxPhysicalAddressBits) - 12);
  const rootFrames = 2 ** ((long ? s.maxPhysicalAddressBits : 32) - 12);
  const frames = s.pool.map(({ seed, align }, i) => {
    const frame = seed % (i === 0 ? rootFrames : tableFrames);
    return (frame - (frame % 2 ** align)) * FRAME;
  });
  const cr3 = frames[0] + s.cr3Low;

  const slotsPerTable = FRAME / entryBytes;
  const slots = new Set(s.indices.map((i) => i % slotsPerTable));
  if (pae) for (let i = 0; i < 4; i++) slots.add(((s.cr3Low & 0xfe0) >>> 3) + i);
  const slotList = [...slots];
  const pdpt = pdptBaseOf(cr3);
  frames.forEach((frame, f) => {
    slotList.forEach((slot, k) => {
      const e = s.entries[(f * slotList.length + k) % s.entries.length];
      const wildFrame = e.wildInRange ? e.wildFrame % tableFrames : e.wildFrame;
      const wild = (wildFrame - (wildFrame % 2 ** e.wildAlign)) * FRAME;
      let target = e.wild ? wild : frames[e.target % frames.length];
      if (e.ps) target -= target % 2 ** e.largeAlign;
      const address = frame + slot * entryBytes;
      const low12 = e.low | (e.ps ? 0x80 : 0) | (e.permissive ? 0x6 : 0) | (e.present ? 1 : 0);
      const lo = ((target % TWO_32) + low12) | e.midBits;
      const hi = Math.floor(target / TWO_32) | e.hiNoise;
      // 32-bit paging: an aligned 4 MiB page gets PSE-36 address bits 39:32 in bits 20:13 (Table 4-4).
      if (entryBytes === 4)
        memory.writeWord(
          address,
          (e.ps && e.largeAlign !== 0 ? lo | ((e.wildFrame & 0xff) << 13) : lo) >>> 0,
        );
      else if (pae && e.cleanPdpte && address >= pdpt && address < pdpt + 32) {
        memory.writeEntry(address, (target % TWO_32) + (low12 & ~0x1e6), Math.floor(target / TWO_32));
      } else memory.writeEntry(address, lo >>> 0, hi >>> 0);
    });
  });

  const state = new CpuState();
  let cr4 = s.pse ? Cr4.PSE : 0;
  if (s.pge) cr4 |= Cr4.PGE;
  if (s.smep) cr4 |= Cr4.SMEP;
  if (s.smap) cr4 |= Cr4.SMAP;
  if (s.pke) cr4 |= Cr4.PKE;
  if (!legacy) cr4 |= Cr4.PAE;
  if (s.mode === 'level5') cr4 |= Cr4.LA57;
  state.setControlRegisters({
    cr0: Cr0.PE | Cr0.PG | (s.wp ? Cr0.WP : 0),
    cr3,
    cr4,
    efer: (long ? Efer.LME : 0) | (s.nxe ? Efer.NXE : 0),
    rflags: Rflags.FIXED | (s.ac ? Rflags.AC : 0),
  });
  state.pkru = s.pkru;
  const walker = new PageWalker(memory, state, { gigabytePages: s.gigabytePages });
  walker.pdptesOnDemand = pae && s.pdptesOnDemand;
  // A load that fails with #GP leaves the registers clear: every walk then faults at the PDPTE.
  if (pae && !walker.pdptesOnDemand) loadPdptes(memory, state);
  const trace = new WalkTrace();
  walker.trace = trace;
  const memoryLevels = legacy ? 2 : pae ? (walker.pdptesOnDemand ? 3 : 2) : s.mode === 'level4' ? 4 : 5;
  return { scenario: s, memory, raw, log, state, walker, trace, entryBytes, memoryLevels };
}

/** CR3 bits 31:5: where PAE paging's PDPT is (SDM vol. 3A §4.4.1). */
function pdptBaseOf(cr3: number): number {
  return Number(BigInt(cr3) & 0xffff_ffe0n);
}

/** The linear address of an access, as a BigInt (the architectural value) and as the walker's halves. */
function linearOf(s: Scenario, a: AccessSpec): { linear: bigint; lo: number; hi: number } {
  const index = (level: number): bigint => BigInt(s.indices[a.picks[level - 1] % s.indices.length]);
  let linear: bigint;
  if (s.mode === 'legacy32') {
    linear = ((index(2) % 1024n) << 22n) | ((index(1) % 1024n) << 12n) | BigInt(a.offset);
  } else if (s.mode === 'pae') {
    linear =
      (BigInt(a.pdpt) << 30n) | ((index(2) % 512n) << 21n) | ((index(1) % 512n) << 12n) | BigInt(a.offset);
  } else {
    const levels = s.mode === 'level5' ? 5 : 4;
    linear = BigInt(a.offset);
    for (let level = 1; level <= levels; level++) linear |= (index(level) % 512n) << BigInt(3 + 9 * level);
    // Canonical: bits 63:48 (63:57) copy bit 47 (56) (SDM vol. 1 §3.3.7.1).
    const signBit = levels === 5 ? 56n : 47n;
    if (((linear >> signBit) & 1n) === 1n) linear |= ((1n << 64n) - 1n) ^ ((1n << signBit) - 1n);
    if (a.flip >= (levels === 5 ? 56 : 47)) linear ^= 1n << BigInt(a.flip);
    return { linear, lo: Number(linear & 0xffff_ffffn), hi: Number(linear >> 32n) };
  }
  return { linear, lo: Number(linear), hi: a.hiGarbage };
}

function isCanonical(s: Scenario, linear: bigint): boolean {
  if (s.mode !== 'level4' && s.mode !== 'level5') return true;
  const top = linear >> (s.mode === 'level5' ? 56n : 47n);
  return top === 0n || top === (s.mode === 'level5' ? 0xffn : 0x1ffffn);
}

/** The index of the entry a linear address selects at `level` (SDM Figures 4-2, 4-5, 4-8, 4-11). */
function indexAt(s: Scenario, linear: bigint, level: number): bigint {
  if (s.mode === 'legacy32') return (linear >> (level === 2 ? 22n : 12n)) & 0x3ffn;
  if (s.mode === 'pae' && level === 3) return (linear >> 30n) & 3n;
  return (linear >> BigInt(3 + 9 * level)) & 511n;
}

/** The physical address an entry holds: bits 31:12 of a 4-byte entry, bits 51:12 of an 8-byte one. */
function pointerOf(m: Machine, lo: number, hi: number): bigint {
  if (m.entryBytes === 4) return BigInt(lo) & 0xffff_f000n;
  return ((BigInt(hi) << 32n) | BigInt(lo)) & ADDRESS_51_12;
}

/** Where the first table the walk reads from memory lies. */
function firstTable(m: Machine, linear: bigint): bigint {
  const cr3 = BigInt(m.state.cr3);
  switch (m.scenario.mode) {
    case 'legacy32':
      return cr3 & 0xffff_f000n; // CR3 bits 31:12 (SDM §4.3)
    case 'pae': {
      // The PDPT is at CR3 bits 31:5 (SDM §4.4.1); with PDPTE registers, the first memory reference
      // is in the page directory that PDPTE register i points to.
      if (m.walker.pdptesOnDemand) return cr3 & 0xffff_ffe0n;
      const i = Number((linear >> 30n) & 3n);
      return pointerOf(m, m.state.pdpteLo[i], m.state.pdpteHi[i]);
    }
    default:
      return cr3 & ADDRESS_51_12; // CR3 bits 51:12 (SDM §4.5.2)
  }
}

interface Outcome {
  status: WalkStatus;
  physical: number;
  pageShift: number;
  perms: number;
  errorCode: number;
  level: number;
  faultLo: number;
  faultHi: number;
  protectionKey: number;
  references: number;
  addresses: number[];
}

function walk(m: Machine, a: AccessSpec): Outcome {
  const { lo, hi } = linearOf(m.scenario, a);
  const out = new WalkResult();
  m.trace.clear();
  startRecording(m.log);
  m.walker.walk(lo, hi, a.access, a.privilege, out);
  m.log.recording = false;
  const ok = out.status === WalkStatus.Ok;
  const pf = out.status === WalkStatus.PageFault;
  return {
    status: out.status,
    physical: ok ? out.physical : 0,
    pageShift: ok ? out.pageShift : 0,
    perms: ok ? out.perms : 0,
    errorCode: out.errorCode,
    level: out.level,
    faultLo: pf ? out.faultLo : 0,
    faultHi: pf ? out.faultHi : 0,
    protectionKey: out.protectionKey,
    references: out.references,
    addresses: Array.from(m.trace.address.subarray(0, m.trace.count)),
  };
}

/** Every touched word of memory. */
function snapshot(memory: PhysicalMemory): Map<number, number> {
  const words = new Map<number, number>();
  for (const frame of memory.touchedFrameNumbers()) {
    for (let offset = 0; offset < FRAME; offset += 4) {
      const value = memory.readWord(frame * FRAME + offset);
      if (value !== 0) words.set(frame * FRAME + offset, value);
    }
  }
  return words;
}

/** Addresses whose words differ, as hex, for a readable failure. */
function differences(actual: Map<number, number>, expected: Map<number, number>): string[] {
  const diff: string[] = [];
  for (const address of new Set([...actual.keys(), ...expected.keys()])) {
    const a = actual.get(address) ?? 0;
    const e = expected.get(address) ?? 0;
    if (a !== e) diff.push(`0x${address.toString(16)}: 0x${a.toString(16)}, expected 0x${e.toString(16)}`);
  }
  return diff;
}

const A = 0x20;
const D = 0x40;
const RUNS = { numRuns: 300 };

describe('walk properties over random paging structures', () => {
  it('a walk never reads outside the table pages the entries point to', () => {
    const seen = new Map<ModeName, { ok: number; deepest: number }>();
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const m = build(s);
        const stats = seen.get(s.mode) ?? { ok: 0, deepest: 0 };
        seen.set(s.mode, stats);
        for (const a of s.accesses) {
          const { linear } = linearOf(s, a);
          const o = walk(m, a);
          const { trace } = m;
          expect(o.references).toBe(trace.count);
          expect(trace.count).toBeLessThanOrEqual(m.memoryLevels);
          if (!isCanonical(s, linear)) {
            expect(o.status).toBe(WalkStatus.GeneralProtection);
            expect(trace.count).toBe(0);
          }
          let table = firstTable(m, linear);
          for (let k = 0; k < trace.count; k++) {
            const level = m.memoryLevels - k;
            expect(trace.level[k]).toBe(level);
            expect(trace.stage[k]).toBe(Stage.Guest);
            const address = BigInt(trace.address[k]);
            // Inside the 4 KiB table page, entry-aligned, at the index the linear address selects.
            expect(address / 4096n).toBe(table / 4096n);
            expect(address % BigInt(m.entryBytes)).toBe(0n);
            expect(address).toBe(table + indexAt(s, linear, level) * BigInt(m.entryBytes));
            const next = pointerOf(m, trace.entryLo[k], trace.entryHi[k]);
            if (k + 1 < trace.count) {
              // A walk follows only an address below MAXPHYADDR (higher bits are reserved, SDM §4.5.4).
              expect(next).toBeLessThan(1n << BigInt(s.maxPhysicalAddressBits));
              table = next;
            }
          }
          // The recorded references are all the walk read, and the only entries it wrote.
          const within = ([address, bytes]: [number, number]): boolean => {
            for (let k = 0; k < trace.count; k++) {
              const entry = trace.address[k];
              if (address >= entry && address + bytes <= entry + m.entryBytes) return true;
            }
            return false;
          };
          for (const read of m.log.reads)
            expect(within(read), `read at 0x${read[0].toString(16)}`).toBe(true);
          for (const write of m.log.writes)
            expect(within(write), `write at 0x${write[0].toString(16)}`).toBe(true);
          const bytesRead = m.log.reads.reduce((sum, [, bytes]) => sum + bytes, 0);
          expect(bytesRead).toBe(trace.count * m.entryBytes);
          if (o.status === WalkStatus.Ok) stats.ok++;
          stats.deepest = Math.max(stats.deepest, trace.count);
        }
      }),
      { numRuns: 600 },
    );
    // The random tables are not vacuous: every mode translates some addresses and reaches the last level.
    for (const [mode, levels] of [
      ['legacy32', 2],
      ['pae', 3],
      ['level4', 4],
      ['level5', 5],
    ] as const) {
      expect(seen.get(mode)?.ok ?? 0, mode).toBeGreaterThan(0);
      expect(seen.get(mode)?.deepest, mode).toBe(levels);
    }
  });

  it('a walk is a pure function of memory and state, and a repeated walk writes nothing', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const m1 = build(s);
        const m2 = build(s);
        for (const a of s.accesses) {
          // Same memory and state: same outcome, same memory afterwards.
          const first = walk(m1, a);
          expect(walk(m2, a)).toEqual(first);
          expect(differences(snapshot(m2.raw), snapshot(m1.raw))).toEqual([]);
          const writes = m1.log.writes.map(([address]) => address);
          const again = walk(m1, a);
          // Every A/D bit the first walk needed is set now, so the second walk writes nothing.
          expect(m1.log.writes).toEqual([]);
          // The first walk's A/D update may have landed on the very PDPTE it read (a PDPT page
          // that doubles as the page directory or page table). Bits 5 and 6 are reserved in a
          // PDPTE (SDM vol. 3A Table 4-8), so the PDPTE read on demand now faults (SDM §4.7).
          const pdpte = m1.walker.pdptesOnDemand ? first.addresses[0] : -1;
          if (pdpte !== undefined && writes.includes(pdpte)) {
            expect(again.status).toBe(WalkStatus.PageFault);
            expect(again.level).toBe(3);
            expect(again.errorCode & 0x9).toBe(0x9); // P and RSVD
          } else {
            expect(again).toEqual(first);
          }
          if (first.status === WalkStatus.Ok) expect(writes.length).toBeLessThanOrEqual(first.references);
        }
      }),
      RUNS,
    );
  });

  it('a faulting walk changes nothing but the accessed bits of the non-leaf entries it used', () => {
    let faults = 0;
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const m = build(s);
        for (const a of s.accesses) {
          const before = snapshot(m.raw);
          const o = walk(m, a);
          if (o.status === WalkStatus.Ok) continue;
          faults++;
          const expected = new Map(before);
          // Every entry before the last one was a non-leaf entry that the walk used to reach the
          // next (SDM §4.8); PAE PDPTEs have no accessed bit (SDM Table 4-8).
          for (let k = 0; k + 1 < m.trace.count; k++) {
            if (s.mode === 'pae' && m.trace.level[k] === 3) continue;
            const address = m.trace.address[k];
            expected.set(address, ((expected.get(address) ?? 0) | A) >>> 0);
          }
          expect(differences(snapshot(m.raw), expected)).toEqual([]);
        }
      }),
      RUNS,
    );
    expect(faults).toBeGreaterThan(0);
  });

  it('a successful walk reaches the leaf frame plus the offset within the page, and sets A (and D)', () => {
    let oks = 0;
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const m = build(s);
        for (const a of s.accesses) {
          const { linear } = linearOf(s, a);
          const before = snapshot(m.raw);
          const o = walk(m, a);
          if (o.status !== WalkStatus.Ok) continue;
          oks++;
          const last = m.trace.count - 1;
          const leafLevel = m.trace.level[last];
          expect(o.level).toBe(leafLevel);
          const lo = m.trace.entryLo[last];
          const hi = m.trace.entryHi[last];
          // Page size from the leaf's level (SDM Tables 4-4, 4-9, 4-10, 4-17, 4-18): 4 MiB for a
          // 32-bit PDE, 2 MiB for an 8-byte PDE, 1 GiB for a PDPTE.
          const shift = leafLevel === 1 ? 12 : leafLevel === 3 ? 30 : s.mode === 'legacy32' ? 22 : 21;
          expect(o.pageShift).toBe(shift);
          const offset = linear & ((1n << BigInt(shift)) - 1n);
          let frame: bigint;
          if (s.mode === 'legacy32' && shift === 22) {
            // PDE bits 31:22 are address bits 31:22; bits (M-20):13 are address bits (M-1):32,
            // M = min(MAXPHYADDR, 40) (SDM Table 4-4).
            const m40 = BigInt(Math.min(s.maxPhysicalAddressBits, 40));
            const high = (BigInt(lo) >> 13n) & ((1n << (m40 - 32n)) - 1n);
            frame = (high << 32n) | (BigInt(lo) & 0xffc0_0000n);
          } else {
            const mask = ((1n << BigInt(s.maxPhysicalAddressBits)) - 1n) ^ ((1n << BigInt(shift)) - 1n);
            frame = pointerOf(m, lo, hi) & mask;
          }
          expect(BigInt(o.physical)).toBe(frame + offset);
          // A in every entry used (PDPTEs of PAE have none), D in the leaf for a write (SDM §4.8);
          // nothing else changes.
          const expected = new Map(before);
          for (let k = 0; k <= last; k++) {
            if (s.mode === 'pae' && m.trace.level[k] === 3) continue;
            const bits = k === last && a.access === AccessKind.Write ? A | D : A;
            const address = m.trace.address[k];
            expected.set(address, ((expected.get(address) ?? 0) | bits) >>> 0);
          }
          expect(differences(snapshot(m.raw), expected)).toEqual([]);
        }
      }),
      { numRuns: 1500 },
    );
    expect(oks).toBeGreaterThan(0);
  });
});
