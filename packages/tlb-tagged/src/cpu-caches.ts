import { PagingStructureCache, type PagingStructureCacheConfig } from './paging-structure-cache.js';
import { TagTable } from './tag-table.js';
import { TlbHierarchy, type TlbHierarchyConfig } from './tlb-hierarchy.js';
import type { TlbOrganization } from './tlb-organization.js';
import type { TlbTargets } from './tlb-targets.js';
import { TranslationCache, type TranslationCacheConfig } from './translation-cache.js';

/** The translation structures each CPU gets (all optional: none means every access walks). */
export interface CpuCacheConfig {
  /** A TLB hierarchy (a `tlbPresets` entry's `config`, or your own). */
  readonly tlb?: TlbHierarchyConfig;
  /** The guest walk's paging-structure cache. */
  readonly walkCache?: PagingStructureCacheConfig;
  /** The nested TLB (guest-physical to host-physical for guest table pages). */
  readonly nestedTlb?: TranslationCacheConfig;
}

/** The translation structures of one CPU, built from a `CpuCacheConfig` and sharing one `TagTable`. */
export interface CpuTranslationCaches {
  readonly tlb: TlbOrganization | null;
  readonly walkCache: PagingStructureCache | null;
  readonly nestedTlb: TlbOrganization | null;
}

/** Builds one CPU's translation structures, all sharing one `TagTable` so a context handle means the same in each. */
export function buildCaches(config: CpuCacheConfig | undefined): CpuTranslationCaches {
  const tags = new TagTable();
  return {
    tlb: config?.tlb === undefined ? null : new TlbHierarchy(config.tlb, tags),
    walkCache: config?.walkCache === undefined ? null : new PagingStructureCache(config.walkCache, tags),
    nestedTlb: config?.nestedTlb === undefined ? null : new TranslationCache(config.nestedTlb, tags),
  };
}

/**
 * The `TagTable` a CPU's structures share (the one that gives context handles their meaning), or
 * null when the CPU has none. Every structure of a CPU shares one table (`buildCaches`, and the
 * check in `TranslationCaches` of @hvsim/mmu-nested), so whichever is present answers.
 */
export function tagTableOf(targets: TlbTargets): TagTable | null {
  return targets.tlb?.tags ?? targets.walkCache?.tags ?? targets.nestedTlb?.tags ?? null;
}
