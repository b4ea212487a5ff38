import { AccessKind, CpuState, Cr0, Cr4, Perm, PhysicalMemory } from '@hvsim/cpu-core';
import {
  PageSize,
  PagingStructureCache,
  skylakeTlb,
  TagTable,
  TlbHierarchy,
  TranslationCache,
  WalkEntry,
} from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { NativeMmu } from './native-mmu.js';
import { CrInvalidation, controlRegisterInvalidation, TranslationCaches } from './translation-caches.js';

/*
 * A context handle is an index into one TagTable: caches built on different tables would read each
 * other's handles as other address spaces, so the MMU refuses them, saying how to build them right.
 */

describe('TranslationCaches', () => {
  const walkCacheConfig = { levels: [{ kind: WalkEntry.Pde, entries: 16, ways: 4 }] };

  it('refuses a TLB and a walk cache on different tag tables, and says how to share one', () => {
    const hierarchy = new TlbHierarchy(skylakeTlb.config);
    const separate = new PagingStructureCache(walkCacheConfig);
    const make = () =>
      new NativeMmu(new PhysicalMemory(), new CpuState(), { tlb: hierarchy, walkCache: separate });
    expect(make).toThrow(RangeError);
    expect(make).toThrow('new PagingStructureCache(config, hierarchy.tags)');
  });

  it('takes them on one table', () => {
    const hierarchy = new TlbHierarchy(skylakeTlb.config);
    const shared = new PagingStructureCache(walkCacheConfig, hierarchy.tags);
    const mmu = new NativeMmu(new PhysicalMemory(), new CpuState(), { tlb: hierarchy, walkCache: shared });
    expect(mmu.caches?.walkCache).toBe(shared);
  });
});

/*
 * The invalidations the CPU makes in its current context, as SDM vol. 3A §4.10.4.1 states them, on a
 * TLB filled by hand: page 0x10 of PCID 1, page 0x11 of PCID 1, page 0x10 of PCID 2, a global page 0x20,
 * and page 0x10 of another address space (ASID 2).
 */
describe('TranslationCaches invalidations', () => {
  const setup = () => {
    const tlb = new TranslationCache(
      { name: 'tlb', entries: 64, ways: 64, pageSizes: [PageSize.Size4K] },
      new TagTable(),
    );
    const caches = new TranslationCaches({ tlb });
    const tags = tlb.tags;
    const fill = (asid: number, pcid: number, vpn: number, perms = 0) =>
      tlb.fill(tags.context(asid, pcid), vpn, AccessKind.Read, PageSize.Size4K, vpn * 4096, perms);
    fill(1, 1, 0x10);
    fill(1, 1, 0x11);
    fill(1, 2, 0x10);
    fill(1, 1, 0x20, Perm.Global);
    fill(2, 1, 0x10);
    caches.setContext(1, 1);
    const has = (asid: number, pcid: number, vpn: number) =>
      tlb.lookup(tags.context(asid, pcid), vpn, AccessKind.Read, 0) >= 0;
    return { caches, has };
  };

  it('INVLPG: the page in the current PCID, and global entries for it (SDM vol. 3A §4.10.4.1)', () => {
    const { caches, has } = setup();
    expect(caches.invalidatePage(0x10)).toBe(1);
    expect([has(1, 1, 0x10), has(1, 2, 0x10), has(2, 1, 0x10), has(1, 1, 0x11)]).toEqual([
      false,
      true,
      true,
      true,
    ]);
    caches.invalidatePage(0x20);
    expect(has(1, 1, 0x20)).toBe(false);
  });

  it('MOV to CR3 (PCID 1): its non-global entries; globals and other PCIDs stay', () => {
    const { caches, has } = setup();
    caches.invalidatePcid(1);
    expect([has(1, 1, 0x10), has(1, 1, 0x11), has(1, 1, 0x20), has(1, 2, 0x10)]).toEqual([
      false,
      false,
      true,
      true,
    ]);
  });

  it('INVPCID types 0, 2 and 3 in the current address space only', () => {
    let { caches, has } = setup();
    caches.invalidatePageInPcid(2, 0x10);
    expect([has(1, 2, 0x10), has(1, 1, 0x10)]).toEqual([false, true]);
    ({ caches, has } = setup());
    caches.invalidateAddressSpace(false);
    expect([has(1, 1, 0x10), has(1, 2, 0x10), has(1, 1, 0x20), has(2, 1, 0x10)]).toEqual([
      false,
      false,
      true,
      true,
    ]);
    caches.invalidateAddressSpace(true);
    expect([has(1, 1, 0x20), has(2, 1, 0x10)]).toEqual([false, true]);
  });
});

describe('controlRegisterInvalidation (SDM vol. 3A §4.10.4.1; APM vol. 2 §15.16)', () => {
  const PG = Cr0.PG | Cr0.PE;
  it('every PCID for CR0.PG, CR4.PGE, PAE and PSE changes and PCIDE 1 to 0', () => {
    expect(controlRegisterInvalidation(PG, 0x20, Cr0.PE, 0x20)).toBe(CrInvalidation.AllPcids);
    expect(controlRegisterInvalidation(PG, 0x20, PG, 0xa0)).toBe(CrInvalidation.AllPcids);
    expect(controlRegisterInvalidation(PG, 0, PG, Cr4.PSE)).toBe(CrInvalidation.AllPcids);
    expect(controlRegisterInvalidation(PG, 0x2_0020, PG, 0x20)).toBe(CrInvalidation.AllPcids);
  });
  it('the current PCID for SMEP 0 to 1; nothing for WP, SMAP or SMEP 1 to 0', () => {
    expect(controlRegisterInvalidation(PG, 0x20, PG, 0x10_0020)).toBe(CrInvalidation.CurrentPcid);
    expect(controlRegisterInvalidation(PG, 0x10_0020, PG, 0x20)).toBe(CrInvalidation.None);
    expect(controlRegisterInvalidation(PG, 0x20, PG | Cr0.WP, 0x20_0020)).toBe(CrInvalidation.None);
  });
});
