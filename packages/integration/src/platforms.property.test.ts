import {
  AccessKind,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  PageSize,
  PageTableBuilder,
  PagingMode,
  Privilege,
  PteFlag,
} from '@hvsim/cpu-core';
import { TranslateStatus } from '@hvsim/mmu-nested';
import { GuestAccess, type GuestCpu } from '@hvsim/platform';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { platforms } from './platforms.test-helper.js';

/*
 * One guest, five platforms: bare metal (NativeMachine), shadow paging under AMD SVM and Intel VMX,
 * AMD NPT and Intel EPT. A guest kernel (modelled here) keeps several address spaces in its own page
 * tables, maps, unmaps and re-protects 4 KiB and large pages, switches CR3 (with PCIDs, without a flush
 * where it may), and invalidates as a correct kernel does: INVLPG after each change in the current
 * address space, a flushing CR3 load into an address space changed while it was not current. The
 * invariant (the platform changes the cost, never the guest-visible result): every access has the same
 * outcome everywhere (Ok at the same guest-physical address, or a #PF with the same error code and CR2)
 * and the guest's tables end with the same contents, accessed and dirty bits included.
 */

const TABLES = { start: 0x10_0000, end: 0x80_0000 };
const DATA = 0x80_0000;
const LARGE_FRAMES = [0x100_0000, 0x140_0000, 0x180_0000];

type Mode = 'legacy32' | 'pae' | 'level4' | 'level5';

interface Setup {
  readonly mode: Mode;
  readonly wp: boolean;
  readonly nxe: boolean;
  readonly smep: boolean;
  readonly smap: boolean;
  readonly pcid: boolean;
}

type Op =
  | {
      readonly op: 'map4k';
      readonly where: number;
      readonly slot: number;
      readonly page: number;
      readonly frame: number;
      readonly flags: number;
      readonly nx: boolean;
    }
  | {
      readonly op: 'mapLarge';
      readonly where: number;
      readonly slot: number;
      readonly frame: number;
      readonly flags: number;
      readonly nx: boolean;
    }
  | { readonly op: 'unmap4k'; readonly where: number; readonly slot: number; readonly page: number }
  | { readonly op: 'unmapLarge'; readonly where: number; readonly slot: number }
  | { readonly op: 'switch'; readonly space: number }
  | {
      readonly op: 'access';
      readonly slot: number;
      readonly page: number;
      readonly kind: AccessKind;
      readonly user: boolean;
    };

const SPACES = 3;
const SLOTS = 4;

/** Slot bases (linear, as lo/hi halves): user-half and kernel-half regions, high canonical ones in long modes. */
function slotBase(mode: Mode, slot: number): { lo: number; hi: number } {
  const large = mode === 'legacy32' ? 0x40_0000 : 0x20_0000;
  if (mode === 'legacy32' || mode === 'pae')
    return { lo: [large, 3 * large, 0x8000_0000, 0xc000_0000 - large][slot], hi: 0 };
  const highHi = mode === 'level5' ? 0xff80_0000 : 0xffff_8000;
  return [
    { lo: large, hi: 0 },
    { lo: 0x4000_0000, hi: 0x7f },
    { lo: 0, hi: highHi },
    { lo: 0xc000_0000, hi: highHi + 1 },
  ][slot];
}

const setupArb: fc.Arbitrary<Setup> = fc.record({
  mode: fc.constantFrom<Mode>('legacy32', 'pae', 'level4', 'level5'),
  wp: fc.boolean(),
  nxe: fc.boolean(),
  smep: fc.constantFrom(true, false, false),
  smap: fc.constantFrom(true, false, false),
  pcid: fc.boolean(),
});

/** Mostly true: most mappings are usable, so most accesses get past the guest's checks. */
const likely = fc.constantFrom(true, true, true, false);
const flagsArb = fc
  .record({ rw: likely, us: likely })
  .map(({ rw, us }) => PteFlag.P | (rw ? PteFlag.RW : 0) | (us ? PteFlag.US : 0));
// Biased to a few pages, so that maps, changes, switches and accesses meet on the same pages.
const slotArb = fc.constantFrom(0, 0, 0, 1, 2, 3, 3, 3);
const pageArb = fc.constantFrom(0, 0, 0, 1, 1, 2, 3);
/** Mostly the current address space; sometimes the next one (changed while not current). */
const whereArb = fc.integer({ min: 0, max: 3 });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('map4k' as const),
      where: whereArb,
      slot: slotArb,
      page: pageArb,
      // -1: the root table of the current address space (a guest page-table page mapped as data).
      frame: fc.integer({ min: -1, max: 15 }),
      flags: flagsArb,
      nx: fc.constantFrom(true, false, false),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('mapLarge' as const),
      where: whereArb,
      slot: slotArb,
      frame: fc.integer({ min: 0, max: 1 }),
      flags: flagsArb,
      nx: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('unmap4k' as const),
      where: whereArb,
      slot: slotArb,
      page: pageArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('unmapLarge' as const), where: whereArb, slot: slotArb }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('switch' as const),
      space: fc.integer({ min: 0, max: SPACES - 1 }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('access' as const),
      slot: slotArb,
      page: pageArb,
      kind: fc.constantFrom<AccessKind>(
        AccessKind.Read,
        AccessKind.Read,
        AccessKind.Write,
        AccessKind.Write,
        AccessKind.Execute,
      ),
      user: fc.constantFrom(true, false, false),
    }),
  },
);

/** What a platform showed the guest: a line per access, then the guest's table frames word by word. */
function runGuest(cpu: GuestCpu, setup: Setup, ops: readonly Op[]): string[] {
  const mode = setup.mode;
  const pagingMode =
    mode === 'legacy32'
      ? PagingMode.Legacy32
      : mode === 'pae'
        ? PagingMode.Pae
        : mode === 'level4'
          ? PagingMode.Level4
          : PagingMode.Level5;
  const memory = {
    readWord: (a: number) => cpu.readPhysical(a),
    writeWord: (a: number, v: number) => cpu.writePhysical(a, v),
  };
  const frames = new FrameAllocator(TABLES.start, TABLES.end);
  const spaces = Array.from(
    { length: SPACES },
    () => new PageTableBuilder(memory, pagingMode, () => frames.allocate()),
  );
  const largeSize = mode === 'legacy32' ? PageSize.Size4M : PageSize.Size2M;
  // Slot state per address space: 'large', or the set of 4 KiB pages mapped.
  const slots = spaces.map(() =>
    Array.from({ length: SLOTS }, () => new Set<number>() as Set<number> | 'large'),
  );
  if (mode === 'pae') {
    // Create every PDPTE up front: PAE PDPTEs are loaded into registers with CR3 (SDM vol. 3A §4.4.1).
    for (const b of spaces)
      for (let q = 0; q < 4; q++) {
        b.map(q * 0x4000_0000 + 0x3fe0_0000, DATA);
        b.unmap(q * 0x4000_0000 + 0x3fe0_0000);
      }
  }
  const pcide = setup.pcid && (mode === 'level4' || mode === 'level5');
  const cr3Of = (space: number) => spaces[space].root + (pcide ? space + 1 : 0);
  const lin = (slot: number, page: number) => {
    const b = slotBase(mode, slot);
    return { lo: b.lo + page * 0x1000, hi: b.hi };
  };
  const big = (slot: number, page: number) => {
    const { lo, hi } = lin(slot, page);
    return (BigInt(hi) << 32n) | BigInt(lo);
  };
  const status = cpu.setControlRegisters({
    cr0: Cr0.PE | Cr0.PG | (setup.wp ? Cr0.WP : 0),
    cr3: cr3Of(0),
    cr4:
      (mode === 'legacy32' ? Cr4.PSE : Cr4.PAE) |
      (mode === 'level5' ? Cr4.LA57 : 0) |
      (pcide ? Cr4.PCIDE : 0) |
      (setup.smep ? Cr4.SMEP : 0) |
      (setup.smap ? Cr4.SMAP : 0),
    efer: (mode === 'level4' || mode === 'level5' ? Efer.LME : 0) | (setup.nxe ? Efer.NXE : 0),
  });
  expect(status).toBe(TranslateStatus.Ok);
  let current = 0;
  const stale = new Set<number>();
  const invlpgSlot = (slot: number) => {
    for (let p = 0; p < 4; p++) {
      const { lo, hi } = lin(slot, p);
      cpu.invlpg(lo, hi);
    }
  };
  const changed = (space: number, slot: number, page: number | null) => {
    if (space !== current) {
      stale.add(space);
      return;
    }
    if (page === null) invlpgSlot(slot);
    else {
      const { lo, hi } = lin(slot, page);
      cpu.invlpg(lo, hi);
    }
  };
  const out = new GuestAccess();
  const seen: string[] = [];
  const target = (op: { where: number }) => (op.where >= 2 ? (current + op.where - 1) % SPACES : current);
  for (const op of ops) {
    switch (op.op) {
      case 'map4k': {
        const space = target(op);
        const s = slots[space][op.slot];
        if (s === 'large') break;
        const frame = op.frame < 0 ? spaces[current].root : DATA + op.frame * 0x1000;
        spaces[space].map(big(op.slot, op.page), frame, {
          flags: op.flags,
          noExecute: op.nx && mode !== 'legacy32',
        });
        s.add(op.page);
        changed(space, op.slot, op.page);
        break;
      }
      case 'mapLarge': {
        const space = target(op);
        const base = big(op.slot, 0);
        spaces[space].map(base, LARGE_FRAMES[op.frame], {
          size: largeSize,
          flags: op.flags,
          noExecute: op.nx && mode !== 'legacy32',
        });
        slots[space][op.slot] = 'large';
        changed(space, op.slot, null);
        break;
      }
      case 'unmap4k': {
        const space = target(op);
        const s = slots[space][op.slot];
        if (s === 'large' || !s.has(op.page)) break;
        spaces[space].unmap(big(op.slot, op.page));
        s.delete(op.page);
        changed(space, op.slot, op.page);
        break;
      }
      case 'unmapLarge': {
        const space = target(op);
        if (slots[space][op.slot] !== 'large') break;
        spaces[space].unmap(big(op.slot, 0), largeSize);
        slots[space][op.slot] = new Set();
        changed(space, op.slot, null);
        break;
      }
      case 'switch': {
        if (op.space === current) break;
        // A PCID keeps its translations across the switch unless the space changed meanwhile (SDM vol. 3A §4.10.4.1).
        const noFlush = pcide && !stale.has(op.space);
        stale.delete(op.space);
        expect(cpu.writeCr3(cr3Of(op.space), noFlush)).toBe(TranslateStatus.Ok);
        current = op.space;
        break;
      }
      case 'access': {
        const { lo, hi } = lin(op.slot, op.page);
        const st = cpu.access(lo + 0x10, op.kind, out, op.user ? Privilege.User : Privilege.Supervisor, hi);
        const t = out.translation;
        if (st === TranslateStatus.Ok) {
          seen.push(`ok ${t.guestPhysical.toString(16)}`);
        } else if (st === TranslateStatus.PageFault) {
          seen.push(`#PF ${t.errorCode} cr2 ${cpu.state.cr2Hi.toString(16)}:${cpu.state.cr2Lo.toString(16)}`);
        } else seen.push(`status ${st}`);
        break;
      }
    }
  }
  // The guest's tables, accessed and dirty bits included.
  for (let a = TABLES.start; a < frames.watermark; a += 4) {
    const w = cpu.readPhysical(a);
    if (w !== 0) seen.push(`${a.toString(16)}=${w.toString(16)}`);
  }
  return seen;
}

function compare(withCaches: boolean, setup: Setup, ops: readonly Op[]): void {
  const results = platforms(withCaches).map((p) => ({ name: p.name, seen: runGuest(p.cpu, setup, ops) }));
  const [reference, ...others] = results;
  for (const other of others) {
    expect({ platform: other.name, seen: other.seen }).toEqual({
      platform: other.name,
      seen: reference.seen,
    });
  }
}

/**
 * Programs every run checks besides the random ones: a page filled in one address space, changed
 * while another is current, then read and written again; and a large page replacing a table of
 * small ones. Breaking a shadow-paging rule fails them at once: not zapping on a page-table write,
 * or making a shadow leaf writable before the guest's D is set.
 */
const examples: Array<[Setup, Op[]]> = [
  [
    { mode: 'level4', wp: true, nxe: false, smep: false, smap: false, pcid: true },
    [
      { op: 'map4k', where: 0, slot: 0, page: 0, frame: 1, flags: 7, nx: false },
      { op: 'access', slot: 0, page: 0, kind: AccessKind.Read, user: false },
      { op: 'switch', space: 1 },
      { op: 'map4k', where: 3, slot: 0, page: 0, frame: 5, flags: 7, nx: false },
      { op: 'switch', space: 0 },
      { op: 'access', slot: 0, page: 0, kind: AccessKind.Read, user: false },
      // A write after a read: the walk must set D (SDM vol. 3A §4.8) here too.
      { op: 'access', slot: 0, page: 0, kind: AccessKind.Write, user: false },
    ],
  ],
  [
    { mode: 'pae', wp: true, nxe: true, smep: false, smap: false, pcid: false },
    [
      { op: 'map4k', where: 0, slot: 1, page: 1, frame: 2, flags: 7, nx: false },
      { op: 'access', slot: 1, page: 1, kind: AccessKind.Write, user: true },
      { op: 'mapLarge', where: 0, slot: 1, frame: 1, flags: 5, nx: true },
      { op: 'access', slot: 1, page: 1, kind: AccessKind.Write, user: true },
      { op: 'access', slot: 1, page: 1, kind: AccessKind.Execute, user: true },
      { op: 'access', slot: 1, page: 2, kind: AccessKind.Read, user: true },
    ],
  ],
];

describe('one guest, five platforms: the same guest-visible results', () => {
  it('without TLBs: every access and the final tables agree exactly', () => {
    fc.assert(
      fc.property(setupArb, fc.array(opArb, { minLength: 10, maxLength: 60 }), (setup, ops) =>
        compare(false, setup, ops),
      ),
      { numRuns: 80, examples },
    );
  });

  it('with TLBs and walk caches, for a kernel that invalidates correctly', () => {
    fc.assert(
      fc.property(setupArb, fc.array(opArb, { minLength: 10, maxLength: 60 }), (setup, ops) =>
        compare(true, setup, ops),
      ),
      { numRuns: 80, examples },
    );
  });
});
