/**
 * The storage every translation cache shares: a set-associative array of tagged entries in typed
 * arrays (struct of arrays), its replacement state, and the invalidation operations. The TLB
 * (`TranslationCache`) and the walk-cache levels add their own lookups on top.
 *
 * Entry layout, one slot per array:
 * - `keys`: page number + size code * CODE_UNIT (-1 when the slot is invalid). Page numbers are
 *   plain numbers below 2^45, so the sum stays exact and one float compare checks page and size.
 * - `origKeys`: the key of the page the entry was cut from; equal to `keys` unless the fill was
 *   splintered. Address invalidations test it, so they remove every piece of a large page.
 * - `ctxs`: the context handle the entry is stored under (the PCID-wildcard handle for globals).
 * - `bases`: physical address of the stored page (or of the next table, in a walk cache).
 * - `perms`: permission bits and their complement (see `storedPerms`); `attrs`: the MMU's own word.
 */
import { CacheStats, OtherCounter, SIZE_SLOTS } from './cache-stats.js';
import { InvalidationKind } from './invalidation-kind.js';
import {
  PolicyCode,
  plruStride,
  plruTouch,
  plruVictim,
  policyCode,
  type ReplacementPolicy,
  xorshift32,
} from './replacement-policy.js';
import { ASID_NONE, globalContext, NO_NESTED_ROOT, type TagTable } from './tag-table.js';

/** Keys are page number + size code * CODE_UNIT: page numbers stay below 2^45 (57-bit linear addresses). */
export const CODE_UNIT = 2 ** 46;

/** One past the largest page number (in 4 KiB pages) a lookup accepts: 57-bit linear addresses. */
export const VPN_LIMIT = 2 ** 45;

/** A page size (or walk-cache region size) a structure holds: its code and its span in 4 KiB pages. */
export interface Granule {
  readonly code: number;
  readonly span: number;
}

/** Everything a store needs to lay itself out. */
export interface StoreLayout {
  readonly name: string;
  readonly entries: number;
  readonly ways: number;
  readonly policy: ReplacementPolicy;
  readonly seed: number;
  /** The sizes the store holds, in probe order. */
  readonly granules: readonly Granule[];
  /** Span of every size code an entry's original page may have, indexed by code (0 for unused codes). */
  readonly spanOfCode: readonly number[];
  /** Names of the size codes, for statistics. */
  readonly sizeNames: readonly string[];
  /** The size code of a size as callers name it, for statistics queries (-1 when unknown). */
  readonly sizeSlot: (size: number) => number;
}

/** Context predicates of the removal scans. */
const Match = {
  All: 0,
  Asid: 1,
  AsidNonGlobal: 2,
  Guests: 3,
  AsidPcid: 4,
  Root: 5,
  AnyRoot: 6,
  /** What a lookup under context x would hit: x itself or its space's wildcard handle. */
  Lookup: 7,
} as const;

const PCID_FIELD = (1 << 13) - 1;

/** Checks a geometry and returns the set count. */
function checkGeometry(name: string, entries: number, ways: number): number {
  if (!Number.isInteger(entries) || entries < 1) {
    throw new RangeError(`${name}: entries must be a positive integer, got ${entries}`);
  }
  if (!Number.isInteger(ways) || ways < 1 || ways > entries || entries % ways !== 0) {
    throw new RangeError(`${name}: ways must divide entries (${entries}), got ${ways}`);
  }
  return entries / ways;
}

/** Set-associative, tag-aware storage with replacement and invalidation; see the file comment. */
export class TaggedStore {
  /** The structure's name, as statistics and presets show it. */
  declare readonly name: string;
  /** Number of entries. */
  declare readonly entries: number;
  /** Associativity: 1 is direct-mapped, `entries` is fully associative. */
  declare readonly ways: number;
  /** Number of sets (`entries / ways`). */
  declare readonly sets: number;
  /** The replacement policy. */
  declare readonly policy: ReplacementPolicy;
  /** The context table this structure's handles come from. */
  declare readonly tags: TagTable;
  /** Counters; read them at any time, reset them with `stats.reset()`. */
  declare readonly stats: CacheStats;

  /** Entry keys (-1: invalid); slot `entries` is a sentinel that is never valid. */
  declare readonly keys: Float64Array;
  /** Keys of the pages entries were cut from. */
  declare readonly origKeys: Float64Array;
  /** Context handles entries are stored under. */
  declare readonly ctxs: Int32Array;
  /** Physical base addresses. */
  declare readonly bases: Float64Array;
  /** Stored permission words. */
  declare readonly perms: Int32Array;
  /** Attribute words. */
  declare readonly attrs: Int32Array;

  /**
   * The entry the last fill evicted for capacity: [context handle, key], both -1 when it evicted none.
   * (A typed array, not fields: keys are doubles, and a field that changes representation would give
   * instances different hidden classes and make the lookup's property accesses polymorphic.)
   */
  declare readonly evicted: Float64Array;

  declare protected readonly setMask: number;
  declare protected readonly granuleCount: number;
  declare protected readonly granuleCodes: Int32Array;
  declare protected readonly granuleSpans: Float64Array;
  declare protected readonly spanOfCode: Float64Array;
  declare protected readonly policyId: number;
  declare protected readonly stamps: Float64Array;
  declare protected readonly plruBits: Uint8Array;
  declare protected readonly plruSetBytes: number;
  /**
   * Tree-PLRU state, one word per set, when the tree fits 32 node bits (up to 16 ways). Structures of
   * other policies keep the words too and update them with no-op masks (see `touch`).
   */
  declare private readonly plruWords: Int32Array;
  declare private readonly plruPacked: boolean;
  /** Per entry: the bits of its set's PLRU word a use keeps, and the bits it sets (-1 and 0: no-op). */
  declare private readonly plruKeep: Int32Array;
  declare private readonly plruSet: Int32Array;
  /** Tree-PLRU whose tree does not fit one word: updated by walking the byte tree. */
  declare private readonly plruLoop: boolean;
  /** Fill times, for FIFO (hits do not change them). */
  declare private readonly fillStamps: Float64Array;
  /** Per way: the node bits on its path, and the values a use of it writes there. */
  declare private readonly plruPathMask: Int32Array;
  declare private readonly plruPathBits: Int32Array;
  declare private readonly plruScratch: Uint8Array;
  /** Per-set clocks of the use and fill stamps: a shared clock would chain every hit through one memory cell. */
  declare protected readonly setClock: Float64Array;
  /**
   * Hits of each live entry by access kind (index entry * 4 + access). Counting per entry keeps hits
   * of different entries independent (one shared counter would serialize every hit through a
   * load-add-store); they are folded into `stats.hitCounts` when the entry leaves or stats are read.
   */
  declare protected readonly entryHits: Float64Array;
  /** Live entries cut from a larger page: while any exist, address invalidations scan every set. */
  protected splinters = 0;
  /** The miss counters the lookup paths increment, held directly to save a load. */
  declare protected readonly missCounts: Float64Array;
  private readonly coverKeys = new Float64Array(SIZE_SLOTS);
  /** The translation a fill is about to store, for `removeStale`. */
  private readonly keep = new Float64Array(5);
  /** The random policy's generator state (a typed array for the same reason as `evicted`). */
  declare private readonly rng: Uint32Array;

  constructor(layout: StoreLayout, tags: TagTable) {
    this.name = layout.name;
    this.sets = checkGeometry(layout.name, layout.entries, layout.ways);
    this.entries = layout.entries;
    this.ways = layout.ways;
    this.policy = layout.policy;
    this.policyId = policyCode(layout.policy);
    this.tags = tags;
    this.stats = new CacheStats(layout.name, layout.sizeNames, layout.sizeSlot);
    this.stats.sync = () => this.foldHits();
    this.missCounts = this.stats.missCounts;
    const n = layout.entries;
    // One slot past the last entry stays invalid forever: a sentinel that hint tables can name.
    this.keys = new Float64Array(n + 1).fill(-1);
    this.origKeys = new Float64Array(n + 1).fill(-1);
    this.ctxs = new Int32Array(n + 1).fill(-1);
    this.bases = new Float64Array(n + 1);
    this.perms = new Int32Array(n + 1);
    this.attrs = new Int32Array(n + 1);
    // A mask needs a power-of-two set count; other counts (e.g. 48 sets) index with `%`.
    this.setMask = (this.sets & (this.sets - 1)) === 0 ? this.sets - 1 : -1;
    this.granuleCount = layout.granules.length;
    this.granuleCodes = Int32Array.from(layout.granules, (g) => g.code);
    this.granuleSpans = Float64Array.from(layout.granules, (g) => g.span);
    this.spanOfCode = new Float64Array(SIZE_SLOTS);
    layout.spanOfCode.forEach((s, c) => {
      this.spanOfCode[c] = s;
    });
    this.stamps = new Float64Array(n);
    this.setClock = new Float64Array(this.sets);
    this.entryHits = new Float64Array(n * 4);
    this.plruSetBytes = this.policyId === PolicyCode.TreePlru ? plruStride(this.ways) : 0;
    const packed = this.plruSetBytes > 0 && this.plruSetBytes <= 32;
    this.plruBits = new Uint8Array(packed ? 0 : this.plruSetBytes * this.sets);
    this.plruPacked = packed;
    this.plruLoop = this.policyId === PolicyCode.TreePlru && !packed;
    this.plruWords = new Int32Array(this.sets);
    this.plruKeep = new Int32Array(n).fill(-1);
    this.plruSet = new Int32Array(n);
    this.fillStamps = new Float64Array(n);
    this.plruPathMask = new Int32Array(this.ways);
    this.plruPathBits = new Int32Array(this.ways);
    this.plruScratch = new Uint8Array(this.plruSetBytes);
    if (packed) {
      // Derive each way's path from the byte-tree touch itself, so both forms follow one definition.
      for (let w = 0; w < this.ways; w++) {
        const ones = new Uint8Array(this.plruSetBytes).fill(1);
        const zeros = new Uint8Array(this.plruSetBytes);
        plruTouch(ones, 0, this.ways, w);
        plruTouch(zeros, 0, this.ways, w);
        for (let n = 0; n < this.plruSetBytes; n++) {
          if (ones[n] === zeros[n]) {
            this.plruPathMask[w] |= 1 << n;
            this.plruPathBits[w] |= zeros[n] << n;
          }
        }
      }
      for (let e = 0; e < n; e++) {
        this.plruKeep[e] = ~this.plruPathMask[e % this.ways];
        this.plruSet[e] = this.plruPathBits[e % this.ways];
      }
    }
    if (!Number.isInteger(layout.seed)) throw new RangeError(`${layout.name}: seed must be an integer`);
    this.rng = Uint32Array.of(layout.seed >>> 0 || 0x9e3779b9);
    this.evicted = Float64Array.of(-1, -1);
  }

  /** Number of valid entries. */
  get occupancy(): number {
    let n = 0;
    for (let e = 0; e < this.entries; e++) if (this.keys[e] >= 0) n++;
    return n;
  }

  /** The set a page number maps to. */
  protected setOf(pn: number): number {
    // `&` keeps the low 32 bits exactly (ToInt32), which is all a power-of-two mask needs.
    return this.setMask >= 0 ? pn & this.setMask : pn % this.sets;
  }

  /** Index of the first entry of the set a page number maps to. */
  protected setBase(pn: number): number {
    return this.setOf(pn) * this.ways;
  }

  /**
   * Records a hit of entry `e` of set `set` in the replacement state. Branch-free for every policy
   * but tree-PLRU beyond 16 ways: the use stamp (read by LRU only) and the word update (a one-mask
   * tree-PLRU update, a no-op for other policies) cost less than dispatching on the policy in the
   * inlined hit path (measured: PLRU hits 6.6x -> 4.8x the baseline loop).
   */
  protected touch(set: number, e: number): void {
    this.stamps[e] = ++this.setClock[set];
    this.plruWords[set] = (this.plruWords[set] & this.plruKeep[e]) | this.plruSet[e];
    if (this.plruLoop) this.plruUse(set, e - set * this.ways);
  }

  /** Records a use of `way` in a tree too large for one word, by walking its byte tree. */
  private plruUse(set: number, way: number): void {
    plruTouch(this.plruBits, set * this.plruSetBytes, this.ways, way);
  }

  /** The victim way of `set` under tree-PLRU. */
  private plruChoose(set: number): number {
    if (!this.plruPacked) return plruVictim(this.plruBits, set * this.plruSetBytes, this.ways);
    const word = this.plruWords[set];
    for (let n = 0; n < this.plruSetBytes; n++) this.plruScratch[n] = (word >>> n) & 1;
    return plruVictim(this.plruScratch, 0, this.ways);
  }

  /** Records a fill of entry `e` of set `set` in the replacement state. */
  private touchFill(set: number, e: number): void {
    this.touch(set, e);
    this.fillStamps[e] = this.stamps[e];
  }

  /** The entry a fill into `set` goes to: the lowest invalid way, else the policy's victim. */
  private chooseEntry(set: number): number {
    const ways = this.ways;
    const base = set * ways;
    for (let e = base; e < base + ways; e++) if (this.keys[e] < 0) return e;
    switch (this.policyId) {
      case PolicyCode.TreePlru:
        return base + this.plruChoose(set);
      case PolicyCode.Random:
        this.rng[0] = xorshift32(this.rng[0]);
        return base + (this.rng[0] % ways);
      default: {
        // LRU: the oldest use; FIFO: the oldest fill.
        const t = this.policyId === PolicyCode.Fifo ? this.fillStamps : this.stamps;
        let victim = base;
        for (let e = base + 1; e < base + ways; e++) if (t[e] < t[victim]) victim = e;
        return victim;
      }
    }
  }

  /**
   * Stores an entry and returns its index. `perms` is already in stored form. A slot holding the same
   * key under the same context is reused; otherwise a capacity eviction is recorded in `evicted`.
   */
  protected place(
    storedCtx: number,
    code: number,
    pn: number,
    origKey: number,
    base: number,
    perms: number,
    attrs: number,
    access: number,
  ): number {
    const key = pn + code * CODE_UNIT;
    const set = this.setOf(pn);
    const setStart = set * this.ways;
    this.evicted[0] = -1;
    this.evicted[1] = -1;
    let e = -1;
    for (let i = setStart; i < setStart + this.ways; i++) {
      if (this.keys[i] === key && this.ctxs[i] === storedCtx) {
        e = i;
        this.kill(i);
        break;
      }
    }
    if (e < 0) {
      e = this.chooseEntry(set);
      if (this.keys[e] >= 0) {
        this.evicted[0] = this.ctxs[e];
        this.evicted[1] = this.keys[e];
        this.stats.evictionCounts[this.codeOf(this.keys[e])]++;
        this.kill(e);
      }
    }
    this.keys[e] = key;
    this.origKeys[e] = origKey;
    this.ctxs[e] = storedCtx;
    this.bases[e] = base;
    this.perms[e] = perms;
    this.attrs[e] = attrs;
    if (origKey !== key) {
      this.splinters++;
      this.stats.other[OtherCounter.Splinters]++;
    }
    this.stats.fillCounts[access * SIZE_SLOTS + code]++;
    this.touchFill(set, e);
    return e;
  }

  /** Size code of a key. */
  protected codeOf(key: number): number {
    return Math.floor(key / CODE_UNIT);
  }

  /** Moves entry `e`'s hit counts into the aggregate counters. */
  private foldEntry(e: number): void {
    const h = this.entryHits;
    const i = e * 4;
    if (h[i] + h[i + 1] + h[i + 2] === 0) return;
    const code = this.codeOf(this.keys[e]);
    const out = this.stats.hitCounts;
    for (let a = 0; a < 3; a++) {
      out[a * SIZE_SLOTS + code] += h[i + a];
      h[i + a] = 0;
    }
  }

  /** Moves every live entry's hit counts into the aggregate counters (before stats are read). */
  foldHits(): void {
    for (let e = 0; e < this.entries; e++) if (this.keys[e] >= 0) this.foldEntry(e);
  }

  /** Empties slot `e`. */
  protected kill(e: number): void {
    this.foldEntry(e);
    if (this.origKeys[e] !== this.keys[e]) this.splinters--;
    this.keys[e] = -1;
    this.origKeys[e] = -1;
    this.ctxs[e] = -1;
  }

  private matches(c: number, mode: number, x: number, y: number, z: boolean): boolean {
    if (mode === Match.All) return true;
    if (mode === Match.Lookup) return c === x || c === globalContext(x);
    const space = c >>> 13;
    const asid = this.tags.asidOfSpace(space);
    switch (mode) {
      case Match.Asid:
        return asid === x;
      case Match.AsidNonGlobal:
        return asid === x && (c & PCID_FIELD) !== 0;
      case Match.Guests:
        return asid !== 0 && asid !== ASID_NONE;
      case Match.AsidPcid: {
        const field = c & PCID_FIELD;
        return asid === x && (field === y + 1 || (z && field === 0));
      }
      case Match.Root:
        return this.tags.rootOfSpace(space) === x;
      case Match.AnyRoot:
        return this.tags.rootOfSpace(space) !== NO_NESTED_ROOT;
      default:
        return false;
    }
  }

  /** Removes every entry whose context matches; returns how many. */
  protected removeWhere(mode: number, x: number, y: number, z: boolean): number {
    let n = 0;
    for (let e = 0; e < this.entries; e++) {
      if (this.keys[e] >= 0 && this.matches(this.ctxs[e], mode, x, y, z)) {
        this.kill(e);
        n++;
      }
    }
    return n;
  }

  /**
   * Removes every entry whose context matches and whose original page holds 4 KiB page `vpn`, in
   * whatever size the structure stored it; returns how many.
   */
  protected removeCovering(vpn: number, mode: number, x: number, y: number, z: boolean): number {
    const cover = this.coverKeys;
    for (let c = 0; c < SIZE_SLOTS; c++) {
      const span = this.spanOfCode[c];
      cover[c] = span > 0 ? Math.floor(vpn / span) + c * CODE_UNIT : -2;
    }
    let n = 0;
    if (this.splinters > 0 || this.sets === 1) {
      // Pieces of a large page sit in sets other than the address's own: scan them all.
      for (let e = 0; e < this.entries; e++) n += this.removeIfCovering(e, mode, x, y, z);
      return n;
    }
    for (let g = 0; g < this.granuleCount; g++) {
      const start = this.setBase(Math.floor(vpn / this.granuleSpans[g]));
      for (let e = start; e < start + this.ways; e++) n += this.removeIfCovering(e, mode, x, y, z);
    }
    return n;
  }

  private removeIfCovering(e: number, mode: number, x: number, y: number, z: boolean): number {
    const ok = this.origKeys[e];
    if (ok < 0 || ok !== this.coverKeys[this.codeOf(ok)] || !this.matches(this.ctxs[e], mode, x, y, z)) {
      return 0;
    }
    if (z && mode === Match.Lookup && this.sameTranslation(e)) return 0;
    this.kill(e);
    return 1;
  }

  /** Whether entry `e` is a piece of exactly the translation described by `keep`. */
  private sameTranslation(e: number): boolean {
    const k = this.keep;
    if (
      this.origKeys[e] !== k[0] ||
      this.ctxs[e] !== k[1] ||
      this.perms[e] !== k[2] ||
      this.attrs[e] !== k[3]
    ) {
      return false;
    }
    const code = this.codeOf(this.keys[e]);
    const ocode = this.codeOf(this.origKeys[e]);
    const first = (this.keys[e] - code * CODE_UNIT) * this.spanOfCode[code];
    const origFirst = (this.origKeys[e] - ocode * CODE_UNIT) * this.spanOfCode[ocode];
    return this.bases[e] - (first - origFirst) * 4096 === k[4];
  }

  /**
   * Before a fill: removes the entries a lookup under `ctx` for 4 KiB page `vpn` would hit, and every
   * other piece of their pages, so that no stale translation (a clean entry before the walk set D, an
   * old mapping) can answer again. Pieces of exactly the translation being filled are kept: they are
   * not stale, and a large page cached as several pieces keeps them. The new translation is given by
   * its original page's key, the handle it will be stored under, its stored permission word, its
   * attribute word and its page base. Returns how many entries were removed.
   */
  removeStale(
    ctx: number,
    vpn: number,
    origKey: number,
    storedCtx: number,
    perms: number,
    attrs: number,
    pageBase: number,
  ): number {
    const k = this.keep;
    k[0] = origKey;
    k[1] = storedCtx;
    k[2] = perms;
    k[3] = attrs;
    k[4] = pageBase;
    const n = this.removeCovering(vpn, Match.Lookup, ctx, 0, true);
    this.stats.other[OtherCounter.StaleRemoved] += n;
    return n;
  }

  /**
   * Removes entries stored under `storedCtx` whose page overlaps the `span` 4 KiB pages from `start`
   * (an inclusive hierarchy's back-invalidation); returns how many.
   */
  removeOverlapping(storedCtx: number, start: number, span: number): number {
    let n = 0;
    for (let e = 0; e < this.entries; e++) {
      const key = this.keys[e];
      if (key < 0 || this.ctxs[e] !== storedCtx) continue;
      const code = this.codeOf(key);
      const s = this.spanOfCode[code];
      const first = (key - code * CODE_UNIT) * s;
      if (first < start + span && start < first + s) {
        this.kill(e);
        n++;
      }
    }
    this.stats.other[OtherCounter.BackInvalidations] += n;
    return n;
  }

  /** The 4 KiB page range [start, start + span) of a key, written to `out`. */
  rangeOfKey(key: number, out: Float64Array): void {
    const code = this.codeOf(key);
    const s = this.spanOfCode[code];
    out[0] = (key - code * CODE_UNIT) * s;
    out[1] = s;
  }

  private count(kind: InvalidationKind, n: number): number {
    this.stats.invalidationCounts[kind]++;
    this.stats.invalidatedEntryCounts[kind] += n;
    return n;
  }

  /**
   * Removes every entry. Serves TLB_CONTROL 01h (AMD APM vol. 2 §15.16.1, Table 15-9) and any flush
   * of all contexts. Returns the number of entries removed.
   */
  flushAll(): number {
    return this.count(InvalidationKind.All, this.removeWhere(Match.All, 0, 0, false));
  }

  /**
   * Removes every entry of address-space id `asid`, globals included, whatever the PCID or nested
   * root. Serves TLB_CONTROL 03h (APM vol. 2 §15.16.1), INVVPID single-context (type 1; SDM vol. 3C
   * "INVVPID"), INVPCID all-context including globals (type 2, for the current VPID; SDM vol. 2B
   * "INVPCID"), and the VPID-0 flush at VM entry and exit when VPIDs are off (SDM vol. 3C §28.3.3.3).
   */
  flushAddressSpace(asid: number): number {
    return this.count(InvalidationKind.AddressSpace, this.removeWhere(Match.Asid, asid, 0, false));
  }

  /**
   * Removes the non-global entries of address-space id `asid`. Serves TLB_CONTROL 07h (APM vol. 2
   * §15.16.1), INVVPID single-context retaining globals (type 3), INVPCID all-context except globals
   * (type 3), and MOV CR3 on an AMD guest without PCIDs (APM vol. 2 §15.16: only the current ASID).
   */
  flushAddressSpaceNonGlobal(asid: number): number {
    return this.count(
      InvalidationKind.AddressSpaceNonGlobal,
      this.removeWhere(Match.AsidNonGlobal, asid, 0, false),
    );
  }

  /**
   * Removes every entry of every address-space id except 0 (the host). Serves INVVPID all-context
   * (type 2: "all VPIDs except VPID 0"; SDM vol. 3C "INVVPID"). Guest-physical entries (`ASID_NONE`)
   * are not VPID-tagged and stay.
   */
  flushGuests(): number {
    return this.count(InvalidationKind.Guests, this.removeWhere(Match.Guests, 0, 0, false));
  }

  /**
   * Removes the entries of address-space id `asid` whose page holds 4 KiB page `vpn`, whatever their
   * size, PCID or globality. Serves INVLPGA (rAX = address, ECX = ASID; APM vol. 2 §15.16.2) and
   * INVVPID individual-address (type 0; SDM vol. 3C "INVVPID").
   */
  flushAddress(asid: number, vpn: number): number {
    return this.count(InvalidationKind.Address, this.removeCovering(vpn, Match.Asid, asid, 0, false));
  }

  /**
   * Removes the entries a lookup under context `ctx` would use for 4 KiB page `vpn` (those of `ctx`
   * itself and its space's global ones): what a page fault on that address invalidates, "TLB entries
   * ... for a page number corresponding to that linear address and ... associated with the current
   * PCID" and "all entries in the paging-structure caches that would be used for that linear address"
   * (SDM vol. 3A §4.10.4.1). Counted as an invalidation of one address in one PCID.
   */
  flushLookup(ctx: number, vpn: number): number {
    return this.count(InvalidationKind.AddressInPcid, this.removeCovering(vpn, Match.Lookup, ctx, 0, false));
  }

  /**
   * Removes the entries of `pcid` in address-space id `asid` whose page holds 4 KiB page `vpn`, and
   * its global entries for that page when `includeGlobals`. Serves INVLPG (`includeGlobals` true: "also
   * invalidates global entries", SDM vol. 3A §4.10.4.1; APM vol. 2 §5.5.3) and INVPCID
   * individual-address (type 0, `includeGlobals` false; SDM vol. 2B "INVPCID").
   */
  flushAddressInPcid(asid: number, pcid: number, vpn: number, includeGlobals: boolean): number {
    return this.count(
      InvalidationKind.AddressInPcid,
      this.removeCovering(vpn, Match.AsidPcid, asid, pcid, includeGlobals),
    );
  }

  /**
   * Removes the entries of `pcid` in address-space id `asid`, and the space's global entries when
   * `includeGlobals`. Serves MOV to CR3 (PCID 0 with CR4.PCIDE=0, else the new CR3's PCID; globals
   * kept; SDM vol. 3A §4.10.4.1; with CR4.PCIDE=1 and bit 63 of the source set, MOV CR3 invalidates
   * nothing, so the MMU makes no call) and INVPCID single-context (type 1, globals kept).
   */
  flushPcid(asid: number, pcid: number, includeGlobals: boolean): number {
    return this.count(InvalidationKind.Pcid, this.removeWhere(Match.AsidPcid, asid, pcid, includeGlobals));
  }

  /**
   * Removes every entry tagged with nested root `root`: Intel's combined and guest-physical mappings
   * of that EP4TA, whatever their VPID or PCID. Serves INVEPT single-context (type 1; SDM vol. 3C
   * §28.4.3.1 / §29.4.3.1 and "INVEPT").
   */
  flushNestedRoot(root: number): number {
    return this.count(InvalidationKind.NestedRoot, this.removeWhere(Match.Root, root, 0, false));
  }

  /**
   * Removes every entry tagged with any nested root (combined and guest-physical mappings), keeping
   * linear mappings (`NO_NESTED_ROOT`). Serves INVEPT all-context (type 2; SDM vol. 3C "INVEPT").
   */
  flushAllNestedRoots(): number {
    return this.count(InvalidationKind.AllNestedRoots, this.removeWhere(Match.AnyRoot, 0, 0, false));
  }

  /** Removes every entry matching a context predicate, counted as `kind` (used by walk caches). */
  protected flushContextOnly(
    kind: InvalidationKind,
    asid: number,
    pcid: number,
    includeGlobals: boolean,
  ): number {
    const n =
      pcid < 0
        ? this.removeWhere(Match.Asid, asid, 0, false)
        : this.removeWhere(Match.AsidPcid, asid, pcid, includeGlobals);
    return this.count(kind, n);
  }
}
