import type { AccessKind } from './access-kind.js';
import type { PageSize } from './page-size.js';
import type { TagTable } from './tag-table.js';

/** A lookup's result when no entry matches the context and address. */
export const TLB_MISS = -1;

/**
 * A lookup's result when an entry matches but its cached permissions do not satisfy the access: a
 * write to an entry cached with D=0, or rights the walk did not grant. The MMU goes back to the walker,
 * which sets D in memory or raises the fault (SDM vol. 3A §4.8, §4.10.2.3; APM vol. 2 §5.4.2).
 */
export const TLB_PERMISSION_MISS = -2;

/**
 * What an MMU sees of a TLB: a single `TranslationCache` or a whole `TlbHierarchy`. The contract test
 * suite runs against this interface, so any organization a user builds can be checked the same way.
 *
 * Addresses are 4 KiB page numbers (`vpn` = linear address / 4096, up to 45 bits; guest-physical page
 * numbers for a nested TLB). Contexts are handles from `tags`.
 */
export interface TlbOrganization {
  /** The context table whose handles lookups and fills take. */
  readonly tags: TagTable;

  /**
   * Looks up 4 KiB page `vpn` under context `ctx` for an access of kind `access` that needs the `Perm`
   * bits in `need` (and, through `permClear`, needs others clear). Returns the physical address of the
   * 4 KiB page holding the access (add the low 12 bits of the address), `TLB_MISS`, or
   * `TLB_PERMISSION_MISS`. After a hit or a permission miss, `hitPerms`, `hitPageSize` and `hitAttrs`
   * describe the matching entry. Allocates nothing.
   */
  lookup(ctx: number, vpn: number, access: AccessKind, need: number): number;

  /**
   * Caches a translation a walk produced: the access at 4 KiB page `vpn` under `ctx` reaches a page of
   * `pageSize` whose physical base is `pageBase` (aligned to the page size, below 2^52), with `perms`
   * (`Perm` bits: Global stores the entry for every PCID of the context's space) and the MMU's
   * `attrs` word, and, for the simulator's reports, the guest-physical base `guestBase` the walk found
   * (NaN: none; never part of a match). Entries a lookup for `vpn` under `ctx` would hit are replaced.
   * Returns whether any structure stored it.
   */
  fill(
    ctx: number,
    vpn: number,
    access: AccessKind,
    pageSize: PageSize,
    pageBase: number,
    perms: number,
    attrs?: number,
    guestBase?: number,
  ): boolean;

  /** `Perm` bits of the entry the last lookup matched. */
  readonly hitPerms: number;
  /** Page size of the entry the last lookup matched (the stored size, smaller when splintered). */
  readonly hitPageSize: PageSize;
  /** Attribute word of the entry the last lookup matched. */
  readonly hitAttrs: number;
  /**
   * Position, in the access's path, of the level that served the last hit (0 = the first level), so a
   * cost model can charge each level its latency. Optional for organizations of one level.
   */
  readonly hitLevel?: number;
  /**
   * The last hit in one number, for an MMU's hit path: the entry's `Perm` bits (bits 7:0), log2 of its
   * stored page size (bits 21:16) and the level that served it (bits 27:24; see `hitLevel`). Decode
   * with `HitWord`. Undefined after a miss.
   */
  hitWord(): number;
  /**
   * The guest-physical address of the last hit, given the host-physical address `lookup` returned
   * (plus the low bits): from the `guestBase` of the fill, NaN when it gave none.
   */
  hitGuestPhysical(hostPhysical: number): number;

  /**
   * The structure an access of kind `access` looks up first, when a hit there (`TranslationCache.probe`)
   * is the organization's whole answer, at level 0, with nothing else to update; null when there is
   * none. An MMU probes it before `lookup` (the hit fast path); an organization that must see every
   * lookup leaves this out.
   */
  headOf?(access: AccessKind): TlbHead | null;

  /** See `TaggedStore.flushAll`. Returns the number of entries removed. */
  flushAll(): number;
  /** See `TaggedStore.flushAddressSpace`. */
  flushAddressSpace(asid: number): number;
  /** See `TaggedStore.flushAddressSpaceNonGlobal`. */
  flushAddressSpaceNonGlobal(asid: number): number;
  /** See `TaggedStore.flushGuests`. */
  flushGuests(): number;
  /** See `TaggedStore.flushAddress`. */
  flushAddress(asid: number, vpn: number): number;
  /** See `TaggedStore.flushAddressInPcid`. */
  flushAddressInPcid(asid: number, pcid: number, vpn: number, includeGlobals: boolean): number;
  /** The translations a lookup under `ctx` would use for `vpn` (a page fault's invalidation); see `TaggedStore.flushLookup`. */
  flushLookup(ctx: number, vpn: number): number;
  /** See `TaggedStore.flushPcid`. */
  flushPcid(asid: number, pcid: number, includeGlobals: boolean): number;
  /** See `TaggedStore.flushNestedRoot`. */
  flushNestedRoot(root: number): number;
  /** See `TaggedStore.flushAllNestedRoots`. */
  flushAllNestedRoots(): number;
}

/**
 * The first structure of a TLB's path as an MMU's hit fast path sees it (a `TranslationCache`):
 * `probe` returns the index of a 4 KiB entry that serves the access, or -1 with nothing changed.
 */
export interface TlbHead {
  probe(ctx: number, vpn: number, access: AccessKind, need: number): number;
  /** Per entry, the physical base of the stored page. */
  readonly bases: Float64Array;
  /** Per entry, the `Perm` bits (within `PERM_MASK`) and the structure's bookkeeping bits above. */
  readonly perms: Int32Array;
  /** Per entry, guest-physical minus host-physical base (NaN when its fill gave none). */
  guestDeltaOf(e: number): number;
}

/** Fields of `TlbOrganization.hitWord`. */
export const HitWord = {
  /** `word & PERMS`: the `Perm` bits. */
  PERMS: 0xff,
  /** `(word >>> SHIFT_AT) & 0x3f`: log2 of the page size. */
  SHIFT_AT: 16,
  /** `word >>> LEVEL_AT`: the level. */
  LEVEL_AT: 24,
} as const;
