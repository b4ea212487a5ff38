/**
 * Property: for any sequence of fills, lookups and invalidations, a TLB organization never returns a
 * translation that the reference model (a plain list with the same architectural rules and no
 * capacity limit) would not return, and whenever it hits it returns exactly one of the reference's
 * translations: same physical address, same permissions, a page no larger. So no cached translation
 * outlives the invalidation that should remove it, whatever the geometry, policy or hierarchy.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccessKind } from './access-kind.js';
import { PageSize } from './page-size.js';
import { Need, Perm, permClear } from './perm.js';
import { goldenCoveTlb, skylakeTlb, zen4Tlb, zen5Tlb, zenTlb } from './presets.js';
import { ReferenceTlb } from './reference-tlb.test-helper.js';
import { ASID_NONE, TagTable } from './tag-table.js';
import { TlbHierarchy } from './tlb-hierarchy.js';
import { TLB_MISS, TLB_PERMISSION_MISS, type TlbOrganization } from './tlb-organization.js';
import { TranslationCache } from './translation-cache.js';

const { Size4K, Size2M, Size4M, Size1G } = PageSize;
const ALL = [Size4K, Size2M, Size4M, Size1G];
const ROOT = 0x4000;

/** Contexts: [asid, pcid, root] triples, plus one guest-physical context (index 6). */
const CONTEXTS: readonly (readonly [number, number, number])[] = [
  [0, 0, -1],
  [1, 0, -1],
  [1, 1, -1],
  [2, 0, -1],
  [1, 0, ROOT],
  [2, 1, ROOT],
];

/** Page numbers chosen to collide: the same 4 KiB page, its large pages' edges, and aliases in sets. */
const VPNS = [
  0,
  1,
  2,
  3,
  16,
  17,
  48,
  511,
  512,
  513,
  1023,
  1024,
  1025,
  2047,
  0x3ffff,
  0x40000,
  0x40001,
  0x40200,
  0x7ffff,
  2 ** 44 + 5,
  2 ** 45 - 1,
];

const NEEDS = [Need.Read, Need.Write, Need.Execute, Need.User, Need.User | Need.Write, permClear(Perm.User)];

type Command =
  | { op: 'fill'; ctx: number; vpn: number; access: AccessKind; size: PageSize; frame: number; perms: number }
  | { op: 'lookup'; ctx: number; vpn: number; access: AccessKind; need: number }
  | { op: 'flush'; kind: number; asid: number; pcid: number; vpn: number; globals: boolean; root: number };

const ctxArb = fc.integer({ min: 0, max: CONTEXTS.length });
const vpnArb = fc.constantFrom(...VPNS);
const accessArb = fc.constantFrom<AccessKind>(AccessKind.Read, AccessKind.Write, AccessKind.Execute);

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('fill' as const),
      ctx: ctxArb,
      vpn: vpnArb,
      access: accessArb,
      size: fc.constantFrom(...ALL),
      // Few frames and permission sets, so that the same translation is often filled again from
      // another address of its page: that is what builds several pieces of one splintered page.
      frame: fc.integer({ min: 0, max: 2 }),
      perms: fc.constantFrom(0, Perm.Write | Perm.Dirty, Perm.Global | Perm.User | Perm.Execute, 31),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('lookup' as const),
      ctx: ctxArb,
      vpn: vpnArb,
      access: accessArb,
      need: fc.constantFrom(...NEEDS),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('flush' as const),
      kind: fc.integer({ min: 0, max: 8 }),
      asid: fc.constantFrom(0, 1, 2, ASID_NONE),
      pcid: fc.constantFrom(0, 1),
      vpn: vpnArb,
      globals: fc.boolean(),
      root: fc.constantFrom(ROOT, 0x8000),
    }),
  },
);

/** Whether stored permissions `perms` satisfy a lookup's `need` (its low byte set, its second byte clear). */
function satisfies(perms: number, need: number): boolean {
  return (perms & need & 0xff) === (need & 0xff) && (perms & (need >>> 8)) === 0;
}

function run(make: (tags: TagTable) => TlbOrganization, commands: readonly Command[]): void {
  const tags = new TagTable();
  const tlb = make(tags);
  const ref = new ReferenceTlb(tags);
  const handles = CONTEXTS.map(([a, p, r]) => tags.context(a, p, r));
  handles.push(tags.nestedContext(ASID_NONE, ROOT));
  for (const c of commands) {
    if (c.op === 'fill') {
      const base = c.frame * c.size;
      tlb.fill(handles[c.ctx], c.vpn, c.access, c.size, base, c.perms);
      ref.fill(handles[c.ctx], c.vpn, c.size, base, c.perms);
    } else if (c.op === 'lookup') {
      const got = tlb.lookup(handles[c.ctx], c.vpn, c.access, c.need);
      if (got === TLB_MISS) continue;
      const candidates = ref.candidates(handles[c.ctx], c.vpn);
      if (got === TLB_PERMISSION_MISS) {
        // The matched entry is one of the reference's translations, one this access may not use.
        const ok = candidates.some((e) => e.perms === tlb.hitPerms && !satisfies(e.perms, c.need));
        expect(ok, `permission miss without a matching translation: ${JSON.stringify(c)}`).toBe(true);
        continue;
      }
      const match = candidates.find(
        (e) =>
          ReferenceTlb.frame(e, c.vpn) === got &&
          e.perms === tlb.hitPerms &&
          satisfies(e.perms, c.need) &&
          tlb.hitPageSize <= e.size,
      );
      expect(
        match,
        `hit ${got} not in the reference: ${JSON.stringify(c)} ${JSON.stringify(candidates)}`,
      ).toBeDefined();
    } else {
      switch (c.kind) {
        case 0:
          tlb.flushAll();
          ref.flushAll();
          break;
        case 1:
          tlb.flushAddressSpace(c.asid);
          ref.flushAddressSpace(c.asid);
          break;
        case 2:
          tlb.flushAddressSpaceNonGlobal(c.asid);
          ref.flushAddressSpaceNonGlobal(c.asid);
          break;
        case 3:
          tlb.flushGuests();
          ref.flushGuests();
          break;
        case 4:
          tlb.flushAddress(c.asid, c.vpn);
          ref.flushAddress(c.asid, c.vpn);
          break;
        case 5:
          tlb.flushAddressInPcid(c.asid, c.pcid, c.vpn, c.globals);
          ref.flushAddressInPcid(c.asid, c.pcid, c.vpn, c.globals);
          break;
        case 6:
          tlb.flushPcid(c.asid, c.pcid, c.globals);
          ref.flushPcid(c.asid, c.pcid, c.globals);
          break;
        case 7:
          tlb.flushNestedRoot(c.root);
          ref.flushNestedRoot(c.root);
          break;
        default:
          tlb.flushAllNestedRoots();
          ref.flushAllNestedRoots();
      }
    }
  }
}

const organizations: readonly [string, (tags: TagTable) => TlbOrganization][] = [
  [
    'direct-mapped, 8 entries, 4 KiB',
    (t) => new TranslationCache({ entries: 8, ways: 1, pageSizes: [Size4K] }, t),
  ],
  [
    '2-way, 16 entries, every size, tree-PLRU',
    (t) => new TranslationCache({ entries: 16, ways: 2, pageSizes: ALL, policy: 'tree-plru' }, t),
  ],
  [
    '4-way, 16 entries, 4 KiB and 2 MiB, FIFO',
    (t) => new TranslationCache({ entries: 16, ways: 4, pageSizes: [Size4K, Size2M], policy: 'fifo' }, t),
  ],
  [
    '2-way, 12 entries (6 sets), 4 KiB, random',
    (t) => new TranslationCache({ entries: 12, ways: 2, pageSizes: [Size4K], policy: 'random', seed: 7 }, t),
  ],
  [
    'fully associative, 6 entries, every size, LRU',
    (t) => new TranslationCache({ entries: 6, ways: 6, pageSizes: ALL }, t),
  ],
  [
    '1 GiB only, no splintering',
    (t) => new TranslationCache({ entries: 4, ways: 2, pageSizes: [Size1G], splinter: false }, t),
  ],
  ...(['inclusive', 'non-inclusive'] as const).map(
    (inclusion) =>
      [
        `small split hierarchy, ${inclusion}`,
        (t: TagTable) =>
          new TlbHierarchy(
            {
              name: inclusion,
              levels: [
                { name: 'I', caches: [{ entries: 2, ways: 2, pageSizes: [Size4K] }] },
                {
                  name: 'D',
                  caches: [
                    { entries: 4, ways: 2, pageSizes: [Size4K] },
                    { entries: 2, ways: 2, pageSizes: [Size2M, Size1G] },
                  ],
                },
                {
                  name: 'L2',
                  caches: [{ entries: 8, ways: 2, pageSizes: [Size4K, Size2M], policy: 'tree-plru' }],
                },
              ],
              instructionPath: ['I', 'L2'],
              dataPath: ['D', 'L2'],
              inclusion,
            },
            t,
          ),
      ] as [string, (tags: TagTable) => TlbOrganization],
  ),
  [
    'hierarchy filling the last level only',
    (t) =>
      new TlbHierarchy(
        {
          name: 'last',
          levels: [
            { name: 'L1', caches: [{ entries: 2, ways: 1, pageSizes: [Size4K] }] },
            { name: 'L2', caches: [{ entries: 8, ways: 4, pageSizes: ALL }] },
          ],
          instructionPath: ['L1', 'L2'],
          dataPath: ['L1', 'L2'],
          fillPolicy: 'last',
        },
        t,
      ),
  ],
  ['Skylake-class preset', (t) => new TlbHierarchy(skylakeTlb.config, t)],
  ['Zen-class preset', (t) => new TlbHierarchy(zenTlb.config, t)],
  ['Golden Cove-class preset', (t) => new TlbHierarchy(goldenCoveTlb.config, t)],
  ['Zen 4-class preset', (t) => new TlbHierarchy(zen4Tlb.config, t)],
  ['Zen 5-class preset', (t) => new TlbHierarchy(zen5Tlb.config, t)],
];

describe('a TLB never returns what the reference would not', () => {
  for (const [name, make] of organizations) {
    it(name, () => {
      fc.assert(
        fc.property(fc.array(commandArb, { minLength: 1, maxLength: 100 }), (commands) =>
          run(make, commands),
        ),
        { numRuns: 500 },
      );
    });
  }
});
