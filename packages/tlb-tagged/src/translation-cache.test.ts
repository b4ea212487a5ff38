import { describe, expect, it } from 'vitest';
import { AccessKind } from './access-kind.js';
import { memoryTypeOf, packAttributes, protectionKeyOf } from './attributes.js';
import { PageSize } from './page-size.js';
import { Need, Perm } from './perm.js';
import { TagTable } from './tag-table.js';
import { TLB_MISS } from './tlb-organization.js';
import { TranslationCache } from './translation-cache.js';

const { Read } = AccessKind;
const { Size4K, Size2M, Size4M, Size1G } = PageSize;

describe('TranslationCache', () => {
  it('rejects geometries whose ways do not divide the entries, and empty size lists', () => {
    expect(() => new TranslationCache({ entries: 10, ways: 4, pageSizes: [Size4K] })).toThrow(RangeError);
    expect(() => new TranslationCache({ entries: 0, ways: 1, pageSizes: [Size4K] })).toThrow(RangeError);
    expect(() => new TranslationCache({ entries: 4, ways: 8, pageSizes: [Size4K] })).toThrow(RangeError);
    expect(() => new TranslationCache({ entries: 4, ways: 4, pageSizes: [] })).toThrow(RangeError);
    expect(() => new TranslationCache({ entries: 4, ways: 4, pageSizes: [7 as PageSize] })).toThrow(
      RangeError,
    );
  });

  it('rejects fills with unaligned bases, out-of-range page numbers or unknown kinds', () => {
    const tags = new TagTable();
    const ctx = tags.context(0, 0);
    const tlb = new TranslationCache({ entries: 4, ways: 4, pageSizes: [Size4K, Size2M] }, tags);
    expect(() => tlb.fill(ctx, 0, Read, Size2M, 0x1000, 0)).toThrow(/aligned/);
    expect(() => tlb.fill(ctx, 2 ** 45, Read, Size4K, 0, 0)).toThrow(/vpn/);
    expect(() => tlb.fill(ctx, 0, 3 as AccessKind, Size4K, 0, 0)).toThrow(/access/);
    expect(() => tlb.fill(ctx, 0, Read, Size4K, 2 ** 52, 0)).toThrow(/aligned/);
  });

  it('holds page numbers and frames up to the architectural limits exactly', () => {
    const tags = new TagTable();
    const ctx = tags.context(0, 0);
    const tlb = new TranslationCache({ entries: 16, ways: 4, pageSizes: [Size4K, Size1G] }, tags);
    const vpn = 2 ** 45 - 1; // the last page of a 57-bit linear address space
    tlb.fill(ctx, vpn, Read, Size4K, 2 ** 52 - 4096, 0);
    expect(tlb.lookup(ctx, vpn, Read, Need.Read)).toBe(2 ** 52 - 4096);
    // Pages that differ only above bit 32 of the page number are different pages.
    expect(tlb.lookup(ctx, vpn - 2 ** 40, Read, Need.Read)).toBe(TLB_MISS);
    tlb.fill(ctx, 2 ** 44 + 3, Read, Size1G, 2 ** 51, 0);
    expect(tlb.lookup(ctx, 2 ** 44 + 7, Read, Need.Read)).toBe(2 ** 51 + 7 * 4096);
  });

  it('splinters a page larger than it holds, or drops it when splintering is off', () => {
    const tags = new TagTable();
    const ctx = tags.context(0, 0);
    const small = new TranslationCache({ entries: 8, ways: 2, pageSizes: [Size4K, Size2M] }, tags);
    expect(small.storedSizeFor(Size1G)).toBe(Size2M);
    expect(small.storedSizeFor(Size4M)).toBe(Size2M);
    small.fill(ctx, 0x40000 + 0x600 + 9, Read, Size1G, 0x4000_0000, 0);
    expect(small.lookup(ctx, 0x40000 + 0x600 + 9, Read, Need.Read)).toBe(0x4000_0000 + (0x600 + 9) * 4096);
    expect(small.hitPageSize).toBe(Size2M);
    expect(small.hitPageBase).toBe(0x4000_0000 + 0x600 * 4096);
    expect(small.stats.snapshot().splinters).toBe(1);
    const strict = new TranslationCache({ entries: 8, ways: 2, pageSizes: [Size4K], splinter: false }, tags);
    expect(strict.fill(ctx, 5, Read, Size2M, 0x20_0000, 0)).toBe(false);
    expect(strict.occupancy).toBe(0);
  });

  it('gives the same answers whatever the way hints say (pages that share a hint slot)', () => {
    const tags = new TagTable();
    const ctx = tags.context(0, 0);
    const tlb = new TranslationCache({ entries: 16, ways: 4, pageSizes: [Size4K] }, tags);
    // The hint table has 64 slots: pages 5, 69 and 133 share one, and one set (5 mod 4 = 1).
    for (const p of [5, 69, 133]) tlb.fill(ctx, p, Read, Size4K, p * 4096, 0);
    for (let round = 0; round < 3; round++) {
      for (const p of [5, 69, 133, 5, 133, 69]) expect(tlb.lookup(ctx, p, Read, Need.Read)).toBe(p * 4096);
    }
    expect(tlb.lookup(ctx, 197, Read, Need.Read)).toBe(TLB_MISS);
  });

  it('keeps the MMU attribute word: protection key and memory type', () => {
    const attrs = packAttributes(0xb, 0x06);
    expect(protectionKeyOf(attrs)).toBe(0xb);
    expect(memoryTypeOf(attrs)).toBe(0x06);
    const tags = new TagTable();
    const ctx = tags.context(0, 0);
    const tlb = new TranslationCache({ entries: 4, ways: 4, pageSizes: [Size4K] }, tags);
    tlb.fill(ctx, 1, Read, Size4K, 0x1000, Perm.User, attrs);
    tlb.lookup(ctx, 1, Read, Need.User);
    expect(protectionKeyOf(tlb.hitAttrs)).toBe(0xb);
  });
});
