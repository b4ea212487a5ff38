/**
 * A TLB hierarchy: levels of structures (split L1 instruction and data TLBs over a unified STLB, or
 * AMD's separate L2 ITLB and L2 DTLB, or anything else), an instruction path and a data path through
 * them, an inclusion policy, a fill policy, and optionally a paging-structure cache, a nested TLB and a
 * nested walk cache that the invalidation operations reach as the architecture says they must.
 */
import { AccessKind } from './access-kind.js';
import type { CacheStatsSnapshot } from './cache-stats.js';
import { PageSize, spanOfCode } from './page-size.js';
import { PagingStructureCache, type PagingStructureCacheConfig } from './paging-structure-cache.js';
import { storedPerms } from './perm.js';
import { TagTable } from './tag-table.js';
import { CODE_UNIT } from './tagged-store.js';
import { TlbLevel, type TlbLevelConfig } from './tlb-level.js';
import { TLB_MISS, TLB_PERMISSION_MISS, type TlbHead, type TlbOrganization } from './tlb-organization.js';
import {
  checkFill,
  storedContext,
  TranslationCache,
  type TranslationCacheConfig,
} from './translation-cache.js';

/**
 * Whether an outer level keeps a copy of everything in the levels before it. `inclusive`: when an
 * outer level evicts a page, the inner levels on every path through it drop their entries for that
 * page (back-invalidation). `non-inclusive`: levels evict independently.
 */
export type Inclusion = 'inclusive' | 'non-inclusive';

/**
 * Which levels of the access's path a walk's translation is filled into: `all`, the `first` (innermost)
 * only, or the `last` (outermost) only. Inclusive hierarchies need `all`.
 */
export type FillPolicy = 'all' | 'first' | 'last';

/** The shape of a hierarchy. */
export interface TlbHierarchyConfig {
  /** The hierarchy's name, e.g. "Skylake-class". */
  readonly name: string;
  /** Where the geometry comes from. */
  readonly source?: string;
  /** Its levels; paths refer to them by name. */
  readonly levels: readonly TlbLevelConfig[];
  /** Level names an instruction fetch looks up, in lookup order. */
  readonly instructionPath: readonly string[];
  /** Level names a read or write looks up, in lookup order. */
  readonly dataPath: readonly string[];
  /** Default `non-inclusive`. */
  readonly inclusion?: Inclusion;
  /** Default `all`. */
  readonly fillPolicy?: FillPolicy;
  /** Whether a hit in an outer level copies the entry into the inner levels of the path (default true). */
  readonly promoteOnHit?: boolean;
  /** A paging-structure cache for the (guest) linear walk. */
  readonly walkCache?: PagingStructureCacheConfig;
  /** A nested TLB: guest-physical to host-physical translations (Bhargava et al., ASPLOS 2008). */
  readonly nestedTlb?: TranslationCacheConfig;
  /** A walk cache for the nested dimension of a two-dimensional walk. */
  readonly nestedWalkCache?: PagingStructureCacheConfig;
}

/**
 * Counters of a hierarchy as a whole. Hits are not counted again here: they are read from the
 * structures of each level (an instruction fetch can only hit in the instruction path, a read or write
 * in the data path), so the hit path pays for one counter only.
 */
export class HierarchyStats {
  /** Lookups that missed every level (each means a walk), permission misses included, by access kind. */
  readonly missCounts = new Float64Array(3);
  /** Lookups that ended on a permission miss, indexed by access kind. */
  readonly permissionMissCounts = new Float64Array(3);
  declare private readonly instructionPath: readonly TlbLevel[];
  declare private readonly dataPath: readonly TlbLevel[];

  constructor(instructionPath: readonly TlbLevel[], dataPath: readonly TlbLevel[]) {
    this.instructionPath = instructionPath;
    this.dataPath = dataPath;
  }

  /** Lookups, of one access kind when given. */
  lookups(access?: AccessKind): number {
    return this.hits(access) + this.misses(access);
  }

  /** Hits, of one access kind and/or at one position of the access's path when given. */
  hits(access?: AccessKind, position?: number): number {
    let n = 0;
    for (let a = 0; a < 3; a++) {
      if (access !== undefined && a !== access) continue;
      const path = a === AccessKind.Execute ? this.instructionPath : this.dataPath;
      path.forEach((level, p) => {
        if (position !== undefined && p !== position) return;
        for (const c of level.caches) n += c.stats.hits(a as AccessKind);
      });
    }
    return n;
  }

  /** Misses (walks and permission misses), of one access kind when given. */
  misses(access?: AccessKind): number {
    let n = 0;
    for (let a = 0; a < 3; a++) if (access === undefined || a === access) n += this.missCounts[a];
    return n;
  }

  /** Zeroes the hierarchy's own counters (`TlbHierarchy.resetStats` also zeroes the structures'). */
  reset(): void {
    this.missCounts.fill(0);
    this.permissionMissCounts.fill(0);
  }
}

/** A multi-level TLB with its walk caches; see the file comment. */
export class TlbHierarchy implements TlbOrganization {
  /** The hierarchy's name. */
  declare readonly name: string;
  /** Where its geometry comes from. */
  declare readonly source: string;
  /** The context table every structure of the hierarchy shares. */
  declare readonly tags: TagTable;
  /** Every level, in configuration order. */
  declare readonly levels: readonly TlbLevel[];
  /** The levels an instruction fetch looks up, in order. */
  declare readonly instructionPath: readonly TlbLevel[];
  /** The levels a read or write looks up, in order. */
  declare readonly dataPath: readonly TlbLevel[];
  /** Whether an outer eviction removes the page from the inner levels. */
  declare readonly inclusion: Inclusion;
  /** Which levels of the path a walk's translation goes to. */
  declare readonly fillPolicy: FillPolicy;
  /** Whether an outer hit is copied into the inner levels. */
  declare readonly promoteOnHit: boolean;
  /** The paging-structure cache of the linear walk, if configured. */
  declare readonly walkCache: PagingStructureCache | null;
  /** The nested TLB, if configured: look it up with `tags.nestedContext` handles and guest-physical page numbers. */
  declare readonly nestedTlb: TranslationCache | null;
  /** The nested dimension's walk cache, if configured (nested contexts, guest-physical page numbers). */
  declare readonly nestedWalkCache: PagingStructureCache | null;
  /** Whole-hierarchy counters. */
  declare readonly stats: HierarchyStats;
  /** Index in the path's flattened structures of the last match (-1 after a miss). */
  private hitIndex = -1;
  private hitFetch = false;
  declare private readonly caches: readonly TranslationCache[];
  /** Each path's structures in lookup order, flattened, with the path position of each. */
  declare private readonly instructionCaches: readonly TranslationCache[];
  declare private readonly instructionPositions: Int32Array;
  declare private readonly dataCaches: readonly TranslationCache[];
  declare private readonly dataPositions: Int32Array;
  /** Each path's first structure (null for an empty path). */
  declare private readonly instructionHead: TranslationCache | null;
  declare private readonly dataHead: TranslationCache | null;
  /** Index of each path's first structure beyond its first level: hits from there on are promoted. */
  declare private readonly instructionFirst: number;
  declare private readonly dataFirst: number;
  declare private readonly innerLevels: Map<TlbLevel, TlbLevel[]>;
  private readonly range = new Float64Array(2);

  constructor(config: TlbHierarchyConfig, tags: TagTable = new TagTable()) {
    this.name = config.name;
    this.source = config.source ?? '';
    this.tags = tags;
    this.inclusion = config.inclusion ?? 'non-inclusive';
    this.fillPolicy = config.fillPolicy ?? 'all';
    this.promoteOnHit = config.promoteOnHit ?? true;
    if (this.inclusion === 'inclusive' && this.fillPolicy !== 'all') {
      throw new RangeError(`${config.name}: an inclusive hierarchy must fill all levels`);
    }
    const byName = new Map<string, TlbLevel>();
    this.levels = config.levels.map((l) => {
      if (byName.has(l.name)) throw new RangeError(`${config.name}: two levels named ${l.name}`);
      const level = new TlbLevel(l, tags);
      byName.set(l.name, level);
      return level;
    });
    const path = (names: readonly string[]): TlbLevel[] => {
      if (new Set(names).size !== names.length)
        throw new RangeError(`${config.name}: a path repeats a level`);
      return names.map((n) => {
        const l = byName.get(n);
        if (l === undefined) throw new RangeError(`${config.name}: no level named ${n}`);
        return l;
      });
    };
    this.instructionPath = path(config.instructionPath);
    this.dataPath = path(config.dataPath);
    this.caches = this.levels.flatMap((l) => l.caches);
    this.instructionCaches = this.instructionPath.flatMap((l) => l.caches);
    this.instructionPositions = Int32Array.from(
      this.instructionPath.flatMap((l, i) => l.caches.map(() => i)),
    );
    this.dataCaches = this.dataPath.flatMap((l) => l.caches);
    this.dataPositions = Int32Array.from(this.dataPath.flatMap((l, i) => l.caches.map(() => i)));
    this.instructionHead = this.instructionCaches[0] ?? null;
    this.dataHead = this.dataCaches[0] ?? null;
    this.instructionFirst = this.instructionPath[0]?.caches.length ?? 0;
    this.dataFirst = this.dataPath[0]?.caches.length ?? 0;
    this.stats = new HierarchyStats(this.instructionPath, this.dataPath);
    this.innerLevels = new Map();
    for (const p of [this.instructionPath, this.dataPath]) {
      p.forEach((l, i) => {
        const inner = this.innerLevels.get(l) ?? [];
        for (const x of p.slice(0, i)) if (!inner.includes(x)) inner.push(x);
        this.innerLevels.set(l, inner);
      });
    }
    this.walkCache = config.walkCache ? new PagingStructureCache(config.walkCache, tags) : null;
    this.nestedTlb = config.nestedTlb
      ? new TranslationCache({ name: 'nested TLB', ...config.nestedTlb }, tags)
      : null;
    this.nestedWalkCache = config.nestedWalkCache
      ? new PagingStructureCache({ name: 'nested walk cache', ...config.nestedWalkCache }, tags)
      : null;
  }

  /** Every TLB structure of every level. */
  get structures(): readonly TranslationCache[] {
    return this.caches;
  }

  /**
   * See `TlbOrganization.lookup`: the structures of the access's path are searched in order (level by
   * level, each level's structures in their order); the first match answers. A hit beyond the first
   * level is copied into the levels before it when `promoteOnHit`.
   */
  lookup(ctx: number, vpn: number, access: AccessKind, need: number): number {
    const fetch = access === AccessKind.Execute;
    // The path's first structure is looked up outside the loop: a loop around the inlined lookup
    // measured 2.5x slower than this straight-line call for an L1 hit.
    const head = fetch ? this.instructionHead : this.dataHead;
    if (head !== null) {
      const r = head.lookup(ctx, vpn, access, need);
      if (r >= 0) {
        this.hitIndex = 0;
        this.hitFetch = fetch;
        return r;
      }
      if (r !== TLB_MISS) return this.permissionMiss(fetch, 0, access);
    }
    return this.lookupRest(ctx, vpn, access, need, fetch);
  }

  /**
   * See `TlbOrganization.headOf`: the path's first structure. A hit there is what `lookup` would
   * answer (the head is searched first, and a first-level hit is neither promoted nor counted here);
   * `hitLevel` and `hitWord` describe `lookup`'s hits only.
   */
  headOf(access: AccessKind): TlbHead | null {
    return access === AccessKind.Execute ? this.instructionHead : this.dataHead;
  }

  /** The lookup beyond the path's first structure. */
  private lookupRest(ctx: number, vpn: number, access: AccessKind, need: number, fetch: boolean): number {
    const caches = fetch ? this.instructionCaches : this.dataCaches;
    for (let i = 1; i < caches.length; i++) {
      const r = caches[i].lookup(ctx, vpn, access, need);
      if (r === TLB_MISS) continue;
      if (r < 0) return this.permissionMiss(fetch, i, access);
      // Numbers, not the structure itself: storing an object into a field costs a write barrier.
      this.hitIndex = i;
      this.hitFetch = fetch;
      if (i >= (fetch ? this.instructionFirst : this.dataFirst) && this.promoteOnHit)
        this.promote(fetch, i, vpn);
      return r;
    }
    this.hitIndex = -1;
    this.stats.missCounts[access]++;
    return TLB_MISS;
  }

  private permissionMiss(fetch: boolean, i: number, access: AccessKind): number {
    this.hitIndex = i;
    this.hitFetch = fetch;
    this.stats.missCounts[access]++;
    this.stats.permissionMissCounts[access]++;
    return TLB_PERMISSION_MISS;
  }

  private promote(fetch: boolean, i: number, vpn: number): void {
    const path = fetch ? this.instructionPath : this.dataPath;
    const position = (fetch ? this.instructionPositions : this.dataPositions)[i];
    const from = (fetch ? this.instructionCaches : this.dataCaches)[i];
    const e = from.hitEntry;
    const code = Math.floor(from.keys[e] / CODE_UNIT);
    const access = fetch ? AccessKind.Execute : AccessKind.Read;
    for (let j = 0; j < position; j++) path[j].targetCode(code)?.copyFrom(from, e, vpn, access);
  }

  /** Position in the access's path of the level the last lookup matched in (-1 after a miss). */
  get hitLevel(): number {
    if (this.hitIndex < 0) return -1;
    return (this.hitFetch ? this.instructionPositions : this.dataPositions)[this.hitIndex];
  }

  /** See `TlbOrganization.hitGuestPhysical`. */
  hitGuestPhysical(hostPhysical: number): number {
    return (this.hitFetch ? this.instructionCaches : this.dataCaches)[this.hitIndex].hitGuestPhysical(
      hostPhysical,
    );
  }

  /** See `TlbOrganization.hitWord`. */
  hitWord(): number {
    const i = this.hitIndex;
    const fetch = this.hitFetch;
    const word = (fetch ? this.instructionCaches : this.dataCaches)[i].hitWord();
    return word | ((fetch ? this.instructionPositions : this.dataPositions)[i] << 24);
  }

  /** `Perm` bits of the entry the last lookup matched. */
  get hitPerms(): number {
    return this.hitStructure?.hitPerms ?? 0;
  }

  /** Stored page size of the entry the last lookup matched. */
  get hitPageSize(): PageSize {
    return this.hitStructure?.hitPageSize ?? PageSize.Size4K;
  }

  /** Attribute word of the entry the last lookup matched. */
  get hitAttrs(): number {
    return this.hitStructure?.hitAttrs ?? 0;
  }

  /** The structure the last lookup matched in, or null. */
  get hitStructure(): TranslationCache | null {
    if (this.hitIndex < 0) return null;
    return (this.hitFetch ? this.instructionCaches : this.dataCaches)[this.hitIndex];
  }

  /** See `TlbOrganization.fill`: stale matches leave every level, then the fill policy picks levels. */
  fill(
    ctx: number,
    vpn: number,
    access: AccessKind,
    pageSize: PageSize,
    pageBase: number,
    perms: number,
    attrs = 0,
    guestBase = Number.NaN,
  ): boolean {
    const code = checkFill(vpn, access, pageSize, pageBase);
    const origKey = Math.floor(vpn / spanOfCode[code]) + code * CODE_UNIT;
    const stored = storedContext(ctx, perms);
    const word = storedPerms(perms);
    // Both paths: a stale entry in the other path's L1 could otherwise answer after this fill.
    for (const l of this.levels) l.removeStale(ctx, vpn, origKey, stored, word, attrs | 0, pageBase);
    const path = access === AccessKind.Execute ? this.instructionPath : this.dataPath;
    if (path.length === 0) return false;
    let filled = false;
    // Outermost first, so a back-invalidation caused by an outer eviction cannot hit the new inner entry.
    for (let i = path.length - 1; i >= 0; i--) {
      if (this.fillPolicy === 'first' && i !== 0) continue;
      if (this.fillPolicy === 'last' && i !== path.length - 1) continue;
      const cache = path[i].targetCode(code);
      if (cache === null) continue;
      if (cache.insert(ctx, vpn, access, code, pageBase, perms, attrs, origKey, guestBase - pageBase) < 0)
        continue;
      filled = true;
      if (this.inclusion === 'inclusive' && cache.evicted[1] >= 0) this.backInvalidate(path[i], cache);
    }
    return filled;
  }

  private backInvalidate(level: TlbLevel, cache: TranslationCache): void {
    const inner = this.innerLevels.get(level);
    if (inner === undefined || inner.length === 0) return;
    cache.rangeOfKey(cache.evicted[1], this.range);
    for (const l of inner) l.removeOverlapping(cache.evicted[0], this.range[0], this.range[1]);
  }

  private sum(f: (c: TlbOrganizationPart) => number, nested: boolean): number {
    let n = 0;
    for (const c of this.caches) n += f(c);
    if (this.walkCache !== null) n += f(this.walkCache);
    if (nested) {
      if (this.nestedTlb !== null) n += f(this.nestedTlb);
      if (this.nestedWalkCache !== null) n += f(this.nestedWalkCache);
    }
    return n;
  }

  /** Removes everything, nested structures included. See `TaggedStore.flushAll`. */
  flushAll(): number {
    return this.sum((c) => c.flushAll(), true);
  }

  /**
   * Removes everything of `asid`, nested structures included (on AMD an ASID also tags the guest's
   * nested translations, APM vol. 2 §15.25.1). See `TaggedStore.flushAddressSpace`.
   */
  flushAddressSpace(asid: number): number {
    return this.sum((c) => c.flushAddressSpace(asid), true);
  }

  /** Removes the non-global entries of `asid` and its walk-cache entries. See `TaggedStore.flushAddressSpaceNonGlobal`. */
  flushAddressSpaceNonGlobal(asid: number): number {
    return this.sum((c) => c.flushAddressSpaceNonGlobal(asid), false);
  }

  /** Removes the entries of every address space but the host's. See `TaggedStore.flushGuests`. */
  flushGuests(): number {
    return this.sum((c) => c.flushGuests(), false);
  }

  /** Removes `asid`'s entries for linear page `vpn` and all its walk-cache entries. See `TaggedStore.flushAddress`. */
  flushAddress(asid: number, vpn: number): number {
    return this.sum((c) => c.flushAddress(asid, vpn), false);
  }

  /** Removes `pcid`'s entries for `vpn` and its walk-cache entries. See `TaggedStore.flushAddressInPcid`. */
  flushAddressInPcid(asid: number, pcid: number, vpn: number, includeGlobals: boolean): number {
    return this.sum((c) => c.flushAddressInPcid(asid, pcid, vpn, includeGlobals), false);
  }

  /**
   * Removes the TLB entries a lookup under `ctx` would use for `vpn`, at every level (not the walk
   * caches: the MMU invalidates its walk cache itself). See `TaggedStore.flushLookup`.
   */
  flushLookup(ctx: number, vpn: number): number {
    let n = 0;
    for (const c of this.caches) n += c.flushLookup(ctx, vpn);
    return n;
  }

  /** Removes `pcid`'s entries and walk-cache entries. See `TaggedStore.flushPcid`. */
  flushPcid(asid: number, pcid: number, includeGlobals: boolean): number {
    return this.sum((c) => c.flushPcid(asid, pcid, includeGlobals), false);
  }

  /** Removes combined and guest-physical mappings of `root` everywhere. See `TaggedStore.flushNestedRoot`. */
  flushNestedRoot(root: number): number {
    return this.sum((c) => c.flushNestedRoot(root), true);
  }

  /** Removes combined and guest-physical mappings of every root. See `TaggedStore.flushAllNestedRoots`. */
  flushAllNestedRoots(): number {
    return this.sum((c) => c.flushAllNestedRoots(), true);
  }

  /** Zeroes the counters of the hierarchy and of every structure in it. */
  resetStats(): void {
    this.stats.reset();
    for (const c of this.caches) c.stats.reset();
    this.walkCache?.resetStats();
    this.nestedTlb?.stats.reset();
    this.nestedWalkCache?.resetStats();
  }

  /** Plain-object copies of every structure's counters, TLB levels first, then the walk caches. */
  snapshot(): CacheStatsSnapshot[] {
    const out = this.caches.map((c) => c.stats.snapshot());
    for (const p of [this.walkCache, this.nestedWalkCache]) {
      if (p !== null) for (const l of p.levels) out.push(l.stats.snapshot());
    }
    if (this.nestedTlb !== null) out.push(this.nestedTlb.stats.snapshot());
    return out;
  }
}

/** The flush operations shared by TLB structures and walk caches. */
type TlbOrganizationPart = Pick<
  TlbOrganization,
  | 'flushAll'
  | 'flushAddressSpace'
  | 'flushAddressSpaceNonGlobal'
  | 'flushGuests'
  | 'flushAddress'
  | 'flushAddressInPcid'
  | 'flushPcid'
  | 'flushNestedRoot'
  | 'flushAllNestedRoots'
>;
