import { describe, expect, it } from 'vitest';
import { AccessKind } from './access-kind.js';
import { InvalidationKind } from './invalidation-kind.js';
import { PageSize } from './page-size.js';
import { Need, Perm } from './perm.js';
import { TagTable } from './tag-table.js';
import { TranslationCache } from './translation-cache.js';

const { Read, Write, Execute } = AccessKind;

describe('CacheStats', () => {
  it('counts lookups, hits by access kind and page size, misses, fills, evictions and invalidations', () => {
    const tags = new TagTable();
    const ctx = tags.context(1, 0);
    // Direct-mapped, 2 entries: pages 0 and 2 share set 0.
    const tlb = new TranslationCache(
      { entries: 2, ways: 1, pageSizes: [PageSize.Size4K, PageSize.Size2M] },
      tags,
    );
    tlb.lookup(ctx, 0, Read, Need.Read); // miss
    tlb.fill(ctx, 0, Read, PageSize.Size4K, 0x1000, Perm.Write | Perm.Dirty | Perm.Execute);
    tlb.lookup(ctx, 0, Read, Need.Read); // hit 4K read
    tlb.lookup(ctx, 0, Write, Need.Write); // hit 4K write
    tlb.lookup(ctx, 0, Execute, Need.Execute); // hit 4K execute
    tlb.fill(ctx, 2, Write, PageSize.Size4K, 0x3000, 0); // evicts page 0
    tlb.lookup(ctx, 2, Write, Need.Write); // permission miss
    tlb.fill(ctx, 0x201, Read, PageSize.Size2M, 0x20_0000, 0); // 2M page 1 -> set 1
    tlb.lookup(ctx, 0x3ff, Read, Need.Read); // hit 2M read
    tlb.flushAddress(1, 0x200); // removes the 2M page
    tlb.flushAll(); // removes page 2
    const s = tlb.stats;
    expect(s.lookups()).toBe(6);
    expect(s.hits()).toBe(4);
    expect(s.hits(Read)).toBe(2);
    expect(s.hits(Write, PageSize.Size4K)).toBe(1);
    expect(s.hits(Execute)).toBe(1);
    expect(s.hits(undefined, PageSize.Size2M)).toBe(1);
    expect(s.misses()).toBe(2);
    expect(s.misses(Write)).toBe(1);
    expect(s.permissionMisses()).toBe(1);
    expect(s.fills()).toBe(3);
    expect(s.fills(PageSize.Size2M)).toBe(1);
    expect(s.evictions()).toBe(1);
    expect(s.invalidations(InvalidationKind.Address)).toBe(1);
    expect(s.invalidatedEntries(InvalidationKind.Address)).toBe(1);
    expect(s.invalidations(InvalidationKind.All)).toBe(1);
    expect(s.invalidatedEntries()).toBe(2);
    const snap = s.snapshot();
    expect(snap.byAccess.read).toEqual({ lookups: 3, hits: 2, misses: 1, permissionMisses: 0 });
    expect(snap.hitsBySize).toEqual({ '4K': 3, '2M': 1, '4M': 0, '1G': 0 });
    expect(snap.invalidations.address).toEqual({ operations: 1, entries: 1 });
    s.reset();
    expect(s.lookups()).toBe(0);
    expect(s.snapshot().fills).toBe(0);
  });

  it('keeps the hits of live entries visible and resets them too', () => {
    const tags = new TagTable();
    const ctx = tags.context(0, 0);
    const tlb = new TranslationCache({ entries: 4, ways: 4, pageSizes: [PageSize.Size4K] }, tags);
    tlb.fill(ctx, 9, Read, PageSize.Size4K, 0x9000, 0);
    for (let i = 0; i < 5; i++) tlb.lookup(ctx, 9, Read, Need.Read);
    expect(tlb.stats.hits()).toBe(5);
    tlb.stats.reset();
    expect(tlb.stats.hits()).toBe(0);
    tlb.lookup(ctx, 9, Read, Need.Read);
    expect(tlb.stats.hits()).toBe(1);
  });
});
