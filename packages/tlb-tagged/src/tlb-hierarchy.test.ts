import { describe, expect, it } from 'vitest';
import { AccessKind } from './access-kind.js';
import { OtherCounter } from './cache-stats.js';
import { PageSize } from './page-size.js';
import { WalkEntry } from './paging-structure-cache.js';
import { Need, Perm } from './perm.js';
import { noTlb } from './presets.js';
import { ASID_NONE } from './tag-table.js';
import { type Inclusion, TlbHierarchy, type TlbHierarchyConfig } from './tlb-hierarchy.js';
import { HitWord, TLB_MISS, TLB_PERMISSION_MISS } from './tlb-organization.js';

const { Read, Write, Execute } = AccessKind;
const { Size4K, Size2M, Size1G } = PageSize;

/** L1I and L1D (4 entries, fully associative) over a 2-entry direct-mapped L2 (2 sets). */
function tiny(extra: Partial<TlbHierarchyConfig> = {}): TlbHierarchy {
  return new TlbHierarchy({
    name: 'tiny',
    levels: [
      { name: 'L1I', caches: [{ name: 'L1I', entries: 4, ways: 4, pageSizes: [Size4K] }] },
      { name: 'L1D', caches: [{ name: 'L1D', entries: 4, ways: 4, pageSizes: [Size4K, Size2M] }] },
      { name: 'L2', caches: [{ name: 'L2', entries: 2, ways: 1, pageSizes: [Size4K, Size2M] }] },
    ],
    instructionPath: ['L1I', 'L2'],
    dataPath: ['L1D', 'L2'],
    ...extra,
  });
}

function occupancy(h: TlbHierarchy): Record<string, number> {
  return Object.fromEntries(h.structures.map((s) => [s.name, s.occupancy]));
}

describe('TlbHierarchy', () => {
  it('fills a fetch into the instruction path and a data access into the data path', () => {
    const h = tiny();
    const ctx = h.tags.context(0, 0);
    h.fill(ctx, 0x10, Execute, Size4K, 0x1000, Perm.Execute);
    expect(occupancy(h)).toEqual({ L1I: 1, L1D: 0, L2: 1 });
    h.fill(ctx, 0x21, Read, Size4K, 0x2000, 0);
    expect(occupancy(h)).toEqual({ L1I: 1, L1D: 1, L2: 2 });
    // A read of the code page finds it in the shared L2 (position 1 of the data path).
    expect(h.lookup(ctx, 0x10, Read, Need.Read)).toBe(0x1000);
    expect(h.hitLevel).toBe(1);
  });

  it('promotes an outer hit into the inner levels, unless told not to', () => {
    for (const promoteOnHit of [true, false]) {
      const h = tiny({ fillPolicy: 'last', promoteOnHit });
      const ctx = h.tags.context(0, 0);
      h.fill(ctx, 0x10, Read, Size4K, 0x1000, 0);
      expect(occupancy(h)).toEqual({ L1I: 0, L1D: 0, L2: 1 });
      expect(h.lookup(ctx, 0x10, Read, Need.Read)).toBe(0x1000);
      expect(h.hitLevel).toBe(1);
      expect(h.lookup(ctx, 0x10, Read, Need.Read)).toBe(0x1000);
      expect(h.hitLevel).toBe(promoteOnHit ? 0 : 1);
      expect(h.structures[1].stats.other[OtherCounter.Promotions]).toBe(promoteOnHit ? 1 : 0);
    }
  });

  it('fills only the first level with fill policy "first"', () => {
    const h = tiny({ fillPolicy: 'first' });
    const ctx = h.tags.context(0, 0);
    h.fill(ctx, 0x10, Read, Size4K, 0x1000, 0);
    expect(occupancy(h)).toEqual({ L1I: 0, L1D: 1, L2: 0 });
  });

  for (const inclusion of ['inclusive', 'non-inclusive'] as Inclusion[]) {
    it(`${inclusion}: an L2 eviction ${inclusion === 'inclusive' ? 'removes' : 'keeps'} the page in both L1s`, () => {
      const h = tiny({ inclusion });
      const ctx = h.tags.context(0, 0);
      // Pages 0 and 2 share L2 set 0 (2 sets, direct-mapped); page 0 sits in both L1s too.
      h.fill(ctx, 0, Execute, Size4K, 0x1000, Perm.Execute);
      expect(h.lookup(ctx, 0, Read, Need.Read)).toBe(0x1000); // L2 hit, promoted into L1D
      expect(occupancy(h)).toEqual({ L1I: 1, L1D: 1, L2: 1 });
      h.fill(ctx, 2, Read, Size4K, 0x3000, 0); // evicts page 0 from L2
      const kept = inclusion === 'non-inclusive';
      expect(h.lookup(ctx, 0, Read, Need.Read)).toBe(kept ? 0x1000 : TLB_MISS);
      expect(h.lookup(ctx, 0, Execute, Need.Execute)).toBe(kept ? 0x1000 : TLB_MISS);
      expect(h.structures[0].stats.other[OtherCounter.BackInvalidations]).toBe(kept ? 0 : 1);
    });
  }

  it('back-invalidates every inner entry inside an evicted large page', () => {
    const h = tiny({ inclusion: 'inclusive' });
    const ctx = h.tags.context(0, 0);
    h.fill(ctx, 0x200, Read, Size2M, 0x20_0000, 0); // 2 MiB page 1 -> L2 set 1
    h.fill(ctx, 0x5, Read, Size4K, 0x5000, 0); // L2 set 1 as well: evicts the 2 MiB page
    expect(h.lookup(ctx, 0x210, Read, Need.Read)).toBe(TLB_MISS);
    expect(h.lookup(ctx, 0x5, Read, Need.Read)).toBe(0x5000);
  });

  it('stops at a permission miss and counts it', () => {
    const h = tiny();
    const ctx = h.tags.context(0, 0);
    h.fill(ctx, 0x10, Read, Size4K, 0x1000, Perm.Write);
    expect(h.lookup(ctx, 0x10, Write, Need.Write)).toBe(TLB_PERMISSION_MISS);
    expect(h.hitPerms).toBe(Perm.Write);
    expect(h.stats.permissionMissCounts[Write]).toBe(1);
    expect(h.stats.misses(Write)).toBe(1);
  });

  it('counts hits by path position from its structures, and walks itself', () => {
    const h = tiny({ fillPolicy: 'last', promoteOnHit: false });
    const ctx = h.tags.context(0, 0);
    h.lookup(ctx, 0x10, Read, Need.Read);
    h.fill(ctx, 0x10, Read, Size4K, 0x1000, 0);
    h.lookup(ctx, 0x10, Read, Need.Read);
    h.lookup(ctx, 0x10, Execute, Need.Read);
    expect(h.stats.hits(Read, 1)).toBe(1);
    expect(h.stats.hits(Execute, 1)).toBe(1);
    expect(h.stats.hits(undefined, 0)).toBe(0);
    expect(h.stats.misses()).toBe(1);
    expect(h.stats.lookups()).toBe(3);
    h.resetStats();
    expect(h.stats.lookups()).toBe(0);
    expect(h.snapshot().map((s) => s.name)).toEqual(['L1I', 'L1D', 'L2']);
  });

  it('headOf names the first structure of each path; its probe is a first-level lookup hit or changes nothing', () => {
    const h = tiny();
    const ctx = h.tags.context(0, 0);
    const l1d = h.structures[1];
    expect(h.headOf(Execute)).toBe(h.structures[0]);
    expect(h.headOf(Read)).toBe(l1d);
    expect(h.headOf(Write)).toBe(l1d);
    const head = h.headOf(Read);
    if (head === null) throw new Error('no head');
    // A miss, a permission miss and a 2 MiB entry (not a 4 KiB way-hint hit) answer -1 and count nothing.
    expect(head.probe(ctx, 0x10, Read, Need.Read)).toBe(-1);
    h.fill(ctx, 0x10, Read, Size4K, 0x7000, Perm.User);
    h.fill(ctx, 0x400, Read, Size2M, 0x20_0000, Perm.Write);
    expect(head.probe(ctx, 0x10, Write, Need.Write)).toBe(-1);
    expect(head.probe(ctx, 0x401, Read, Need.Read)).toBe(-1);
    expect(head.probe(h.tags.context(1, 0), 0x10, Read, Need.Read)).toBe(-1);
    expect(h.stats.lookups()).toBe(0);
    // A hit: the entry the lookup would match, counted as a first-level hit.
    const e = head.probe(ctx, 0x10, Read, Need.Read);
    expect(e).toBeGreaterThanOrEqual(0);
    expect(head.bases[e]).toBe(0x7000);
    expect(head.perms[e] & 0xff).toBe(Perm.User);
    expect(head.guestDeltaOf(e)).toBeNaN();
    expect(h.stats.hits(Read, 0)).toBe(1);
    expect(h.lookup(ctx, 0x10, Read, Need.Read)).toBe(0x7000);
    expect(h.stats.hits(Read, 0)).toBe(2);
    // The 2 MiB page is the full lookup's (the 4 KiB piece at 0x401 is 0x20_1000).
    expect(h.lookup(ctx, 0x401, Read, Need.Read)).toBe(0x20_1000);
  });

  it('reaches its walk caches and nested structures as the architecture says', () => {
    const h = tiny({
      walkCache: { levels: [{ kind: WalkEntry.Pde, entries: 8, ways: 2 }] },
      nestedTlb: { entries: 8, ways: 2, pageSizes: [Size4K, Size2M, Size1G] },
      nestedWalkCache: { levels: [{ kind: WalkEntry.Pdpte, entries: 4, ways: 4 }] },
    });
    const t = h.tags;
    const guest = t.context(1, 0);
    const nested = t.nestedContext(1); // AMD: the ASID tags the guest-physical space
    const psc = h.walkCache!;
    const ntlb = h.nestedTlb!;
    const npsc = h.nestedWalkCache!;
    const fillAll = () => {
      h.fill(guest, 0x10, Read, Size4K, 0x1000, 0);
      psc.fill(guest, 0x10, WalkEntry.Pde, 0x2000, 0);
      ntlb.fill(nested, 0x10, Read, Size4K, 0x3000, Perm.Write);
      npsc.fill(nested, 0x10, WalkEntry.Pdpte, 0x4000, 0);
    };
    const present = () => [
      h.lookup(guest, 0x10, Read, Need.Read) >= 0,
      psc.lookup(guest, 0x10) >= 0,
      ntlb.lookup(nested, 0x10, Read, Need.Read) >= 0,
      npsc.lookup(nested, 0x10) >= 0,
    ];
    fillAll();
    expect(present()).toEqual([true, true, true, true]);
    // INVLPGA: the guest-virtual page and the walk caches of the ASID, never a nested translation
    // (APM vol. 2 §15.16.2: "does not provide a means to invalidate a nested translation").
    h.flushAddress(1, 0x10);
    expect(present()).toEqual([false, false, true, true]);
    fillAll();
    // MOV CR3: the PCID's linear translations and walk-cache entries.
    h.flushPcid(1, 0, false);
    expect(present()).toEqual([false, false, true, true]);
    fillAll();
    // TLB_CONTROL 03h: everything of the ASID, nested translations included (APM vol. 2 §15.25.1).
    h.flushAddressSpace(1);
    expect(present()).toEqual([false, false, false, false]);
    fillAll();
    h.flushAll();
    expect(present()).toEqual([false, false, false, false]);
  });

  it('flushes Intel guest-physical mappings by EPT root only', () => {
    const h = tiny({ nestedTlb: { entries: 8, ways: 2, pageSizes: [Size4K] } });
    const t = h.tags;
    const combined = t.context(5, 0, 0xa000);
    const gpa = t.nestedContext(ASID_NONE, 0xa000);
    h.fill(combined, 0x10, Read, Size4K, 0x1000, 0);
    h.nestedTlb!.fill(gpa, 0x20, Read, Size4K, 0x2000, 0);
    h.flushAddressSpace(5); // INVVPID single-context: not the guest-physical mapping
    expect(h.lookup(combined, 0x10, Read, Need.Read)).toBe(TLB_MISS);
    expect(h.nestedTlb!.lookup(gpa, 0x20, Read, Need.Read)).toBe(0x2000);
    h.fill(combined, 0x10, Read, Size4K, 0x1000, 0);
    h.flushNestedRoot(0xa000); // INVEPT single-context: both
    expect(h.lookup(combined, 0x10, Read, Need.Read)).toBe(TLB_MISS);
    expect(h.nestedTlb!.lookup(gpa, 0x20, Read, Need.Read)).toBe(TLB_MISS);
  });

  it('without levels (the "none" preset) misses every lookup and stores nothing', () => {
    const h = new TlbHierarchy(noTlb.config);
    const ctx = h.tags.context(0, 0);
    expect(h.fill(ctx, 1, Read, Size4K, 0x1000, 0)).toBe(false);
    expect(h.lookup(ctx, 1, Read, Need.Read)).toBe(TLB_MISS);
    expect(h.lookup(ctx, 1, Execute, Need.Read)).toBe(TLB_MISS);
    expect(h.stats.misses()).toBe(2);
    expect(h.flushAll()).toBe(0);
  });

  it('rejects bad configurations', () => {
    const levels = [{ name: 'A', caches: [{ entries: 4, ways: 4, pageSizes: [Size4K] }] }];
    expect(() => new TlbHierarchy({ name: 'x', levels, instructionPath: ['B'], dataPath: [] })).toThrow(
      /no level/,
    );
    expect(() => new TlbHierarchy({ name: 'x', levels, instructionPath: ['A', 'A'], dataPath: [] })).toThrow(
      /repeats/,
    );
    expect(
      () =>
        new TlbHierarchy({ name: 'x', levels: [...levels, ...levels], instructionPath: [], dataPath: [] }),
    ).toThrow(/two levels/);
    expect(
      () =>
        new TlbHierarchy({
          name: 'x',
          levels,
          instructionPath: ['A'],
          dataPath: ['A'],
          inclusion: 'inclusive',
          fillPolicy: 'first',
        }),
    ).toThrow(/inclusive/);
  });
});

describe('TlbHierarchy: the hit word and the guest-physical address kept with an entry', () => {
  const RWD = Perm.Write | Perm.Dirty;

  it('packs the entry perms, log2 of its page size and the serving level into one number', () => {
    const h = tiny();
    const ctx = h.tags.context(1, 0);
    h.fill(ctx, 0x400, Read, Size2M, 0x4000_0000, RWD);
    expect(h.lookup(ctx, 0x401, Read, 0)).toBe(0x4000_1000);
    const word = h.hitWord();
    expect(word & HitWord.PERMS).toBe(h.hitPerms);
    expect((word >>> HitWord.SHIFT_AT) & 0x3f).toBe(21);
    expect(word >>> HitWord.LEVEL_AT).toBe(h.hitLevel);
  });

  it('a hit on a level beyond the first reports that level', () => {
    // Filled into the last level only and not promoted: the L2 (position 1 of the data path) serves it.
    const h = tiny({ promoteOnHit: false, fillPolicy: 'last' });
    const ctx = h.tags.context(1, 0);
    h.fill(ctx, 0x400, Read, Size2M, 0x4000_0000, RWD);
    expect(h.lookup(ctx, 0x400, Read, 0)).toBe(0x4000_0000);
    expect(h.hitWord() >>> HitWord.LEVEL_AT).toBe(1);
    expect((h.hitWord() >>> HitWord.SHIFT_AT) & 0x3f).toBe(21);
  });

  it('returns the guest-physical address of the fill, offset as the host address is, also for a splintered piece', () => {
    const h = tiny();
    const ctx = h.tags.context(1, 0);
    // A 2 MiB page at guest-physical 0x20_0000 backed by host-physical 0x4000_0000.
    h.fill(ctx, 0x600, Read, Size2M, 0x4000_0000, RWD, 0, 0x20_0000);
    const host = h.lookup(ctx, 0x6ff, Read, 0) + 0x123;
    expect(host).toBe(0x400f_f123);
    expect(h.hitGuestPhysical(host)).toBe(0x2f_f123);
    // A fill with no guest-physical address reports NaN.
    h.fill(ctx, 0x10, Read, Size4K, 0x5000_0000, RWD);
    expect(h.hitGuestPhysical(h.lookup(ctx, 0x10, Read, 0))).toBeNaN();
  });
});
