import {
  AccessKind,
  type CpuState,
  Cr0,
  Cr4,
  linearPageNumber,
  type PageWalker,
  PagingMode,
  Perm,
  PfError,
  Privilege,
  RefFlag,
  Stage,
  type WalkResult,
  type WalkStatus,
  type WalkTrace,
} from '@hvsim/cpu-core';
import {
  type PagingStructureCache,
  PERM_MASK,
  packAttributes,
  pageSizeFromShift,
  pcidOfContext,
  permClear,
  protectionKeyOf,
  TLB_MISS,
  TLB_PERMISSION_MISS,
  type TlbHead,
  type TlbOrganization,
  tagTableOf,
  WalkEntry,
  walkEntryLevel,
} from '@hvsim/tlb-tagged';
import { TranslateStatus, type Translation } from './translation.js';

/** The translation caches an MMU strategy can use; each is optional (none: every access walks). */
export interface MmuCaches {
  /** Caches whole translations (linear to host-physical): a TLB or a TLB hierarchy. */
  readonly tlb?: TlbOrganization;
  /**
   * Caches upper-level entries of the (guest) walk, so a walk resumes below the root (Intel SDM
   * vol. 3A §4.10.3; AMD's page walk cache). Under nesting a skipped guest level also skips that
   * entry's nested walk: the saving Bhargava et al. (ASPLOS 2008) measure.
   */
  readonly walkCache?: PagingStructureCache;
  /**
   * Under nesting: caches guest-physical to host-physical translations of guest page-table pages, so a
   * guest entry's address skips its nested walk (the nested TLB of Bhargava et al., ASPLOS 2008).
   */
  readonly nestedTlb?: TlbOrganization;
}

/** The walk-cache kind of the entry at `level` in paging mode `mode`, or -1 where none is cached. */
function kindOf(mode: number, level: number, pdptesOnDemand: boolean): number {
  if (mode === PagingMode.Legacy32) return level === 2 ? WalkEntry.Pde32 : -1;
  if (mode === PagingMode.Pae) {
    if (level === 2) return WalkEntry.Pde;
    // PDPTE registers are not memory references; only the on-demand PDPTE read of AMD NPT is cached.
    return level === 3 && pdptesOnDemand ? WalkEntry.Pdpte : -1;
  }
  if (level === 2) return WalkEntry.Pde;
  if (level === 3) return WalkEntry.Pdpte;
  if (level === 4) return WalkEntry.Pml4e;
  return level === 5 ? WalkEntry.Pml5e : -1;
}

/**
 * Whether the linear address whose bits 63:32 are `hi` is non-canonical: in IA-32e mode bits 63:47
 * (63:56 with LA57) must be equal, else the access raises #GP(0) whatever the TLB holds (SDM vol. 1
 * §3.3.7.1, vol. 3A §4.5). TLB entries are keyed by bits 56:12 only, so no TLB may serve such an
 * address: the walk, which checks, must decide.
 */
function nonCanonical(hi: number, state: CpuState): boolean {
  if (!state.lma) return false;
  const top = hi >> (state.mode === PagingMode.Level5 ? 24 : 15);
  return top !== 0 && top !== -1;
}

/**
 * The caching front of an MMU strategy: TLB lookups before a walk, walk-cache lookups to start the
 * walk below the root, and the fills after a successful walk. Shared by every strategy so that the
 * rules live in one place:
 * - a TLB hit never grants more than the walk that filled it: the lookup asks for the Perm bits the
 *   access needs (W and D for a write, X for a fetch, U for a user access) and for U clear where
 *   SMEP or SMAP would deny a supervisor access (SDM vol. 3A §4.10.2.3);
 * - a write to an entry cached with D=0 misses, so the walker sets D (SDM §4.8);
 * - only successful walks fill (entries are cached from translations that did not fault);
 * - protection keys are checked on a hit from the key kept with the entry (SDM §4.6.2).
 */
export class TranslationCaches {
  readonly tlb: TlbOrganization | null;
  readonly walkCache: PagingStructureCache | null;
  readonly nestedTlb: TlbOrganization | null;
  /** The context handle lookups and fills use (see `setContext`). */
  context = 0;
  /** The first structure of the TLB's data and instruction paths, for `probe` (null: no fast path). */
  private readonly dataHead: TlbHead | null;
  private readonly fetchHead: TlbHead | null;
  /** The guest-physical context handle of the nested TLB (see `setContext`). */
  nestedContext = 0;
  /** Walk-cache lookups that let a walk start below the root. */
  walkCacheHits = 0;
  /**
   * Whether a second stage sits below: then even an unpaged guest's translations (guest-physical =
   * linear, then the nested stage) are cached; a one-stage CPU with paging off caches nothing.
   */
  readonly twoStage: boolean;

  /** The stage whose walk this caches, for the references it records as saved. */
  readonly stage: Stage;

  constructor(caches: MmuCaches = {}, twoStage = false, stage: Stage = Stage.Guest) {
    this.twoStage = twoStage;
    this.stage = stage;
    this.tlb = caches.tlb ?? null;
    this.walkCache = caches.walkCache ?? null;
    this.nestedTlb = caches.nestedTlb ?? null;
    this.dataHead = this.tlb?.headOf?.(AccessKind.Read) ?? null;
    this.fetchHead = this.tlb?.headOf?.(AccessKind.Execute) ?? null;
    const tags = [this.tlb?.tags, this.walkCache?.tags, this.nestedTlb?.tags].filter((t) => t !== undefined);
    if (tags.some((t) => t !== tags[0])) {
      throw new RangeError(
        'the TLB, walk cache and nested TLB must share one TagTable so a context handle means the same in all: ' +
          'build them with one (`new PagingStructureCache(config, hierarchy.tags)`), take the ones a ' +
          '`TlbHierarchy` builds (`hierarchy.walkCache`, `hierarchy.nestedTlb`), or use `buildCaches` of @hvsim/tlb-tagged',
      );
    }
    this.setContext(0, 0);
  }

  /** Enters an address space: `asid` (ASID/VPID, 0 for the host) and the PCID (0 without PCIDs). */
  setContext(asid: number, pcid: number, nestedRoot?: number): void {
    const tags = tagTableOf(this);
    if (tags === null) return;
    this.context = nestedRoot === undefined ? tags.context(asid, pcid) : tags.context(asid, pcid, nestedRoot);
    this.nestedContext =
      nestedRoot === undefined ? tags.nestedContext(asid) : tags.nestedContext(asid, nestedRoot);
  }

  /** The Perm requirement of an access under the current CPU state (see the class comment). */
  need(access: AccessKind, privilege: Privilege, state: CpuState): number {
    if (privilege === Privilege.User) {
      if (access === AccessKind.Write) return Perm.User | Perm.Write | Perm.Dirty;
      return access === AccessKind.Execute ? Perm.User | Perm.Execute : Perm.User;
    }
    if (access === AccessKind.Execute) return state.smep ? Perm.Execute | permClear(Perm.User) : Perm.Execute;
    const smapDenies = state.smap && (privilege === Privilege.ImplicitSupervisor || !state.alignmentCheck);
    let need = smapDenies ? permClear(Perm.User) : 0;
    if (access === AccessKind.Write) need |= state.wp ? Perm.Write | Perm.Dirty : Perm.Dirty;
    return need;
  }

  /**
   * The TLB-hit fast path every MMU takes first (shaped like v86's `translate_address_read`): one
   * probe of the first structure of the access's path (`TlbOrganization.headOf`), whose 4 KiB entry
   * holds, from its fill, everything the hit reports (host and guest frame, permissions). The rules of
   * `lookup` hold: no hit for a non-canonical address, the access's `Perm` requirement, and protection
   * keys (a key that could deny sends the access to `lookup`). True when it completed `out` (level 0,
   * no reference); false, with nothing counted or changed, when `lookup` and the walk must decide.
   */
  probe(
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    state: CpuState,
    out: Translation,
  ): boolean {
    const head = access === AccessKind.Execute ? this.fetchHead : this.dataHead;
    if (head === null) return false;
    if (state.mode === PagingMode.None && !this.twoStage) return false;
    // A protection key that could deny goes to `lookup`, which checks it.
    if (nonCanonical(hi, state) || (state.pke && state.pkru !== 0)) return false;
    const vpn = linearPageNumber(lo, hi, state);
    // The common case inline: a supervisor read without SMAP needs nothing (see `need`).
    const need =
      access === AccessKind.Read && privilege === Privilege.Supervisor && !state.smap
        ? 0
        : this.need(access, privilege, state);
    const e = head.probe(this.context, vpn, access, need);
    if (e < 0) return false;
    const host = head.bases[e] + (lo & 0xfff);
    out.tlbHit = true;
    out.tlbLevel = 0;
    out.references = 0;
    out.hostPhysical = host;
    out.guestPhysical = host + head.guestDeltaOf(e);
    out.perms = head.perms[e] & PERM_MASK;
    out.pageShift = 12;
    out.status = TranslateStatus.Ok;
    return true;
  }

  /**
   * Whether the last `lookup` found an entry for its address (a hit, or one whose permissions or
   * protection key sent the access to the walk): only then can a page fault on that address have a
   * TLB entry to invalidate.
   */
  private foundEntry = false;

  /**
   * Looks the access up in the TLB: the host-physical address on a hit, -1 otherwise (a miss, or an
   * entry whose permissions or protection key do not allow the access: the walk decides).
   */

  lookup(lo: number, hi: number, access: AccessKind, privilege: Privilege, state: CpuState): number {
    const tlb = this.tlb;
    this.foundEntry = false;
    if (tlb === null || (state.mode === PagingMode.None && !this.twoStage)) return -1;
    if (nonCanonical(hi, state)) return -1;
    const vpn = linearPageNumber(lo, hi, state);
    const page = tlb.lookup(this.context, vpn, access, this.need(access, privilege, state));
    if (page === TLB_MISS) return -1;
    this.foundEntry = true;
    if (page === TLB_PERMISSION_MISS) return -1;
    if (state.pke && access !== AccessKind.Execute && (tlb.hitPerms & Perm.User) !== 0 && state.pkru !== 0) {
      const rights = state.pkru >>> (2 * protectionKeyOf(tlb.hitAttrs));
      if ((rights & 1) !== 0) return -1;
      if ((rights & 2) !== 0 && access === AccessKind.Write && (privilege === Privilege.User || state.wp))
        return -1;
    }
    return page + (lo & 0xfff);
  }

  /**
   * A page fault on the linear address (lo, hi), after the `lookup` of that address, invalidates the
   * TLB entries for its page under the current context and the walk-cache entries that would be used
   * for it, so that the fault does not
   * recur once the tables in memory would not cause it (SDM vol. 3A §4.10.4.1). Under nesting the
   * context is the guest's (its ASID/VPID, PCID and, for Intel, EP4TA).
   */
  pageFault(lo: number, hi: number, state: CpuState, fault: WalkResult): void {
    const vpn = linearPageNumber(lo, hi, state);
    // "All TLB entries corresponding to the translation" go, the pieces of a large page included
    // (SDM vol. 3A §4.10.2.3, §4.10.4.1). After a miss on the page no entry for it exists; pieces of
    // the translation can exist only when the fault was a protection fault at a large leaf.
    const largeLeaf = (fault.errorCode & PfError.P) !== 0 && fault.level > 1;
    if (this.foundEntry || largeLeaf) this.tlb?.flushLookup(this.context, vpn);
    this.walkCache?.flushLookup(this.context, vpn);
  }

  /** The ASID/VPID the current context is tagged with (0 without caches that tag). */
  get asid(): number {
    const tags = tagTableOf(this);
    return tags === null ? 0 : tags.asidOf(this.context);
  }

  /*
   * The invalidations the CPU makes on its own behalf, in the current ASID/VPID (AMD APM vol. 2
   * §15.16: MOV CR3, INVLPG and the CR0/CR4 flushes act on the current ASID; Intel SDM vol. 3C §29.4.3.1:
   * they invalidate linear and combined mappings of the current VPID, for all EP4TAs). Guest-physical
   * translations (the nested TLB) are never touched. Each returns the number of entries removed.
   */

  /**
   * INVLPG of 4 KiB page `vpn`: the TLB entries for that page in the current PCID, global entries for
   * it whatever their PCID, and every walk-cache entry of the current PCID (SDM vol. 3A §4.10.4.1).
   */
  invalidatePage(vpn: number): number {
    const asid = this.asid;
    const pcid = pcidOfContext(this.context);
    return (
      (this.tlb?.flushAddressInPcid(asid, pcid, vpn, true) ?? 0) +
      (this.walkCache?.flushAddressInPcid(asid, pcid, vpn, true) ?? 0)
    );
  }

  /**
   * The entries of `pcid` in the current ASID/VPID, and its global ones with `includeGlobals`, TLB and
   * walk cache: MOV to CR3 (the new CR3's PCID, globals kept, unless CR4.PCIDE=1 and bit 63 is set,
   * when nothing is invalidated; SDM vol. 3A §4.10.4.1) and INVPCID single-context (type 1).
   */
  invalidatePcid(pcid: number, includeGlobals = false): number {
    const asid = this.asid;
    return (
      (this.tlb?.flushPcid(asid, pcid, includeGlobals) ?? 0) +
      (this.walkCache?.flushPcid(asid, pcid, includeGlobals) ?? 0)
    );
  }

  /**
   * Every entry of the current ASID/VPID, every PCID, globals too with `includeGlobals`: INVPCID types 2
   * and 3, and the CR0/CR4 changes `controlRegisterInvalidation` names. (A `TlbHierarchy` that holds
   * the nested structures also drops an AMD guest's nested translations here, which an ASID tags: more
   * than the rule asks, which the SDM allows, §4.10.4.1: "always free to invalidate additional entries".)
   */
  invalidateAddressSpace(includeGlobals: boolean): number {
    const asid = this.asid;
    const flush = (t: {
      flushAddressSpace(a: number): number;
      flushAddressSpaceNonGlobal(a: number): number;
    }) => (includeGlobals ? t.flushAddressSpace(asid) : t.flushAddressSpaceNonGlobal(asid));
    return (this.tlb === null ? 0 : flush(this.tlb)) + (this.walkCache === null ? 0 : flush(this.walkCache));
  }

  /**
   * INVPCID individual-address (type 0): the non-global TLB entries of `pcid` for page `vpn`, and the
   * walk-cache entries of `pcid` (SDM vol. 2B "INVPCID"; the walk caches lose every entry of the PCID,
   * which covers those that would be used for the address).
   */
  invalidatePageInPcid(pcid: number, vpn: number): number {
    const asid = this.asid;
    return (
      (this.tlb?.flushAddressInPcid(asid, pcid, vpn, false) ?? 0) +
      (this.walkCache?.flushAddressInPcid(asid, pcid, vpn, false) ?? 0)
    );
  }

  /** Applies what `controlRegisterInvalidation` decided for a MOV to CR0 or CR4; `pcid` is the current PCID. */
  controlRegistersChanged(flush: CrInvalidation, pcid: number): number {
    if (flush === CrInvalidation.AllPcids) return this.invalidateAddressSpace(true);
    if (flush === CrInvalidation.CurrentPcid) return this.invalidatePcid(pcid, true);
    return 0;
  }

  /**
   * Removes the TLB and walk-cache entries a lookup under the current context would use for the
   * linear address (lo, hi): under nesting, the combined mappings for that linear address (SDM
   * vol. 3C §29.4.1), which an EPT violation of its translation invalidates (§29.4.3.1).
   */
  flushLinear(lo: number, hi: number, state: CpuState): void {
    const vpn = linearPageNumber(lo, hi, state);
    this.tlb?.flushLookup(this.context, vpn);
    this.walkCache?.flushLookup(this.context, vpn);
  }

  /** Removes the nested TLB's entries for guest-physical address `gpa` under the nested context (a fault's invalidation of guest-physical mappings). */
  flushGuestPhysical(gpa: number): void {
    this.nestedTlb?.flushLookup(this.nestedContext, Math.floor(gpa / 4096));
  }

  /**
   * Walks, starting below the root when the walk cache holds an upper-level entry for the address.
   * Skipped levels are recorded in the trace as references the cache saved (RefFlag.Cached).
   */
  walk(
    walker: PageWalker,
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    out: WalkResult,
    trace: WalkTrace | null,
  ): WalkStatus {
    const cache = this.walkCache;
    const state = walker.state;
    if (cache === null || state.mode === PagingMode.None) return walker.walk(lo, hi, access, privilege, out);
    const table = cache.lookup(this.context, linearPageNumber(lo, hi, state));
    if (table < 0) return walker.walk(lo, hi, access, privilege, out);
    this.walkCacheHits++;
    const level = walkEntryLevel[cache.hitKind] - 1;
    if (trace !== null) {
      const top = topLevel(state.mode, walker.pdptesOnDemand);
      for (let l = top; l > level; l--) trace.push(this.stage, l, Number.NaN, 0, 0, RefFlag.Cached);
    }
    return walker.walkFrom(lo, hi, access, privilege, level, table, cache.hitPerms, out);
  }

  /**
   * After a successful translation: caches the upper-level entries the walk read and the whole
   * translation (`hostPhysical`, `pageShift`, `perms` of both stages combined).
   */
  fill(
    lo: number,
    hi: number,
    access: AccessKind,
    state: CpuState,
    walk: WalkResult,
    pdptesOnDemand: boolean,
    hostPhysical: number,
    pageShift: number,
    perms: number,
    guestPhysical: number = hostPhysical,
  ): void {
    if (state.mode === PagingMode.None && !this.twoStage) return;
    const vpn = linearPageNumber(lo, hi, state);
    const cache = this.walkCache;
    if (cache !== null && walk.references > 0) {
      // The levels this walk read run from level + references - 1 down to the leaf; cache those above it.
      const top = walk.level + walk.references - 1;
      for (let level = top; level > walk.level; level--) {
        const kind = kindOf(state.mode, level, pdptesOnDemand);
        if (kind >= 0)
          cache.fill(this.context, vpn, kind as WalkEntry, walk.table[level - 1], walk.levelPerms[level]);
      }
    }
    const tlb = this.tlb;
    if (tlb !== null) {
      const shift = Math.min(pageShift, 30);
      const size = 2 ** shift;
      const base = hostPhysical - (hostPhysical % size);
      tlb.fill(
        this.context,
        vpn,
        access,
        pageSizeFromShift(shift),
        base,
        perms,
        packAttributes(walk.protectionKey, 0),
        guestPhysical - (hostPhysical - base),
      );
    }
  }
}

/** The highest level a walk of `mode` reads from memory. */
function topLevel(mode: number, pdptesOnDemand: boolean): number {
  if (mode === PagingMode.Level5) return 5;
  if (mode === PagingMode.Level4) return 4;
  if (mode === PagingMode.Pae) return pdptesOnDemand ? 3 : 2;
  return 2;
}

/** What a MOV to CR0 or CR4 invalidates in the current ASID/VPID (see `controlRegisterInvalidation`). */
export const CrInvalidation = {
  None: 0,
  /** Every TLB and walk-cache entry of the current PCID, globals included. */
  CurrentPcid: 1,
  /** Every TLB and walk-cache entry of every PCID, globals included. */
  AllPcids: 2,
} as const;
export type CrInvalidation = (typeof CrInvalidation)[keyof typeof CrInvalidation];

/**
 * What a MOV to CR0 or CR4 that changes (`cr0`, `cr4`) to (`newCr0`, `newCr4`) invalidates, the
 * union of both vendors' rules:
 * - every PCID, globals included: CR0.PG changes (SDM vol. 3A §4.10.4.1 names PG 1 to 0; APM vol. 2
 *   §5.5.2 and §15.16 toggling PG), CR4.PGE changes (both), CR4.PCIDE goes from 1 to 0 (SDM), CR4.PAE
 *   or CR4.PSE changes (APM §15.16; the SDM asks for the current PCID on a PAE change);
 * - the current PCID: CR4.SMEP goes from 0 to 1 (SDM §4.10.4.1);
 * - nothing otherwise (CR0.WP, CR4.SMAP… need no flush: a lookup checks them against the cached rights).
 */
export function controlRegisterInvalidation(
  cr0: number,
  cr4: number,
  newCr0: number,
  newCr4: number,
): CrInvalidation {
  const cr4Changed = (cr4 ^ newCr4) >>> 0;
  if (
    ((cr0 ^ newCr0) & Cr0.PG) !== 0 ||
    (cr4Changed & (Cr4.PGE | Cr4.PAE | Cr4.PSE)) !== 0 ||
    ((cr4 & Cr4.PCIDE) !== 0 && (newCr4 & Cr4.PCIDE) === 0)
  ) {
    return CrInvalidation.AllPcids;
  }
  if ((cr4 & Cr4.SMEP) === 0 && (newCr4 & Cr4.SMEP) !== 0) return CrInvalidation.CurrentPcid;
  return CrInvalidation.None;
}
