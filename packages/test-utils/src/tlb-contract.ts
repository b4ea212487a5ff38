/**
 * The contract every TLB organization must pass: one suite, run against every geometry, policy and
 * hierarchy of @hvsim/tlb-tagged in `tlb-contract.test.ts`, and for any organization of your own
 * (STYLE.md: shared contract suites live in a test-utils package).
 *
 * Expected values come from the architecture and from the replacement-policy definitions in
 * `replacement-policy.ts` of @hvsim/tlb-tagged, worked out by hand in the comments below, never from running the code.
 */

import {
  AccessKind,
  ASID_NONE,
  Need,
  PageSize,
  Perm,
  permClear,
  TLB_MISS,
  TLB_PERMISSION_MISS,
  type TlbOrganization,
} from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';

const { Read, Write, Execute } = AccessKind;
const KiB4 = 4096;
const MiB2 = 2 * 1024 * 1024;
const GiB1 = 1024 * 1024 * 1024;
const ROOT_A = 0x1234_5000;
const ROOT_B = 0x9876_5000;

/** Replacement facts of a single-structure organization, for the hand-worked victim sequences. */
export interface ReplacementUnderTest {
  readonly policy: 'lru' | 'tree-plru' | 'fifo' | 'random';
  readonly ways: number;
  readonly sets: number;
  /** Seed of the random policy. */
  readonly seed?: number;
}

/** An organization the contract runs against. */
export interface OrganizationUnderTest {
  readonly name: string;
  /** A fresh, empty organization. */
  readonly make: () => TlbOrganization;
  /** Set for single structures whose victims the suite can predict. */
  readonly replacement?: ReplacementUnderTest;
}

/**
 * Tree-PLRU victims of the sequence "fill P0..P(W-1) into ways 0..W-1, hit P0, fill N1, fill N2", by
 * way count W, worked out by hand from the definition (node [lo, hi) splits at lo + ceil((hi-lo)/2);
 * a use points every node on its path away from the used way; the victim follows the bits):
 * - After the fills every node points left (the last use under any node was its rightmost way, which
 *   lies in its right half). The hit of way 0 points every node on way 0's path right.
 * - W=2: root points right: N1 evicts way 1; N1's use points the root left: N2 evicts way 0.
 * - W=4: root right, node [2,4) left: N1 evicts way 2. N1 points root left and [2,4) right; node
 *   [0,2) points right since the hit of way 0: N2 evicts way 1.
 * - W=8: root right, [4,8) left, [4,6) left: N1 evicts way 4. Then root left, [0,4) right (hit of 0),
 *   [2,4) left (last use was way 3): N2 evicts way 2.
 * - W=12: root [0,12) splits at 6, [6,12) at 9, [6,9) at 8, [6,8) at 7. Root right, [6,12) left,
 *   [6,9) left, [6,8) left: N1 evicts way 6. Then root left, [0,6) right (hit of 0), [3,6) splits at 5
 *   and points left (last use was way 5), [3,5) splits at 4 and points left (last use way 4): N2
 *   evicts way 3.
 * - W=16: N1 evicts way 8 (root right, then left, left, left); N2 evicts way 4 (root left, [0,8)
 *   right, [4,8) left, [4,6) left).
 * - W=64 (a fully associative L1, whose tree no longer fits one word): N1 evicts way 32 (root right,
 *   then left five times); N2 evicts way 16 (root left, [0,32) right, then left four times).
 */
const PLRU_VICTIMS: Readonly<Record<number, readonly [number, number]>> = {
  2: [1, 0],
  4: [2, 1],
  8: [4, 2],
  12: [6, 3],
  16: [8, 4],
  64: [32, 16],
};

/**
 * LRU victims of the same sequence: after the hit of P0 the use order, oldest first, is P1, P2, ...,
 * P(W-1), P0. N1 evicts P1 (way 1). N2 evicts the next oldest: P2 (way 2) when W >= 3, else P0.
 */
function lruVictims(ways: number): readonly [number, number] {
  return ways >= 3 ? [1, 2] : [1, 0];
}

/** FIFO victims: hits do not count, so N1 evicts the first fill (way 0) and N2 the second (way 1). */
function fifoVictims(ways: number): readonly [number, number] {
  return ways >= 2 ? [0, 1] : [0, 0];
}

/** Runs the contract against one organization. */
export function describeTlbContract(org: OrganizationUnderTest): void {
  describe(`TLB contract: ${org.name}`, () => {
    const setup = () => {
      const tlb = org.make();
      const t = tlb.tags;
      return {
        tlb,
        host: t.context(0, 0),
        a0: t.context(1, 0),
        a3: t.context(1, 3),
        b0: t.context(2, 0),
        rootA: t.context(1, 0, ROOT_A),
        rootA2: t.context(2, 5, ROOT_A),
        rootB: t.context(1, 0, ROOT_B),
        gpaA: t.nestedContext(ASID_NONE, ROOT_A),
      };
    };

    it('hits after a fill and returns the physical address of the accessed 4 KiB page', () => {
      const { tlb, a0 } = setup();
      expect(tlb.lookup(a0, 0x10, Read, Need.Read)).toBe(TLB_MISS);
      expect(tlb.fill(a0, 0x10, Read, PageSize.Size4K, 0x7_0000_0000_0000 + 0x3000, Perm.Write)).toBe(true);
      expect(tlb.lookup(a0, 0x10, Read, Need.Read)).toBe(0x7_0000_0000_3000);
      expect(tlb.hitPerms).toBe(Perm.Write);
      expect(tlb.hitPageSize).toBe(PageSize.Size4K);
    });

    it('keeps the attribute word the MMU stored', () => {
      const { tlb, a0 } = setup();
      tlb.fill(a0, 0x11, Read, PageSize.Size4K, 0x5000, 0, 0x6a5);
      expect(tlb.lookup(a0, 0x11, Read, Need.Read)).toBe(0x5000);
      expect(tlb.hitAttrs).toBe(0x6a5);
    });

    for (const [size, bytes, name] of [
      [PageSize.Size2M, MiB2, '2 MiB'],
      [PageSize.Size4M, 2 * MiB2, '4 MiB'],
      [PageSize.Size1G, GiB1, '1 GiB'],
    ] as const) {
      it(`translates every 4 KiB page of a ${name} page it hits on (whole or splintered)`, () => {
        const { tlb, a0 } = setup();
        const span = bytes / KiB4;
        const first = 5 * span; // the sixth page of this size
        const base = 7 * bytes;
        const vpn = first + span / 2 + 3;
        tlb.fill(a0, vpn, Read, size, base, Perm.Write | Perm.Dirty);
        // The accessed page always hits; its frame is the page base plus its offset in the page.
        expect(tlb.lookup(a0, vpn, Write, Need.Write)).toBe(base + (span / 2 + 3) * KiB4);
        expect(tlb.hitPageSize === size || tlb.hitPageSize < size).toBe(true);
        // Other pages of the same large page hit with their own frame, or miss (a splintered entry).
        for (const v of [first, first + 1, first + span - 1]) {
          const r = tlb.lookup(a0, v, Read, Need.Read);
          if (r !== TLB_MISS) expect(r).toBe(base + (v - first) * KiB4);
        }
        // Pages outside it never hit.
        expect(tlb.lookup(a0, first - 1, Read, Need.Read)).toBe(TLB_MISS);
        expect(tlb.lookup(a0, first + span, Read, Need.Read)).toBe(TLB_MISS);
      });
    }

    it('compares cached permissions: a cached entry never grants more than its walk did', () => {
      const { tlb, a0 } = setup();
      tlb.fill(a0, 0x20, Read, PageSize.Size4K, 0x1000, 0); // supervisor, read-only, no-execute
      expect(tlb.lookup(a0, 0x20, Read, Need.Read)).toBe(0x1000);
      expect(tlb.lookup(a0, 0x20, Write, Need.Write)).toBe(TLB_PERMISSION_MISS);
      expect(tlb.lookup(a0, 0x20, Read, Need.User)).toBe(TLB_PERMISSION_MISS);
      expect(tlb.lookup(a0, 0x20, Read, permClear(Perm.User))).toBe(0x1000);
      // Fetches look up the instruction path: fill those pages with a fetch.
      tlb.fill(a0, 0x22, Execute, PageSize.Size4K, 0x3000, Perm.Write);
      expect(tlb.lookup(a0, 0x22, Execute, Need.Execute)).toBe(TLB_PERMISSION_MISS);
      tlb.fill(a0, 0x21, Execute, PageSize.Size4K, 0x2000, Perm.User | Perm.Execute);
      // SMEP: a supervisor fetch needs a supervisor page (SDM vol. 3A §4.6.1).
      expect(tlb.lookup(a0, 0x21, Execute, Need.Execute | permClear(Perm.User))).toBe(TLB_PERMISSION_MISS);
      expect(tlb.lookup(a0, 0x21, Execute, Need.Execute | Need.User)).toBe(0x2000);
    });

    it('reports a write to an entry cached with D=0 as a miss, and hits once the walk refills it dirty', () => {
      const { tlb, a0 } = setup();
      tlb.fill(a0, 0x30, Read, PageSize.Size4K, 0x3000, Perm.Write | Perm.User);
      expect(tlb.lookup(a0, 0x30, Read, Need.Read | Need.User)).toBe(0x3000);
      expect(tlb.lookup(a0, 0x30, Write, Need.Write | Need.User)).toBe(TLB_PERMISSION_MISS);
      expect(tlb.hitPerms & Perm.Dirty).toBe(0);
      tlb.fill(a0, 0x30, Write, PageSize.Size4K, 0x3000, Perm.Write | Perm.User | Perm.Dirty);
      expect(tlb.lookup(a0, 0x30, Write, Need.Write | Need.User)).toBe(0x3000);
    });

    it('replaces whatever a lookup for the filled address would have hit', () => {
      const { tlb, a0 } = setup();
      tlb.fill(a0, 0x40, Read, PageSize.Size4K, 0x4000, 0);
      tlb.fill(a0, 0x40, Read, PageSize.Size4K, 0x8000, Perm.Write);
      expect(tlb.lookup(a0, 0x40, Read, Need.Read)).toBe(0x8000);
      expect(tlb.hitPerms).toBe(Perm.Write);
      // A global fill for the same address replaces the non-global entry of the filling PCID.
      tlb.fill(a0, 0x40, Read, PageSize.Size4K, 0xc000, Perm.Global);
      expect(tlb.lookup(a0, 0x40, Read, Need.Read)).toBe(0xc000);
    });

    it('never hits across address spaces, PCIDs or nested roots', () => {
      const { tlb, a0, a3, b0, host, rootA, rootB } = setup();
      tlb.fill(a0, 0x50, Read, PageSize.Size4K, 0x5000, 0);
      expect(tlb.lookup(a0, 0x50, Read, Need.Read)).toBe(0x5000);
      for (const other of [a3, b0, host, rootA, rootB])
        expect(tlb.lookup(other, 0x50, Read, Need.Read)).toBe(TLB_MISS);
      tlb.fill(rootA, 0x51, Read, PageSize.Size4K, 0x6000, 0);
      expect(tlb.lookup(rootA, 0x51, Read, Need.Read)).toBe(0x6000);
      for (const other of [a0, rootB]) expect(tlb.lookup(other, 0x51, Read, Need.Read)).toBe(TLB_MISS);
    });

    it('matches global entries under every PCID of their address space and nested root, and nowhere else', () => {
      const { tlb, a0, a3, b0, host, rootA } = setup();
      const t = tlb.tags;
      tlb.fill(a0, 0x60, Read, PageSize.Size4K, 0x7000, Perm.Global);
      expect(tlb.lookup(a3, 0x60, Read, Need.Read)).toBe(0x7000);
      expect(tlb.lookup(t.context(1, 4095), 0x60, Read, Need.Read)).toBe(0x7000);
      expect(tlb.hitPerms & Perm.Global).toBe(Perm.Global);
      // AMD APM vol. 2 §15.16: global pages are global only within their ASID.
      for (const other of [b0, host, rootA]) expect(tlb.lookup(other, 0x60, Read, Need.Read)).toBe(TLB_MISS);
    });

    it('keeps guest-physical (nested-context) entries apart from linear ones', () => {
      const { tlb, gpaA, rootA } = setup();
      tlb.fill(gpaA, 0x70, Read, PageSize.Size4K, 0x9000, Perm.Write);
      expect(tlb.lookup(gpaA, 0x70, Read, Need.Read)).toBe(0x9000);
      expect(tlb.lookup(rootA, 0x70, Read, Need.Read)).toBe(TLB_MISS);
    });

    describe('invalidations', () => {
      /** A fixed population: one 4 KiB page each, at distinct page numbers so no two share a set. */
      const populate = (s: ReturnType<typeof setup>) => {
        const { tlb } = s;
        const t = tlb.tags;
        const pages = {
          hostPage: { ctx: s.host, vpn: 0x80, perms: 0 },
          a0Page: { ctx: s.a0, vpn: 0x81, perms: 0 },
          a3Page: { ctx: s.a3, vpn: 0x82, perms: 0 },
          aGlobal: { ctx: s.a0, vpn: 0x83, perms: Perm.Global },
          b0Page: { ctx: s.b0, vpn: 0x84, perms: 0 },
          rootAPage: { ctx: s.rootA, vpn: 0x85, perms: 0 },
          rootA2Page: { ctx: s.rootA2, vpn: 0x86, perms: 0 },
          rootBPage: { ctx: s.rootB, vpn: 0x87, perms: 0 },
          gpaPage: { ctx: s.gpaA, vpn: 0x88, perms: 0 },
        };
        for (const [i, p] of Object.values(pages).entries()) {
          tlb.fill(p.ctx, p.vpn, Read, PageSize.Size4K, (i + 1) * KiB4, p.perms);
        }
        const hits = (name: keyof typeof pages): boolean =>
          tlb.lookup(pages[name].ctx, pages[name].vpn, Read, Need.Read) >= 0;
        return { t, pages, hits };
      };
      type Name = keyof ReturnType<typeof populate>['pages'];
      const all: Name[] = [
        'hostPage',
        'a0Page',
        'a3Page',
        'aGlobal',
        'b0Page',
        'rootAPage',
        'rootA2Page',
        'rootBPage',
        'gpaPage',
      ];

      const check = (flush: (tlb: TlbOrganization) => void, removed: readonly Name[]) => {
        const s = setup();
        const { hits } = populate(s);
        for (const n of all) expect(hits(n), `${n} before`).toBe(true);
        flush(s.tlb);
        for (const n of all) expect(hits(n), n).toBe(!removed.includes(n));
      };

      it('flushAll removes everything', () => {
        check((t) => t.flushAll(), all);
      });

      it('flushAddressSpace removes every entry of the ASID/VPID, globals and combined ones included', () => {
        check((t) => t.flushAddressSpace(1), ['a0Page', 'a3Page', 'aGlobal', 'rootAPage', 'rootBPage']);
      });

      it('flushAddressSpaceNonGlobal keeps the global entries', () => {
        check((t) => t.flushAddressSpaceNonGlobal(1), ['a0Page', 'a3Page', 'rootAPage', 'rootBPage']);
      });

      it('flushGuests removes every VPID but 0, and no guest-physical entry', () => {
        check(
          (t) => t.flushGuests(),
          ['a0Page', 'a3Page', 'aGlobal', 'b0Page', 'rootAPage', 'rootA2Page', 'rootBPage'],
        );
      });

      it('flushPcid removes one PCID, with globals only when asked', () => {
        check((t) => t.flushPcid(1, 0, false), ['a0Page', 'rootAPage', 'rootBPage']);
        check((t) => t.flushPcid(1, 0, true), ['a0Page', 'aGlobal', 'rootAPage', 'rootBPage']);
        check((t) => t.flushPcid(1, 3, false), ['a3Page']);
      });

      it('flushNestedRoot removes combined and guest-physical mappings of that root only', () => {
        check((t) => t.flushNestedRoot(ROOT_A), ['rootAPage', 'rootA2Page', 'gpaPage']);
      });

      it('flushAllNestedRoots removes every combined and guest-physical mapping, no linear one', () => {
        check((t) => t.flushAllNestedRoots(), ['rootAPage', 'rootA2Page', 'rootBPage', 'gpaPage']);
      });

      it('flushAddress removes one page of one ASID in every PCID, globals included', () => {
        const s = setup();
        const { tlb, a0, a3, b0 } = s;
        tlb.fill(a0, 0x90, Read, PageSize.Size4K, 0x1000, 0);
        tlb.fill(a3, 0x90, Read, PageSize.Size4K, 0x2000, 0);
        tlb.fill(b0, 0x90, Read, PageSize.Size4K, 0x3000, 0);
        tlb.fill(a0, 0x91, Read, PageSize.Size4K, 0x4000, Perm.Global);
        tlb.fill(a0, 0x92, Read, PageSize.Size4K, 0x5000, 0);
        tlb.flushAddress(1, 0x90);
        tlb.flushAddress(1, 0x91);
        expect(tlb.lookup(a0, 0x90, Read, Need.Read)).toBe(TLB_MISS);
        expect(tlb.lookup(a3, 0x90, Read, Need.Read)).toBe(TLB_MISS);
        expect(tlb.lookup(a3, 0x91, Read, Need.Read)).toBe(TLB_MISS);
        expect(tlb.lookup(b0, 0x90, Read, Need.Read)).toBe(0x3000);
        expect(tlb.lookup(a0, 0x92, Read, Need.Read)).toBe(0x5000);
      });

      it('flushAddressInPcid removes the page of one PCID, and its global entry only when asked (INVLPG vs INVPCID type 0)', () => {
        const s = setup();
        const { tlb, a0, a3 } = s;
        const fillAll = () => {
          tlb.fill(a0, 0xa0, Read, PageSize.Size4K, 0x1000, 0);
          tlb.fill(a3, 0xa0, Read, PageSize.Size4K, 0x2000, 0);
          tlb.fill(a3, 0xa1, Read, PageSize.Size4K, 0x3000, Perm.Global);
        };
        fillAll();
        tlb.flushAddressInPcid(1, 0, 0xa0, false);
        tlb.flushAddressInPcid(1, 0, 0xa1, false);
        expect(tlb.lookup(a0, 0xa0, Read, Need.Read)).toBe(TLB_MISS);
        expect(tlb.lookup(a3, 0xa0, Read, Need.Read)).toBe(0x2000);
        expect(tlb.lookup(a0, 0xa1, Read, Need.Read)).toBe(0x3000);
        tlb.flushAddressInPcid(1, 0, 0xa1, true);
        expect(tlb.lookup(a0, 0xa1, Read, Need.Read)).toBe(TLB_MISS);
        expect(tlb.lookup(a3, 0xa1, Read, Need.Read)).toBe(TLB_MISS);
      });

      for (const [size, bytes, name] of [
        [PageSize.Size2M, MiB2, '2 MiB'],
        [PageSize.Size4M, 2 * MiB2, '4 MiB'],
        [PageSize.Size1G, GiB1, '1 GiB'],
      ] as const) {
        it(`an address invalidation anywhere in a ${name} page removes all of it, splinters included`, () => {
          const { tlb, a0 } = setup();
          const span = bytes / KiB4;
          const first = 3 * span;
          // Offsets 1, 2 and -1 from multiples of 16 keep the pieces in different sets of any
          // structure with up to 16 sets, so capacity cannot explain a miss.
          const probes = [first + 1, first + span / 2 + 2, first + span - 1];
          for (const v of probes) tlb.fill(a0, v, Read, size, 3 * bytes, 0);
          for (const v of probes)
            expect(tlb.lookup(a0, v, Read, Need.Read)).toBe(3 * bytes + (v - first) * KiB4);
          tlb.flushAddress(1, first + 7);
          for (const v of probes) expect(tlb.lookup(a0, v, Read, Need.Read)).toBe(TLB_MISS);
          for (const v of probes) tlb.fill(a0, v, Read, size, 3 * bytes, 0);
          tlb.flushAddressInPcid(1, 0, first + span - 2, true);
          for (const v of probes) expect(tlb.lookup(a0, v, Read, Need.Read)).toBe(TLB_MISS);
        });
      }
    });

    const r = org.replacement;
    if (r !== undefined) {
      describe(`replacement (${r.policy}, ${r.ways}-way)`, () => {
        // Pages k * sets all map to set 0 (set index = page number mod sets).
        const page = (k: number) => k * r.sets;
        const base = (k: number) => (k + 1) * 0x10_0000;
        const run = () => {
          const { tlb, a0 } = setup();
          for (let k = 0; k < r.ways; k++) tlb.fill(a0, page(k), Read, PageSize.Size4K, base(k), 0);
          for (let k = 0; k < r.ways; k++) expect(tlb.lookup(a0, page(k), Read, Need.Read)).toBe(base(k));
          // The lookups above touched ways 0..W-1 in order again, as the fills did: the state is as
          // after the fills alone for every policy (LRU order, tree bits, FIFO fill order all agree).
          tlb.lookup(a0, page(0), Read, Need.Read); // hit P0
          return { tlb, a0 };
        };
        const victimsOf = (): readonly [number, number] | undefined => {
          if (r.policy === 'lru') return lruVictims(r.ways);
          if (r.policy === 'fifo') return fifoVictims(r.ways);
          if (r.policy === 'tree-plru') return PLRU_VICTIMS[r.ways];
          return undefined;
        };
        const victims = r.ways >= 2 ? victimsOf() : undefined;
        if (r.ways === 1) {
          it('direct-mapped: a fill replaces the page in its set', () => {
            const { tlb, a0 } = setup();
            tlb.fill(a0, page(0), Read, PageSize.Size4K, base(0), 0);
            tlb.fill(a0, page(1), Read, PageSize.Size4K, base(1), 0);
            expect(tlb.lookup(a0, page(0), Read, Need.Read)).toBe(TLB_MISS);
            expect(tlb.lookup(a0, page(1), Read, Need.Read)).toBe(base(1));
          });
        }
        if (victims !== undefined) {
          it(`evicts ways ${victims[0]} then ${victims[1]} on the hand-worked sequence`, () => {
            const { tlb, a0 } = run();
            const n1 = r.ways;
            const n2 = r.ways + 1;
            tlb.fill(a0, page(n1), Read, PageSize.Size4K, base(n1), 0);
            tlb.fill(a0, page(n2), Read, PageSize.Size4K, base(n2), 0);
            const evicted = new Set([victims[0], victims[1]]);
            for (let k = 0; k < r.ways; k++) {
              const got = tlb.lookup(a0, page(k), Read, Need.Read);
              expect(got, `P${k}`).toBe(evicted.has(k) ? TLB_MISS : base(k));
            }
            expect(tlb.lookup(a0, page(n1), Read, Need.Read)).toBe(base(n1));
            expect(tlb.lookup(a0, page(n2), Read, Need.Read)).toBe(base(n2));
          });
        }
        if (r.policy === 'random' && r.ways === 4 && (r.seed ?? 1) === 1) {
          it('evicts way 1 first with seed 1 (xorshift32: 1 -> 270369, and 270369 mod 4 = 1)', () => {
            // 1 ^ (1 << 13) = 8193; 8193 ^ (8193 >>> 17) = 8193; 8193 ^ (8193 << 5) = 8193 ^ 262176 = 270369.
            const { tlb, a0 } = run();
            tlb.fill(a0, page(r.ways), Read, PageSize.Size4K, base(r.ways), 0);
            for (let k = 0; k < r.ways; k++) {
              expect(tlb.lookup(a0, page(k), Read, Need.Read), `P${k}`).toBe(k === 1 ? TLB_MISS : base(k));
            }
          });
        }
        it.runIf(r.ways >= 2)('fills an invalid way before evicting anything', () => {
          const { tlb, a0 } = setup();
          for (let k = 0; k < r.ways; k++) tlb.fill(a0, page(k), Read, PageSize.Size4K, base(k), 0);
          tlb.flushAddress(1, page(1));
          tlb.fill(a0, page(r.ways), Read, PageSize.Size4K, base(r.ways), 0);
          for (let k = 0; k < r.ways; k++) {
            expect(tlb.lookup(a0, page(k), Read, Need.Read)).toBe(k === 1 ? TLB_MISS : base(k));
          }
          expect(tlb.lookup(a0, page(r.ways), Read, Need.Read)).toBe(base(r.ways));
        });
      });
    }
  });
}
