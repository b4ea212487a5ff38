import {
  PageSize,
  type PagingStructureCache,
  pageSizeName,
  pcidOfContext,
  skylakeTlb,
  type TaggedStore,
  type TlbHierarchy,
  type TlbHierarchyConfig,
  tlbPresets,
  WalkEntry,
  walkEntryName,
  zenTlb,
} from '@hvsim/tlb-tagged';
import type { CacheConfig, CacheEntryView, Vendor } from './types.js';

/*
 * The translation caches a scenario runs with (`caches`, spec/scenario.md "Sequences with caches")
 * and what they hold: each TLB structure of the hierarchy, the walk caches and the nested TLB, with
 * every valid entry and the tag it is stored under (what `hvsim translate --explain` and
 * @hvsim/walk-view show).
 */

/** One valid entry of a cache. */
export interface TlbEntryView {
  /** What it is looked up by: the linear (or guest-physical) range it covers, `0x…-0x…`. */
  readonly covers: string;
  /** Page size (`4 KiB`), or what a walk-cache entry spans. */
  readonly size: string;
  /** What it gives: the host-physical page, or the next table's address. */
  readonly maps: string;
  /** The tag: `ASID 1, PCID 0`, `VPID 1, PCID 0, EP4TA 0x…`, `ASID 1 (any PCID)`. */
  readonly tag: string;
  /** Cached permissions: W (writable), U (user), X (executable), D (dirty), G (global). */
  readonly perms: string;
}

/** One structure: a TLB of a level, a walk-cache level, or the nested TLB. */
export interface TlbStructureView {
  /** `L1 DTLB`, `guest walk cache: PDE`, `nested TLB`. */
  readonly name: string;
  readonly kind: 'tlb' | 'guest walk cache' | 'nested TLB' | 'nested walk cache';
  /** Geometry: `64 entries, 4-way`. */
  readonly geometry: string;
  readonly entries: readonly TlbEntryView[];
}

/** Walk caches and nested TLB of the default organization: sizes for illustration, not any one part's. */
const WALK_CACHE = {
  levels: [
    { kind: WalkEntry.Pml5e, entries: 2, ways: 2 },
    { kind: WalkEntry.Pml4e, entries: 4, ways: 4 },
    { kind: WalkEntry.Pdpte, entries: 4, ways: 4 },
    { kind: WalkEntry.Pde, entries: 32, ways: 4 },
    { kind: WalkEntry.Pde32, entries: 32, ways: 4 },
  ],
};

/**
 * The TLB hierarchy a scenario's `caches` names: `default` is Zen-class for AMD and Skylake-class for
 * Intel, `zen`, `skylake` and `none` the presets of @hvsim/tlb-tagged; with `walkCaches` a guest walk
 * cache and a nested walk cache, with `nestedTlb` a nested TLB of 16 entries. Capacity and replacement
 * are the implementation's; what the architecture requires to be gone is gone whatever they are.
 */
export function scenarioTlbConfig(vendor: Vendor, caches: CacheConfig): TlbHierarchyConfig {
  const preset = caches.tlb === 'default' ? (vendor === 'amd' ? zenTlb : skylakeTlb) : tlbPresets[caches.tlb];
  return {
    ...preset.config,
    ...(caches.walkCaches
      ? {
          walkCache: { name: 'guest walk cache', ...WALK_CACHE },
          nestedWalkCache: { name: 'nested walk cache', levels: WALK_CACHE.levels.slice(0, 4) },
        }
      : {}),
    ...(caches.nestedTlb
      ? { nestedTlb: { name: 'nested TLB', entries: 16, ways: 4, pageSizes: [PageSize.Size4K] } }
      : {}),
  };
}

/** The default organization with every cache on: `scenarioTlbConfig(vendor, { tlb: 'default', … })`. */
export function tlbConfigFor(vendor: Vendor): TlbHierarchyConfig {
  return scenarioTlbConfig(vendor, { tlb: 'default', walkCaches: true, nestedTlb: true });
}

const range = new Float64Array(2);

function entriesOf(
  store: TaggedStore,
  hierarchy: TlbHierarchy,
  vendor: 'amd' | 'intel',
  next: boolean,
): TlbEntryView[] {
  const views: TlbEntryView[] = [];
  for (let e = 0; e < store.entries; e++) {
    const key = store.keys[e];
    if (key < 0) continue;
    store.rangeOfKey(key, range);
    const start = range[0] * 4096;
    const bytes = range[1] * 4096;
    const ctx = store.ctxs[e];
    const perms = store.perms[e] & 0xff;
    views.push({
      covers: `0x${start.toString(16)}-0x${(start + bytes - 1).toString(16)}`,
      size: sizeName(bytes),
      maps: `${next ? 'table at ' : ''}0x${store.bases[e].toString(16)}`,
      tag: tagOf(ctx, hierarchy, vendor),
      perms: next ? permLetters(perms & 0x7) : permLetters(perms),
    });
  }
  return views;
}

function sizeName(bytes: number): string {
  if (
    bytes === PageSize.Size4K ||
    bytes === PageSize.Size2M ||
    bytes === PageSize.Size4M ||
    bytes === PageSize.Size1G
  ) {
    return pageSizeName(bytes as PageSize);
  }
  if (bytes >= 2 ** 30) return `${bytes / 2 ** 30} GiB`;
  return `${bytes / 2 ** 20} MiB`;
}

function permLetters(perms: number): string {
  const letters = [
    [1, 'W'],
    [2, 'U'],
    [4, 'X'],
    [8, 'D'],
    [16, 'G'],
  ] as const;
  const s = letters
    .filter(([bit]) => (perms & bit) !== 0)
    .map(([, letter]) => letter)
    .join(' ');
  return s === '' ? '—' : s;
}

function tagOf(ctx: number, hierarchy: TlbHierarchy, vendor: 'amd' | 'intel'): string {
  const tags = hierarchy.tags;
  const asid = tags.asidOf(ctx);
  const root = tags.nestedRootOf(ctx);
  const pcid = pcidOfContext(ctx);
  const parts: string[] = [];
  if (asid >= 0) parts.push(asid === 0 ? 'host (ASID 0)' : `${vendor === 'amd' ? 'ASID' : 'VPID'} ${asid}`);
  parts.push(pcid < 0 ? 'any PCID' : `PCID ${pcid}`);
  if (root >= 0) parts.push(`EP4TA 0x${root.toString(16)}`);
  return parts.join(', ');
}

function walkCacheViews(
  cache: PagingStructureCache | null,
  kind: TlbStructureView['kind'],
  hierarchy: TlbHierarchy,
  vendor: 'amd' | 'intel',
): TlbStructureView[] {
  if (cache === null) return [];
  const views: TlbStructureView[] = [];
  for (const entry of [WalkEntry.Pml5e, WalkEntry.Pml4e, WalkEntry.Pdpte, WalkEntry.Pde, WalkEntry.Pde32]) {
    const level = cache.level(entry);
    if (level === undefined) continue;
    const entries = entriesOf(level, hierarchy, vendor, true);
    views.push({
      name: `${kind}: ${walkEntryName[entry]}`,
      kind,
      geometry: `${level.entries} entries, ${level.ways}-way`,
      entries,
    });
  }
  return views;
}

/** Every structure of `hierarchy` with its valid entries (walk-cache levels only when they hold some). */
export function viewTlb(hierarchy: TlbHierarchy, vendor: 'amd' | 'intel'): TlbStructureView[] {
  const views: TlbStructureView[] = hierarchy.structures.map((cache) => ({
    name: cache.name,
    kind: 'tlb' as const,
    geometry: `${cache.entries} entries, ${cache.ways === cache.entries ? 'fully associative' : `${cache.ways}-way`}, ${cache.pageSizes.map((s) => pageSizeName(s)).join('/')}`,
    entries: entriesOf(cache, hierarchy, vendor, false),
  }));
  const nestedTlb = hierarchy.nestedTlb;
  const caches = [
    ...walkCacheViews(hierarchy.walkCache, 'guest walk cache', hierarchy, vendor),
    ...(nestedTlb === null
      ? []
      : [
          {
            name: 'nested TLB',
            kind: 'nested TLB' as const,
            geometry: `${nestedTlb.entries} entries, ${nestedTlb.ways}-way, guest-physical pages`,
            entries: entriesOf(nestedTlb, hierarchy, vendor, false),
          },
        ]),
    ...walkCacheViews(hierarchy.nestedWalkCache, 'nested walk cache', hierarchy, vendor),
  ];
  return [...views, ...caches.filter((c) => c.entries.length > 0)];
}

/** Every entry `hierarchy` holds, flattened, each named by its structure (an explanation's `caches`). */
export function cacheEntries(hierarchy: TlbHierarchy, vendor: Vendor): CacheEntryView[] {
  return viewTlb(hierarchy, vendor).flatMap((structure) =>
    structure.entries.map((entry) => ({ structure: structure.name, ...entry })),
  );
}

/** The entries of `before` that `after` no longer holds (an explanation's `removed`). */
export function removedEntries(
  before: readonly CacheEntryView[],
  after: readonly CacheEntryView[],
): CacheEntryView[] {
  const key = (e: CacheEntryView) => `${e.structure}|${e.covers}|${e.maps}|${e.tag}|${e.perms}`;
  const kept = new Set(after.map(key));
  return before.filter((entry) => !kept.has(key(entry)));
}
