import { type AccessKind, accessKindName } from './access-kind.js';
import { INVALIDATION_KIND_COUNT, type InvalidationKind, invalidationKindName } from './invalidation-kind.js';

/** Size slots of the per-size counters (TLBs use the page-size codes 0-3; a walk-cache level uses slot 0). */
export const SIZE_SLOTS = 8;

const ACCESS_KINDS = 3;

/** Indexes of the scalar counters in `CacheStats.other`. */
export const OtherCounter = {
  /** Fills that stored a smaller piece of a page the structure cannot hold whole. */
  Splinters: 0,
  /** Entries a fill removed because a lookup for the filled address would have hit them. */
  StaleRemoved: 1,
  /** Entries removed because an outer level of an inclusive hierarchy evicted their page. */
  BackInvalidations: 2,
  /** Entries copied in from an outer level after a hit there. */
  Promotions: 3,
} as const;

/** Counts for one access kind. */
export interface AccessCounts {
  readonly lookups: number;
  readonly hits: number;
  readonly misses: number;
  /** Misses where an entry matched but its cached permissions did not satisfy the access (a write to D=0). */
  readonly permissionMisses: number;
}

/** A plain-object copy of a structure's counters, for reports and JSON. */
export interface CacheStatsSnapshot {
  readonly name: string;
  readonly lookups: number;
  readonly hits: number;
  readonly misses: number;
  readonly permissionMisses: number;
  readonly byAccess: Readonly<Record<'read' | 'write' | 'execute', AccessCounts>>;
  /** Hits by the size (or walk-cache level) of the entry that hit. */
  readonly hitsBySize: Readonly<Record<string, number>>;
  readonly fills: number;
  readonly fillsBySize: Readonly<Record<string, number>>;
  readonly evictions: number;
  readonly evictionsBySize: Readonly<Record<string, number>>;
  /** Operations and entries removed, by invalidation kind. */
  readonly invalidations: Readonly<Record<string, { readonly operations: number; readonly entries: number }>>;
  readonly splinters: number;
  readonly staleRemoved: number;
  readonly backInvalidations: number;
  readonly promotions: number;
}

/**
 * Counters of one structure. They live in typed arrays that the structure increments with plain adds
 * on its own hot path (Float64Array: exact to 2^53, so no counter wraps), so reading them costs the
 * lookup nothing. `reset` zeroes them in place: references to the arrays stay valid.
 */
export class CacheStats {
  /**
   * Called before any count is read: the structure moves its live entries' hit counts (kept per entry
   * on the hot path) into `hitCounts`. Call it yourself before reading `hitCounts` directly.
   */
  sync: () => void = () => {};

  /** Hits, indexed by access kind * 8 + size slot of the entry that hit (after `sync()`). */
  readonly hitCounts = new Float64Array(ACCESS_KINDS * SIZE_SLOTS);
  /** Misses (permission misses included), indexed by access kind. */
  readonly missCounts = new Float64Array(ACCESS_KINDS);
  /** Permission misses, indexed by access kind. */
  readonly permissionMissCounts = new Float64Array(ACCESS_KINDS);
  /** Fills, indexed by access kind * 8 + size slot of the stored entry. */
  readonly fillCounts = new Float64Array(ACCESS_KINDS * SIZE_SLOTS);
  /** Capacity evictions of valid entries, indexed by size slot of the evicted entry. */
  readonly evictionCounts = new Float64Array(SIZE_SLOTS);
  /** Invalidation operations received, indexed by `InvalidationKind`. */
  readonly invalidationCounts = new Float64Array(INVALIDATION_KIND_COUNT);
  /** Entries removed by invalidation operations, indexed by `InvalidationKind`. */
  readonly invalidatedEntryCounts = new Float64Array(INVALIDATION_KIND_COUNT);
  /** Scalar counters, indexed by `OtherCounter`. */
  readonly other = new Float64Array(4);

  /** The structure's name, copied into snapshots. */
  declare readonly name: string;
  /** Names of the size slots the structure uses, indexed by slot. */
  declare readonly sizeNames: readonly string[];
  /** The slot of a size as callers name it (a `PageSize` for TLBs), or -1. */
  declare private readonly slotOf: (size: number) => number;

  constructor(name: string, sizeNames: readonly string[], slotOf: (size: number) => number) {
    this.name = name;
    this.sizeNames = sizeNames;
    this.slotOf = slotOf;
  }

  /** Hits, of one access kind and/or one size (a `PageSize` for TLBs) when given. */
  hits(access?: AccessKind, size?: number): number {
    return this.hitsInSlot(access, size === undefined ? undefined : this.slotOf(size));
  }

  private hitsInSlot(access: AccessKind | undefined, slot: number | undefined): number {
    this.sync();
    let n = 0;
    for (let a = 0; a < ACCESS_KINDS; a++) {
      if (access !== undefined && a !== access) continue;
      for (let s = 0; s < SIZE_SLOTS; s++) {
        if (slot === undefined || s === slot) n += this.hitCounts[a * SIZE_SLOTS + s];
      }
    }
    return n;
  }

  /** Misses (permission misses included), of one access kind when given. */
  misses(access?: AccessKind): number {
    return access === undefined ? sum(this.missCounts) : this.missCounts[access];
  }

  /** Permission misses, of one access kind when given. */
  permissionMisses(access?: AccessKind): number {
    return access === undefined ? sum(this.permissionMissCounts) : this.permissionMissCounts[access];
  }

  /** Lookups (hits plus misses), of one access kind when given. */
  lookups(access?: AccessKind): number {
    return this.hits(access) + this.misses(access);
  }

  /** Fills, of one stored size (a `PageSize` for TLBs) when given. */
  fills(size?: number): number {
    return this.fillsInSlot(size === undefined ? undefined : this.slotOf(size));
  }

  private fillsInSlot(slot: number | undefined): number {
    let n = 0;
    for (let i = 0; i < this.fillCounts.length; i++) {
      if (slot === undefined || i % SIZE_SLOTS === slot) n += this.fillCounts[i];
    }
    return n;
  }

  /** Capacity evictions, of one size (a `PageSize` for TLBs) when given. */
  evictions(size?: number): number {
    if (size === undefined) return sum(this.evictionCounts);
    const slot = this.slotOf(size);
    return slot < 0 ? 0 : this.evictionCounts[slot];
  }

  /** Invalidation operations received, of one kind when given. */
  invalidations(kind?: InvalidationKind): number {
    return kind === undefined ? sum(this.invalidationCounts) : this.invalidationCounts[kind];
  }

  /** Entries removed by invalidations, of one kind when given. */
  invalidatedEntries(kind?: InvalidationKind): number {
    return kind === undefined ? sum(this.invalidatedEntryCounts) : this.invalidatedEntryCounts[kind];
  }

  /** Zeroes every counter. */
  reset(): void {
    this.sync();
    this.hitCounts.fill(0);
    this.missCounts.fill(0);
    this.permissionMissCounts.fill(0);
    this.fillCounts.fill(0);
    this.evictionCounts.fill(0);
    this.invalidationCounts.fill(0);
    this.invalidatedEntryCounts.fill(0);
    this.other.fill(0);
  }

  /** A plain-object copy of the counters. */
  snapshot(): CacheStatsSnapshot {
    const byAccess = {} as Record<'read' | 'write' | 'execute', AccessCounts>;
    for (let a = 0; a < ACCESS_KINDS; a++) {
      const access = a as AccessKind;
      byAccess[accessKindName[access]] = {
        lookups: this.lookups(access),
        hits: this.hits(access),
        misses: this.misses(access),
        permissionMisses: this.permissionMisses(access),
      };
    }
    const hitsBySize: Record<string, number> = {};
    const fillsBySize: Record<string, number> = {};
    const evictionsBySize: Record<string, number> = {};
    this.sizeNames.forEach((n, s) => {
      hitsBySize[n] = this.hitsInSlot(undefined, s);
      fillsBySize[n] = this.fillsInSlot(s);
      evictionsBySize[n] = this.evictionCounts[s];
    });
    const invalidations: Record<string, { operations: number; entries: number }> = {};
    invalidationKindName.forEach((n, k) => {
      invalidations[n] = { operations: this.invalidationCounts[k], entries: this.invalidatedEntryCounts[k] };
    });
    return {
      name: this.name,
      lookups: this.lookups(),
      hits: this.hits(),
      misses: this.misses(),
      permissionMisses: this.permissionMisses(),
      byAccess,
      hitsBySize,
      fills: this.fills(),
      fillsBySize,
      evictions: this.evictions(),
      evictionsBySize,
      invalidations,
      splinters: this.other[OtherCounter.Splinters],
      staleRemoved: this.other[OtherCounter.StaleRemoved],
      backInvalidations: this.other[OtherCounter.BackInvalidations],
      promotions: this.other[OtherCounter.Promotions],
    };
  }
}

function sum(a: Float64Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) n += a[i];
  return n;
}
