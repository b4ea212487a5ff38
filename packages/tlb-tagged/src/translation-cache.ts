/**
 * One set-associative TLB structure: any geometry (direct-mapped to fully associative), one page size
 * or several, any replacement policy. The hit path is one set-index computation, a tag compare
 * (page key, then context handle or its global handle) and one masked permission compare, on typed
 * arrays; misses, permission misses and fills live in separate methods.
 *
 * Performance notes (each measured with `pnpm bench`):
 * - A way-hint table names the entry to check first, so a hit compares one entry, not a whole set.
 * - Fields are `declare`d and assigned in the constructor: an initialized class field is first defined
 *   as undefined, which widens its representation and costs a check on every hot-path access (2x).
 */
import { AccessKind } from './access-kind.js';
import { OtherCounter } from './cache-stats.js';
import {
  PageSize,
  pageSizeName,
  pageSizeOfCode,
  SIZE_CODE_COUNT,
  SizeCode,
  shiftOfCode,
  sizeCode,
  sizeCodeName,
  spanOfCode,
} from './page-size.js';
import { PERM_MASK, Perm, storedPerms } from './perm.js';
import { ReplacementPolicy } from './replacement-policy.js';
import { globalContext, TagTable } from './tag-table.js';
import { CODE_UNIT, TaggedStore, VPN_LIMIT } from './tagged-store.js';
import { TLB_MISS, TLB_PERMISSION_MISS, type TlbHead, type TlbOrganization } from './tlb-organization.js';

/** The geometry and policy of one TLB structure. */
export interface TranslationCacheConfig {
  /** A name for statistics and reports, e.g. "L1 DTLB 4K". */
  readonly name?: string;
  /** Number of entries. */
  readonly entries: number;
  /** Associativity: must divide `entries`; 1 is direct-mapped, `entries` is fully associative. */
  readonly ways: number;
  /** The page sizes it holds; several make a structure shared across sizes (probed smallest first). */
  readonly pageSizes: readonly PageSize[];
  /** Replacement policy (default LRU). */
  readonly policy?: ReplacementPolicy;
  /** Seed of the `random` policy's generator (default 1). */
  readonly seed?: number;
  /**
   * Whether a page larger than any size it holds is stored as the smaller piece that holds the
   * access (1 GiB as 2 MiB, 4 MiB as 2 MiB, else 4 KiB), as AMD's "smashed" entries and Intel's
   * fractured ones are (default true). When false such fills are dropped.
   */
  readonly splinter?: boolean;
  /** Notes on where the geometry comes from (presets cite their sources here). */
  readonly source?: string;
}

/** The sizes each size code may be splintered into, in preference order (codes). */
const SPLINTER_TARGETS: readonly (readonly number[])[] = [
  [],
  [SizeCode.Size4K],
  [SizeCode.Size2M, SizeCode.Size4K],
  [SizeCode.Size2M, SizeCode.Size4K],
];

/** A set-associative, tag-aware TLB structure; see the file comment. */
export class TranslationCache extends TaggedStore implements TlbOrganization {
  /** Where the geometry comes from, when known. */
  declare readonly source: string;
  /** Whether fills of larger pages are splintered. */
  declare readonly splinter: boolean;
  /** Index of the entry the last lookup matched (-1 after a miss). */
  hitEntry = -1;

  declare private readonly holdsCode: Uint8Array;
  /**
   * Per entry, guest-physical minus host-physical base (NaN when the fill gave none): simulator
   * bookkeeping, so a hit can report the guest-physical address the walk found without a reverse map.
   * Hardware keeps no such field (Intel SDM vol. 3C §29.4.1); it never takes part in a match.
   */
  declare private readonly guestDeltas: Float64Array;
  /**
   * Way hints of the fast path: the index of the entry that last held a 4 KiB page, by page number &
   * hintMask, validated on use. Structures whose set count is not a power of two get a one-slot table
   * naming the never-valid sentinel entry, so their lookups always take the full path.
   */
  declare private readonly hint: Int32Array;
  declare private readonly hintMask: number;

  constructor(config: TranslationCacheConfig, tags: TagTable = new TagTable()) {
    const name = config.name ?? `${config.entries}-entry ${config.ways}-way TLB`;
    const codes = [...new Set(config.pageSizes.map(sizeCode))].sort((a, b) => spanOfCode[a] - spanOfCode[b]);
    if (codes.length === 0 || codes.includes(-1)) {
      throw new RangeError(
        `${name}: pageSizes must list page sizes in bytes, got ${String(config.pageSizes)}`,
      );
    }
    super(
      {
        name,
        entries: config.entries,
        ways: config.ways,
        policy: config.policy ?? ReplacementPolicy.Lru,
        seed: config.seed ?? 1,
        granules: codes.map((c) => ({ code: c, span: spanOfCode[c] })),
        spanOfCode,
        sizeNames: sizeCodeName,
        sizeSlot: sizeCode,
      },
      tags,
    );
    this.source = config.source ?? '';
    this.splinter = config.splinter ?? true;
    this.holdsCode = new Uint8Array(SIZE_CODE_COUNT);
    this.guestDeltas = new Float64Array(this.entries + 1).fill(Number.NaN);
    for (const c of codes) this.holdsCode[c] = 1;
    // The fast path takes the set from the page number with a mask: power-of-two set counts only.
    const hinted = this.holdsCode[SizeCode.Size4K] === 1 && this.setMask >= 0;
    let h = 64;
    while (h < 4 * this.entries) h *= 2;
    this.hint = hinted ? new Int32Array(h) : new Int32Array(1).fill(this.entries);
    this.hintMask = hinted ? h - 1 : 0;
  }

  /** The page sizes this structure holds, smallest first. */
  get pageSizes(): PageSize[] {
    return Array.from(this.granuleCodes, (c) => pageSizeOfCode[c]);
  }

  /** The size a page of `pageSize` is stored as here (itself, or a splinter), or null if it is not stored. */
  storedSizeFor(pageSize: PageSize): PageSize | null {
    const c = this.storedCodeFor(sizeCode(pageSize));
    return c < 0 ? null : pageSizeOfCode[c];
  }

  /** The size code a page of size code `code` is stored as, or -1. */
  storedCodeFor(code: number): number {
    if (this.holdsCode[code] === 1) return code;
    if (!this.splinter) return -1;
    for (const t of SPLINTER_TARGETS[code]) if (this.holdsCode[t] === 1) return t;
    return -1;
  }

  /**
   * See `TlbOrganization.lookup`. The fast path checks the one entry the way-hint table names for
   * this page (a direct-mapped map from the page's low bits to an entry index, kept up to date by
   * fills and hits): a key compare, a context compare and a masked permission compare. A wrong or
   * missing hint sends the lookup to `lookupSet`, which searches the set as the hardware would: the
   * hint decides how fast a lookup is, never whether it hits (where two entries match, as a PCID's
   * own entry and a global one for the same page may, either is a valid answer).
   */
  lookup(ctx: number, vpn: number, access: AccessKind, need: number): number {
    const e = this.hint[vpn & this.hintMask];
    // A 4 KiB entry's key is its page number (size code 0), so one compare checks page and size.
    if (this.keys[e] === vpn) {
      const c = this.ctxs[e];
      // ctx & -8192 is globalContext(ctx), inlined: the space's PCID-wildcard handle.
      if ((c === ctx || c === (ctx & -8192)) && (this.perms[e] & need) === need) {
        this.touch(vpn & this.setMask, e);
        this.entryHits[e * 4 + access]++;
        this.hitEntry = e;
        return this.bases[e];
      }
    }
    return this.lookupSet(ctx, vpn, access, need);
  }

  /**
   * The hit path an MMU takes first (`TlbOrganization.headOf`): the entry the way hint names, when it
   * holds 4 KiB page `vpn` under `ctx` (or the context's global handle) with the `need` bits. Counts
   * and ages the hit as `lookup` does and returns the entry's index, whose `bases`, `perms` and
   * `guestDeltaOf` give everything the hit reports; -1, with nothing counted or changed, when only the
   * full `lookup` can tell (a miss, a permission miss, another size, a stale hint).
   */
  probe(ctx: number, vpn: number, access: AccessKind, need: number): number {
    const e = this.hint[vpn & this.hintMask];
    if (this.keys[e] !== vpn) return -1;
    const c = this.ctxs[e];
    if ((c !== ctx && c !== (ctx & -8192)) || (this.perms[e] & need) !== need) return -1;
    this.touch(vpn & this.setMask, e);
    this.entryHits[e * 4 + access]++;
    this.hitEntry = e;
    return e;
  }

  /** Guest-physical minus host-physical base of entry `e` (NaN when its fill gave no guest base). */
  guestDeltaOf(e: number): number {
    return this.guestDeltas[e];
  }

  /** See `TlbOrganization.headOf`: a single structure is its own first level. */
  headOf(_access: AccessKind): TlbHead | null {
    return this;
  }

  /** The full lookup: every size the structure holds, every way of the set (smallest size first). */
  private lookupSet(ctx: number, vpn: number, access: AccessKind, need: number): number {
    const keys = this.keys;
    const ctxs = this.ctxs;
    const g = globalContext(ctx);
    for (let i = 0; i < this.granuleCount; i++) {
      const span = this.granuleSpans[i];
      const pn = span === 1 ? vpn : Math.floor(vpn / span);
      const key = pn + this.granuleCodes[i] * CODE_UNIT;
      const set = this.setOf(pn);
      const end = (set + 1) * this.ways;
      for (let e = set * this.ways; e < end; e++) {
        if (keys[e] === key) {
          const c = ctxs[e];
          if (c === ctx || c === g) {
            if ((this.perms[e] & need) !== need) return this.permissionMiss(e, access);
            this.touch(set, e);
            this.entryHits[e * 4 + access]++;
            this.hitEntry = e;
            if (span === 1 && this.hintMask > 0) this.hint[vpn & this.hintMask] = e;
            return this.bases[e] + (vpn - pn * span) * 4096;
          }
        }
      }
    }
    return this.miss(access);
  }

  private permissionMiss(e: number, access: AccessKind): number {
    this.missCounts[access]++;
    this.stats.permissionMissCounts[access]++;
    this.hitEntry = e;
    return TLB_PERMISSION_MISS;
  }

  private miss(access: AccessKind): number {
    this.missCounts[access]++;
    this.hitEntry = -1;
    return TLB_MISS;
  }

  /** A single structure is one level: 0 after a hit, -1 after a miss. */
  get hitLevel(): number {
    return this.hitEntry < 0 ? -1 : 0;
  }

  /** `Perm` bits of the entry the last lookup matched. */
  get hitPerms(): number {
    return this.hitEntry < 0 ? 0 : this.perms[this.hitEntry] & PERM_MASK;
  }

  /** Stored page size of the entry the last lookup matched. */
  get hitPageSize(): PageSize {
    return this.hitEntry < 0 ? PageSize.Size4K : pageSizeOfCode[this.codeOf(this.keys[this.hitEntry])];
  }

  /** See `TlbOrganization.hitGuestPhysical`. */
  hitGuestPhysical(hostPhysical: number): number {
    return hostPhysical + this.guestDeltas[this.hitEntry];
  }

  /** See `TlbOrganization.hitWord` (the level is 0). */
  hitWord(): number {
    const e = this.hitEntry;
    const key = this.keys[e];
    // A 4 KiB entry's key is its page number (size code 0).
    const shift = key < CODE_UNIT ? 12 : shiftOfCode[this.codeOf(key)];
    return (this.perms[e] & PERM_MASK) | (shift << 16);
  }

  /** Attribute word of the entry the last lookup matched. */
  get hitAttrs(): number {
    return this.hitEntry < 0 ? 0 : this.attrs[this.hitEntry];
  }

  /** Physical base of the stored page the last lookup matched. */
  get hitPageBase(): number {
    return this.hitEntry < 0 ? -1 : this.bases[this.hitEntry];
  }

  /** See `TlbOrganization.fill`. */
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
    this.removeStale(ctx, vpn, origKey, storedContext(ctx, perms), storedPerms(perms), attrs | 0, pageBase);
    return this.insert(ctx, vpn, access, code, pageBase, perms, attrs, origKey, guestBase - pageBase) >= 0;
  }

  /**
   * Stores a page of size code `code` without first removing matching entries (a hierarchy has done
   * so already, or is copying an entry in from an outer level); `origKey` names the page it was cut
   * from; `guestDelta` is the guest-physical minus host-physical base (NaN: none). Returns the entry
   * index, or -1 when this structure cannot hold the size.
   */
  insert(
    ctx: number,
    vpn: number,
    access: AccessKind,
    code: number,
    pageBase: number,
    perms: number,
    attrs: number,
    origKey: number,
    guestDelta: number,
  ): number {
    const target = this.storedCodeFor(code);
    if (target < 0) return -1;
    const span = spanOfCode[target];
    const pn = span === 1 ? vpn : Math.floor(vpn / span);
    // The piece's base: the page's base plus the offset of the piece inside the page (exact: < 2^52).
    const base =
      target === code
        ? pageBase
        : pageBase + (pn * span - Math.floor(vpn / spanOfCode[code]) * spanOfCode[code]) * 4096;
    const e = this.place(
      storedContext(ctx, perms),
      target,
      pn,
      origKey,
      base,
      storedPerms(perms),
      attrs | 0,
      access,
    );
    if (target === SizeCode.Size4K && this.hintMask > 0) this.hint[pn & this.hintMask] = e;
    if (e >= 0) this.guestDeltas[e] = guestDelta;
    return e;
  }

  /** Copies entry `e` of `from` into this structure for 4 KiB page `vpn` (promotion after an outer hit). */
  copyFrom(from: TranslationCache, e: number, vpn: number, access: AccessKind): number {
    const key = from.keys[e];
    const code = Math.floor(key / CODE_UNIT);
    const i = this.insert(
      from.ctxs[e],
      vpn,
      access,
      code,
      from.bases[e],
      from.perms[e] & PERM_MASK,
      from.attrs[e],
      from.origKeys[e],
      from.guestDeltas[e],
    );
    if (i >= 0) this.stats.other[OtherCounter.Promotions]++;
    return i;
  }
}

/** The handle an entry filled under `ctx` with `perms` is stored under: the space's wildcard for globals. */
export function storedContext(ctx: number, perms: number): number {
  return (perms & Perm.Global) !== 0 ? globalContext(ctx) : ctx;
}

/** Validates a fill's arguments (fills are the slow path, so they can afford it); returns the size code. */
export function checkFill(vpn: number, access: number, pageSize: number, pageBase: number): number {
  if (!Number.isInteger(vpn) || vpn < 0 || vpn >= VPN_LIMIT) {
    throw new RangeError(`vpn must be an integer below 2^45, got ${vpn}`);
  }
  if (access !== AccessKind.Read && access !== AccessKind.Write && access !== AccessKind.Execute) {
    throw new RangeError(`unknown access kind ${access}`);
  }
  const code = sizeCode(pageSize);
  if (code < 0) throw new RangeError(`not a page size in bytes: ${pageSize}`);
  if (!Number.isInteger(pageBase) || pageBase < 0 || pageBase >= 2 ** 52 || pageBase % pageSize !== 0) {
    throw new RangeError(
      `pageBase must be a ${pageSizeName(pageSize as PageSize)}-aligned address below 2^52, got ${pageBase}`,
    );
  }
  return code;
}
