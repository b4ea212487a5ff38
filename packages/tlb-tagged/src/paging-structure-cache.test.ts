import { describe, expect, it } from 'vitest';
import { InvalidationKind } from './invalidation-kind.js';
import { PagingStructureCache, WalkEntry, walkEntryLevel } from './paging-structure-cache.js';
import { Perm } from './perm.js';
import { ASID_NONE, TagTable } from './tag-table.js';

const ROOT = 0x7000;

function make() {
  const tags = new TagTable();
  const psc = new PagingStructureCache(
    {
      name: 'PSC',
      levels: [
        { kind: WalkEntry.Pml4e, entries: 2, ways: 2 },
        { kind: WalkEntry.Pdpte, entries: 4, ways: 4 },
        { kind: WalkEntry.Pde, entries: 32, ways: 4, policy: 'tree-plru' },
        { kind: WalkEntry.Pml5e, entries: 2, ways: 2 },
      ],
    },
    tags,
  );
  return { tags, psc, a0: tags.context(1, 0), a1: tags.context(1, 1), b0: tags.context(2, 0) };
}

describe('PagingStructureCache', () => {
  it('orders its levels deepest first and names the level each kind of entry lives at', () => {
    const { psc } = make();
    expect(psc.levels.map((l) => l.kind)).toEqual([
      WalkEntry.Pde,
      WalkEntry.Pdpte,
      WalkEntry.Pml4e,
      WalkEntry.Pml5e,
    ]);
    // cpu-core numbers walk levels 1 = PTE ... 5 = PML5E: a cached PDE lets the walk resume at level 1.
    expect(walkEntryLevel[WalkEntry.Pde]).toBe(2);
    expect(walkEntryLevel[WalkEntry.Pde32]).toBe(2);
    expect(walkEntryLevel[WalkEntry.Pdpte]).toBe(3);
    expect(walkEntryLevel[WalkEntry.Pml4e]).toBe(4);
    expect(walkEntryLevel[WalkEntry.Pml5e]).toBe(5);
  });

  it('keys each kind by the linear-address bits that select the entry (SDM vol. 3A §4.10.3.1)', () => {
    const { psc, a0 } = make();
    // Linear address 0x0000_7f12_3456_7000: PDE key = bits 47:21, PDPTE key = bits 47:30, PML4E = 47:39.
    const la = 0x7f12_3456_7000;
    const vpn = la / 4096;
    psc.fill(a0, vpn, WalkEntry.Pde, 0x10_1000, Perm.Write | Perm.User);
    // Same 2 MiB region (bits 47:21 equal): hit. 0x7f12_3440_0000 is the region's first byte.
    expect(psc.lookup(a0, 0x7f12_3440_0000 / 4096)).toBe(0x10_1000);
    expect(psc.hitKind).toBe(WalkEntry.Pde);
    expect(psc.hitPerms).toBe(Perm.Write | Perm.User);
    expect(psc.lookup(a0, (0x7f12_3460_0000 - 4096) / 4096)).toBe(0x10_1000);
    // The next 2 MiB region: miss.
    expect(psc.lookup(a0, 0x7f12_3460_0000 / 4096)).toBe(-1);
    expect(psc.hitKind).toBe(-1);
    psc.fill(a0, vpn, WalkEntry.Pml4e, 0x20_0000, Perm.Write);
    // Anywhere in the 512 GiB of that PML4E (bits 47:39 = 0xfe): the PML4E cache answers.
    expect(psc.lookup(a0, 0x7f00_0000_0000 / 4096)).toBe(0x20_0000);
    expect(psc.hitKind).toBe(WalkEntry.Pml4e);
    expect(psc.lookup(a0, 0x7f80_0000_0000 / 4096)).toBe(-1);
  });

  it('returns the deepest cached entry so the walk skips the most levels', () => {
    const { psc, a0 } = make();
    const vpn = 0x123_4567;
    psc.fill(a0, vpn, WalkEntry.Pml5e, 0x1000, Perm.Write);
    psc.fill(a0, vpn, WalkEntry.Pml4e, 0x2000, Perm.Write);
    psc.fill(a0, vpn, WalkEntry.Pdpte, 0x3000, Perm.Write);
    expect(psc.lookup(a0, vpn)).toBe(0x3000);
    expect(psc.hitKind).toBe(WalkEntry.Pdpte);
    psc.fill(a0, vpn, WalkEntry.Pde, 0x4000, 0);
    expect(psc.lookup(a0, vpn)).toBe(0x4000);
    expect(psc.lookupKind(a0, vpn, WalkEntry.Pml4e)).toBe(0x2000);
    expect(psc.lookupKind(a0, vpn, WalkEntry.Pde32)).toBe(-1);
  });

  it('keys 32-bit-paging PDEs by bits 31:22 (4 MiB regions)', () => {
    const tags = new TagTable();
    const psc = new PagingStructureCache({ levels: [{ kind: WalkEntry.Pde32, entries: 4, ways: 4 }] }, tags);
    const ctx = tags.context(0, 0);
    psc.fill(ctx, 0xc0000, WalkEntry.Pde32, 0x5000, Perm.Write);
    expect(psc.lookup(ctx, 0xc03ff)).toBe(0x5000);
    expect(psc.lookup(ctx, 0xc0400)).toBe(-1);
    expect(psc.fill(ctx, 0xc0000, WalkEntry.Pde, 0x6000, 0)).toBe(false);
  });

  it('tags entries by address space and PCID, and never makes them global', () => {
    const { psc, a0, a1, b0 } = make();
    psc.fill(a0, 0x100, WalkEntry.Pde, 0x1000, Perm.Global | Perm.Write);
    expect(psc.lookup(a0, 0x100)).toBe(0x1000);
    expect(psc.hitPerms).toBe(Perm.Write);
    expect(psc.lookup(a1, 0x100)).toBe(-1);
    expect(psc.lookup(b0, 0x100)).toBe(-1);
  });

  it('an address invalidation removes every entry of the context, whatever its address (SDM vol. 3A §4.10.4.1)', () => {
    const { psc, a0, a1, b0 } = make();
    psc.fill(a0, 0x100, WalkEntry.Pde, 0x1000, 0);
    psc.fill(a0, 0x8_0000, WalkEntry.Pdpte, 0x2000, 0);
    psc.fill(a1, 0x100, WalkEntry.Pde, 0x3000, 0);
    psc.fill(b0, 0x100, WalkEntry.Pde, 0x4000, 0);
    expect(psc.flushAddressInPcid(1, 0, 0x9999, true)).toBe(2);
    expect(psc.lookup(a0, 0x100)).toBe(-1);
    expect(psc.lookup(a0, 0x8_0000)).toBe(-1);
    expect(psc.lookup(a1, 0x100)).toBe(0x3000);
    expect(psc.flushAddress(1, 0x1)).toBe(1);
    expect(psc.lookup(a1, 0x100)).toBe(-1);
    expect(psc.lookup(b0, 0x100)).toBe(0x4000);
    expect(psc.levels[0].stats.invalidations(InvalidationKind.Address)).toBe(1);
    expect(psc.levels[0].stats.invalidatedEntries(InvalidationKind.AddressInPcid)).toBe(1);
  });

  it('serves as the nested dimension walk cache: keyed by guest-physical pages, flushed by nested root', () => {
    const { tags, psc } = make();
    const intel = tags.nestedContext(ASID_NONE, ROOT);
    const amd = tags.nestedContext(3);
    psc.fill(intel, 0x42, WalkEntry.Pde, 0x1000, Perm.Write | Perm.User | Perm.Execute);
    psc.fill(amd, 0x42, WalkEntry.Pde, 0x2000, Perm.Write);
    expect(psc.lookup(intel, 0x42)).toBe(0x1000);
    expect(psc.lookup(amd, 0x42)).toBe(0x2000);
    // PCID flushes never reach PCID-less entries unless they include globals.
    psc.flushAddressSpaceNonGlobal(3);
    expect(psc.lookup(amd, 0x42)).toBe(0x2000);
    psc.flushAddressSpace(3);
    expect(psc.lookup(amd, 0x42)).toBe(-1);
    psc.flushGuests();
    expect(psc.lookup(intel, 0x42)).toBe(0x1000);
    psc.flushNestedRoot(ROOT);
    expect(psc.lookup(intel, 0x42)).toBe(-1);
  });

  it('counts hits and misses per level and resets them', () => {
    const { psc, a0 } = make();
    psc.fill(a0, 0x100, WalkEntry.Pdpte, 0x1000, 0);
    psc.lookup(a0, 0x100);
    psc.lookup(a0, 0x100);
    psc.lookup(a0, 0x4_0000);
    const [pde, pdpte] = psc.levels;
    // Each lookup probes the PDE level first (3 misses); the PDPTE level hit twice and missed once.
    expect(pde.stats.misses()).toBe(3);
    expect(pdpte.stats.hits()).toBe(2);
    expect(pdpte.stats.misses()).toBe(1);
    expect(pdpte.stats.fills()).toBe(1);
    psc.resetStats();
    expect(pdpte.stats.lookups()).toBe(0);
  });

  it('rejects two levels of one kind and unaligned table addresses', () => {
    expect(
      () =>
        new PagingStructureCache({
          levels: [
            { kind: WalkEntry.Pde, entries: 4, ways: 4 },
            { kind: WalkEntry.Pde, entries: 8, ways: 4 },
          ],
        }),
    ).toThrow(RangeError);
    const { psc, a0 } = make();
    expect(() => psc.fill(a0, 0, WalkEntry.Pde, 0x1001, 0)).toThrow(RangeError);
    expect(() => psc.fill(a0, 0, WalkEntry.Pde, 2 ** 52, 0)).toThrow(RangeError);
  });
});
