import { CpuState, PhysicalMemory } from '@hvsim/cpu-core';
import { PagingStructureCache, skylakeTlb, TlbHierarchy, WalkEntry } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { NativeMmu } from './native-mmu.js';

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
