/**
 * Paging-structure caches (Intel SDM vol. 3A §4.10.3; AMD's page walk cache, APM vol. 2 §5.5.1):
 * caches of upper-level entries (PML5E, PML4E, PDPTE, PDE) keyed by the linear-address bits that
 * select the entry, so that a walk can start below the root. An entry stores the physical address of
 * the next table and the permissions accumulated down to it (the AND of R/W and U/S, executable when
 * no XD so far). The same class serves the nested dimension (Bhargava et al., ASPLOS 2008: a page walk
 * cache extended to the nested walk) when keyed by guest-physical page numbers under nested contexts.
 *
 * Entries are tagged like TLB entries, are never global, and are invalidated by the same operations,
 * with one rule of their own: an address invalidation removes every entry of the context, whatever its
 * address ("INVLPG ... invalidates all entries in all paging-structure caches associated with the
 * current PCID, regardless of the linear addresses to which they correspond", SDM vol. 3A §4.10.4.1).
 */
import { AccessKind } from './access-kind.js';
import { InvalidationKind } from './invalidation-kind.js';
import { Perm, storedPerms } from './perm.js';
import { ReplacementPolicy } from './replacement-policy.js';
import { TagTable } from './tag-table.js';
import { TaggedStore } from './tagged-store.js';

/** The kinds of paging-structure entry a walk cache can hold. */
export const WalkEntry = {
  /** A 32-bit-paging PDE that references a page table: keyed by linear-address bits 31:22. */
  Pde32: 0,
  /** A PAE or 4/5-level PDE that references a page table: keyed by bits 47:21 (56:21 with 5-level paging). */
  Pde: 1,
  /** A PDPTE that references a page directory: keyed by bits 47:30 (56:30). */
  Pdpte: 2,
  /** A PML4E: keyed by bits 47:39 (56:39). */
  Pml4e: 3,
  /** A PML5E (5-level paging): keyed by bits 56:48. */
  Pml5e: 4,
} as const;
export type WalkEntry = (typeof WalkEntry)[keyof typeof WalkEntry];

/** The region one entry of each kind maps, in 4 KiB pages (its key is the page number divided by this). */
export const walkEntrySpan: readonly number[] = [2 ** 10, 2 ** 9, 2 ** 18, 2 ** 27, 2 ** 36];

/** The paging level of each kind, numbered as cpu-core numbers walk levels (1 = PTE ... 5 = PML5E). */
export const walkEntryLevel: readonly number[] = [2, 2, 3, 4, 5];

/** Names of the kinds, indexed by code. */
export const walkEntryName: readonly string[] = ['PDE32', 'PDE', 'PDPTE', 'PML4E', 'PML5E'];

/** One level of a paging-structure cache. */
export interface WalkCacheLevelConfig {
  /** The kind of entry it holds. */
  readonly kind: WalkEntry;
  readonly entries: number;
  readonly ways: number;
  /** Replacement policy (default LRU). */
  readonly policy?: ReplacementPolicy;
  /** Seed of the `random` policy (default 1). */
  readonly seed?: number;
  readonly name?: string;
}

/** The levels of a paging-structure cache. */
export interface PagingStructureCacheConfig {
  readonly name?: string;
  /** At most one level per kind. */
  readonly levels: readonly WalkCacheLevelConfig[];
  /** Notes on where the geometry comes from. */
  readonly source?: string;
}

/** One level of a paging-structure cache: a set-associative store keyed by one region size. */
export class WalkCacheLevel extends TaggedStore {
  /** The kind of entry it holds. */
  declare readonly kind: WalkEntry;
  /** The region one entry maps, in 4 KiB pages. */
  declare readonly span: number;

  constructor(config: WalkCacheLevelConfig, tags: TagTable, prefix: string) {
    const span = walkEntrySpan[config.kind];
    if (span === undefined) throw new RangeError(`unknown walk-cache entry kind ${config.kind}`);
    super(
      {
        name: config.name ?? `${prefix}${walkEntryName[config.kind]} cache`,
        entries: config.entries,
        ways: config.ways,
        policy: config.policy ?? ReplacementPolicy.Lru,
        seed: config.seed ?? 1,
        granules: [{ code: 0, span }],
        spanOfCode: [span],
        sizeNames: [walkEntryName[config.kind]],
        sizeSlot: (kind) => (kind === config.kind ? 0 : -1),
      },
      tags,
    );
    this.kind = config.kind;
    this.span = span;
  }

  /** The index of the entry for 4 KiB page `vpn` under exactly `ctx`, or -1 (counted as a read lookup). */
  probe(ctx: number, vpn: number): number {
    const pn = Math.floor(vpn / this.span);
    const set = this.setOf(pn);
    for (let e = set * this.ways; e < (set + 1) * this.ways; e++) {
      if (this.keys[e] === pn && this.ctxs[e] === ctx) {
        this.touch(set, e);
        this.entryHits[e * 4 + AccessKind.Read]++;
        return e;
      }
    }
    this.missCounts[AccessKind.Read]++;
    return -1;
  }

  /** Stores the entry for `vpn` under `ctx`; returns its index. */
  store(ctx: number, vpn: number, tableAddress: number, perms: number, attrs: number): number {
    const pn = Math.floor(vpn / this.span);
    return this.place(
      ctx,
      0,
      pn,
      pn,
      tableAddress,
      storedPerms(perms & ~Perm.Global),
      attrs | 0,
      AccessKind.Read,
    );
  }

  /** Removes every entry of `asid` (address invalidations do not look at the address; see the file comment). */
  override flushAddress(asid: number, _vpn: number): number {
    return this.flushContextOnly(InvalidationKind.Address, asid, -1, false);
  }

  /** Removes every entry of `pcid` in `asid` (and PCID-less ones when `includeGlobals`), whatever the address. */
  override flushAddressInPcid(asid: number, pcid: number, _vpn: number, includeGlobals: boolean): number {
    return this.flushContextOnly(InvalidationKind.AddressInPcid, asid, pcid, includeGlobals);
  }
}

/**
 * A paging-structure cache: one `WalkCacheLevel` per configured kind, looked up deepest first so the
 * walk skips as much as it can. Lookups, fills and flushes allocate nothing.
 */
export class PagingStructureCache {
  /** The cache's name. */
  declare readonly name: string;
  /** Where the geometry comes from, when known. */
  declare readonly source: string;
  /** The context table whose handles it takes. */
  declare readonly tags: TagTable;
  /** Its levels, deepest (smallest region) first. */
  declare readonly levels: readonly WalkCacheLevel[];
  /** Kind of the entry the last lookup hit (-1 after a miss). */
  hitKind = -1;
  /** Accumulated `Perm` bits of that entry. */
  hitPerms = 0;
  /** Attribute word of that entry. */
  hitAttrs = 0;

  private readonly byKind: (WalkCacheLevel | undefined)[] = [];

  constructor(config: PagingStructureCacheConfig, tags: TagTable = new TagTable()) {
    this.name = config.name ?? 'paging-structure cache';
    this.source = config.source ?? '';
    this.tags = tags;
    const levels = config.levels.map((l) => new WalkCacheLevel(l, tags, `${this.name} `));
    levels.sort((a, b) => a.span - b.span);
    for (const l of levels) {
      if (this.byKind[l.kind] !== undefined)
        throw new RangeError(`${this.name}: two levels of kind ${l.kind}`);
      this.byKind[l.kind] = l;
    }
    this.levels = levels;
  }

  /** The level holding `kind`, if configured. */
  level(kind: WalkEntry): WalkCacheLevel | undefined {
    return this.byKind[kind];
  }

  /**
   * Finds the deepest cached entry for 4 KiB page `vpn` under `ctx` and returns the physical address
   * of the table it references (the walk resumes at level `walkEntryLevel[hitKind] - 1`), or -1.
   */
  lookup(ctx: number, vpn: number): number {
    const levels = this.levels;
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i];
      const e = l.probe(ctx, vpn);
      if (e >= 0) return this.hit(l, e);
    }
    this.hitKind = -1;
    return -1;
  }

  /** Looks up one kind only: the next-table address, or -1 (also when the kind is not configured). */
  lookupKind(ctx: number, vpn: number, kind: WalkEntry): number {
    const l = this.byKind[kind];
    const e = l === undefined ? -1 : l.probe(ctx, vpn);
    if (l === undefined || e < 0) {
      this.hitKind = -1;
      return -1;
    }
    return this.hit(l, e);
  }

  private hit(l: WalkCacheLevel, e: number): number {
    this.hitKind = l.kind;
    this.hitPerms = l.perms[e] & 0xff;
    this.hitAttrs = l.attrs[e];
    return l.bases[e];
  }

  /**
   * Caches an upper-level entry a walk read: for 4 KiB page `vpn` under `ctx`, the entry of `kind`
   * references the table at `tableAddress` (4 KiB-aligned, below 2^52) with the accumulated `perms`.
   * Returns false when no level holds `kind`.
   */
  fill(ctx: number, vpn: number, kind: WalkEntry, tableAddress: number, perms: number, attrs = 0): boolean {
    if (!Number.isInteger(vpn) || vpn < 0 || vpn >= 2 ** 45) throw new RangeError(`bad vpn ${vpn}`);
    if (
      !Number.isInteger(tableAddress) ||
      tableAddress < 0 ||
      tableAddress >= 2 ** 52 ||
      tableAddress % 4096 !== 0
    ) {
      throw new RangeError(`tableAddress must be a 4 KiB-aligned address below 2^52, got ${tableAddress}`);
    }
    const l = this.byKind[kind];
    if (l === undefined) return false;
    l.store(ctx, vpn, tableAddress, perms, attrs);
    return true;
  }

  /** See `TaggedStore.flushAll`. */
  flushAll(): number {
    return this.each((l) => l.flushAll());
  }

  /** See `TaggedStore.flushAddressSpace`. */
  flushAddressSpace(asid: number): number {
    return this.each((l) => l.flushAddressSpace(asid));
  }

  /** See `TaggedStore.flushAddressSpaceNonGlobal` (walk-cache entries are never global). */
  flushAddressSpaceNonGlobal(asid: number): number {
    return this.each((l) => l.flushAddressSpaceNonGlobal(asid));
  }

  /** See `TaggedStore.flushGuests`. */
  flushGuests(): number {
    return this.each((l) => l.flushGuests());
  }

  /** Removes every entry of `asid`, whatever the address (INVLPGA, INVVPID type 0; SDM vol. 3A §4.10.4.1). */
  flushAddress(asid: number, vpn: number): number {
    return this.each((l) => l.flushAddress(asid, vpn));
  }

  /** The entries that would be used for `vpn` under `ctx`, level by level (see `TaggedStore.flushLookup`). */
  flushLookup(ctx: number, vpn: number): number {
    return this.each((l) => l.flushLookup(ctx, vpn));
  }

  /** Removes every entry of `pcid` in `asid`, whatever the address (INVLPG, INVPCID type 0; SDM vol. 3A §4.10.4.1). */
  flushAddressInPcid(asid: number, pcid: number, vpn: number, includeGlobals: boolean): number {
    return this.each((l) => l.flushAddressInPcid(asid, pcid, vpn, includeGlobals));
  }

  /** See `TaggedStore.flushPcid`. */
  flushPcid(asid: number, pcid: number, includeGlobals: boolean): number {
    return this.each((l) => l.flushPcid(asid, pcid, includeGlobals));
  }

  /** See `TaggedStore.flushNestedRoot`. */
  flushNestedRoot(root: number): number {
    return this.each((l) => l.flushNestedRoot(root));
  }

  /** See `TaggedStore.flushAllNestedRoots`. */
  flushAllNestedRoots(): number {
    return this.each((l) => l.flushAllNestedRoots());
  }

  /** Zeroes every level's counters. */
  resetStats(): void {
    for (const l of this.levels) l.stats.reset();
  }

  private each(f: (l: WalkCacheLevel) => number): number {
    let n = 0;
    for (const l of this.levels) n += f(l);
    return n;
  }
}
