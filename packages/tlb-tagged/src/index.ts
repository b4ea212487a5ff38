/**
 * @hvsim/tlb-tagged: tag-aware translation caches for x86 hardware-assisted memory virtualization.
 * Set-associative TLBs tagged by ASID/VPID, PCID and nested root, hierarchies of them, paging-structure
 * caches and a nested TLB, with the invalidation operations hardware offers (Intel SDM vol. 3A §4.10,
 * vol. 3C §28.4 / §29.4; AMD APM vol. 2 §15.16). Knows nothing of x86 entry formats: it caches what an
 * MMU gives it.
 */

/** Access kinds: cpu-core's vocabulary, re-exported. */
export { AccessKind, accessKindName } from './access-kind.js';
/** Packing of the MMU's attribute word (protection key, memory type). */
export { memoryTypeOf, packAttributes, protectionKeyOf } from './attributes.js';
/** Per-structure counters and their plain-object snapshot. */
export {
  type AccessCounts,
  CacheStats,
  type CacheStatsSnapshot,
  OtherCounter,
} from './cache-stats.js';
/** One CPU's translation structures: their configuration, building them, and their shared tag table. */
export { buildCaches, type CpuCacheConfig, type CpuTranslationCaches, tagTableOf } from './cpu-caches.js';
/** The named invalidation operations (SDM vol. 3A §4.10.4, vol. 3C §28.4 / §29.4; APM vol. 2 §15.16). */
export { INVALIDATION_KIND_COUNT, InvalidationKind, invalidationKindName } from './invalidation-kind.js';
/** Page sizes in bytes (`@hvsim/cpu-core`'s `PageSize`, re-exported) and their names. */
export { isPageSize, PageSize, pageSizeFromShift, pageSizeName } from './page-size.js';
/** Paging-structure caches (SDM vol. 3A §4.10.3) for the linear and the nested walk. */
export {
  PagingStructureCache,
  type PagingStructureCacheConfig,
  WalkCacheLevel,
  type WalkCacheLevelConfig,
  WalkEntry,
  walkEntryLevel,
  walkEntryName,
  walkEntrySpan,
} from './paging-structure-cache.js';
/** Permission bits of cached translations (`@hvsim/cpu-core`'s `Perm`, re-exported) and the requirements lookups check. */
export { Need, PERM_MASK, Perm, permClear } from './perm.js';
/** Presets matching real parts, with their sources, and the no-TLB reference. */
export {
  goldenCoveTlb,
  noTlb,
  skylakeTlb,
  type TlbPreset,
  type TlbPresetName,
  tlbPresets,
  zen4Tlb,
  zen5Tlb,
  zenTlb,
} from './presets.js';
/** Replacement policies (LRU, tree-PLRU, FIFO, seeded random). */
export { ReplacementPolicy } from './replacement-policy.js';
/** Context tags (ASID/VPID, PCID, nested root) and their handles. */
export {
  ASID_NONE,
  globalContext,
  MAX_PCID,
  NO_NESTED_ROOT,
  pcidOfContext,
  TagTable,
} from './tag-table.js';
/** The storage and invalidation operations every structure shares. */
export { TaggedStore } from './tagged-store.js';
/** Multi-level hierarchies with instruction and data paths. */
export {
  type FillPolicy,
  HierarchyStats,
  type Inclusion,
  TlbHierarchy,
  type TlbHierarchyConfig,
} from './tlb-hierarchy.js';
/** One level of a hierarchy. */
export { TlbLevel, type TlbLevelConfig } from './tlb-level.js';
/** What an MMU sees of a TLB, and the lookup's miss results. */
export {
  HitWord,
  TLB_MISS,
  TLB_PERMISSION_MISS,
  type TlbHead,
  type TlbOrganization,
} from './tlb-organization.js';
/** The translation structures of one CPU, flushed together by control operations. */
export { type Flushable, flushTargets, type TlbTargets } from './tlb-targets.js';
/** One set-associative TLB structure of any geometry. */
export { TranslationCache, type TranslationCacheConfig } from './translation-cache.js';
