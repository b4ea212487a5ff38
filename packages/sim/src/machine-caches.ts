import {
  type CpuCacheConfig,
  PageSize,
  type PagingStructureCacheConfig,
  type TlbHierarchyConfig,
  tlbPresets,
  WalkEntry,
} from '@hvsim/tlb-tagged';
import type { SimConfig } from './config.js';

/**
 * The walk cache a configuration's `walkCache: default` stands for. No vendor publishes the sizes of
 * its paging-structure caches (SDM vol. 3A §4.10.3 defines what they hold, not how many), so these
 * are an assumption: PDE 32 entries 4-way, PDPTE 4 entries 4-way, PML4E 2 entries 2-way.
 */
export const defaultWalkCache: PagingStructureCacheConfig = {
  name: 'paging-structure cache',
  source: 'assumption: sizes are not published (SDM vol. 3A §4.10.3)',
  levels: [
    { kind: WalkEntry.Pde, entries: 32, ways: 4 },
    { kind: WalkEntry.Pdpte, entries: 4, ways: 4 },
    { kind: WalkEntry.Pml4e, entries: 2, ways: 2 },
  ],
};

const PAGE_SIZES = {
  '4K': PageSize.Size4K,
  '2M': PageSize.Size2M,
  '4M': PageSize.Size4M,
  '1G': PageSize.Size1G,
};
const WALK_ENTRIES = {
  PDE: WalkEntry.Pde,
  PDPTE: WalkEntry.Pdpte,
  PML4E: WalkEntry.Pml4e,
  PML5E: WalkEntry.Pml5e,
};

/** The TLB hierarchy of a configuration (a preset's, or its own geometry). */
export function tlbConfigOf(config: SimConfig): TlbHierarchyConfig {
  const tlb = config.tlb;
  if (typeof tlb === 'string') return tlbPresets[tlb].config;
  return {
    ...tlb,
    inclusion: tlb.inclusion ?? 'non-inclusive',
    fillPolicy: tlb.fillPolicy ?? 'all',
    levels: tlb.levels.map((level) => ({
      name: level.name,
      caches: level.caches.map((c) => ({
        name: c.name,
        entries: c.entries,
        ways: c.ways,
        pageSizes: c.pageSizes.map((s) => PAGE_SIZES[s]),
        ...(c.policy === undefined ? {} : { policy: c.policy }),
      })),
    })),
  };
}

/** The translation structures each CPU of a configuration gets. */
export function cachesOf(config: SimConfig): CpuCacheConfig {
  const walk = config.walkCache;
  const walkCache =
    walk === 'none'
      ? undefined
      : walk === 'default'
        ? defaultWalkCache
        : {
            levels: walk.levels.map((l) => ({
              kind: WALK_ENTRIES[l.kind],
              entries: l.entries,
              ways: l.ways,
            })),
          };
  const nested = config.nestedTlb;
  return {
    tlb: tlbConfigOf(config),
    ...(walkCache === undefined ? {} : { walkCache }),
    ...(nested === 'none'
      ? {}
      : {
          nestedTlb: {
            name: 'nested TLB',
            entries: nested.entries,
            ways: nested.ways,
            pageSizes: [PageSize.Size4K, PageSize.Size2M, PageSize.Size1G],
          },
        }),
  };
}
