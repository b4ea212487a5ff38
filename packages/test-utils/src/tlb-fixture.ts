/**
 * A CPU's translation structures filled with entries of several tags (ASIDs or VPIDs), PCIDs, nested
 * roots (EP4TAs) and page sizes, global and not, for the tests of the SVM and VMX controls: which
 * entries an operation keeps is read back by looking each one up. Under VMX, linear, combined and
 * guest-physical mappings are the three kinds of Intel SDM vol. 3C §29.4.1: a planted entry with an
 * `ep4ta` is a combined mapping (`tlb`, `walk`) or a guest-physical one (`nested`, tagged by the
 * EP4TA alone); without one, a linear mapping, and under SVM `nested` entries are tagged by ASID.
 */
import {
  AccessKind,
  ASID_NONE,
  PageSize,
  PagingStructureCache,
  Perm,
  TagTable,
  TLB_MISS,
  TranslationCache,
  WalkEntry,
} from '@hvsim/tlb-tagged';

export interface Caches {
  readonly tags: TagTable;
  readonly tlb: TranslationCache;
  readonly walkCache: PagingStructureCache;
  readonly nestedTlb: TranslationCache;
}

/** A TLB (4 KiB, 2 MiB, 1 GiB), a PDE/PDPTE walk cache and a nested TLB sharing one tag table. */
export function makeCaches(): Caches {
  const tags = new TagTable();
  return {
    tags,
    tlb: new TranslationCache(
      { name: 'TLB', entries: 512, ways: 8, pageSizes: [PageSize.Size4K, PageSize.Size2M, PageSize.Size1G] },
      tags,
    ),
    walkCache: new PagingStructureCache(
      {
        levels: [
          { kind: WalkEntry.Pde, entries: 64, ways: 4 },
          { kind: WalkEntry.Pdpte, entries: 16, ways: 4 },
        ],
      },
      tags,
    ),
    nestedTlb: new TranslationCache(
      { name: 'nested TLB', entries: 128, ways: 4, pageSizes: [PageSize.Size4K, PageSize.Size2M] },
      tags,
    ),
  };
}

/** One planted entry. */
export interface Planted {
  readonly name: string;
  /** `tlb`: a linear (or combined) translation; `walk`: a walk-cache PDE; `nested`: a guest-physical translation. */
  readonly where: 'tlb' | 'walk' | 'nested';
  /** The ASID (SVM); give this or `vpid`. */
  readonly asid?: number;
  /** The VPID (VMX; ignored for guest-physical mappings); give this or `asid`. */
  readonly vpid?: number;
  /** The EP4TA of a combined or guest-physical mapping (VMX). */
  readonly ep4ta?: number;
  readonly pcid?: number;
  /** 4 KiB page number of the linear (or guest-physical) address. */
  readonly vpn: number;
  readonly size?: PageSize;
  readonly global?: boolean;
}

const RW = Perm.Write | Perm.Dirty | Perm.User | Perm.Execute;

/** Fills every entry of `plan`; they must all be cached afterwards. */
export function plant(c: Caches, plan: readonly Planted[]): void {
  for (const p of plan) {
    const ctx = contextOf(c, p);
    if (p.where === 'tlb') {
      const size = p.size ?? PageSize.Size4K;
      const span = size / 4096;
      // Any base aligned to the page size will do: 4 GiB plus the page's own offset.
      const base = 2 ** 32 + ((Math.floor(p.vpn / span) * span * 4096) % 2 ** 44);
      c.tlb.fill(ctx, p.vpn, AccessKind.Read, size, base, RW | (p.global ? Perm.Global : 0));
    } else if (p.where === 'walk') {
      c.walkCache.fill(ctx, p.vpn, WalkEntry.Pde, 0x20_0000 + (p.vpn % 512) * 4096, RW);
    } else {
      c.nestedTlb.fill(nestedContextOf(c, p), p.vpn, AccessKind.Read, PageSize.Size4K, 0x4000_0000, RW);
    }
  }
  const missing = plan.filter((p) => !cached(c, p)).map((p) => p.name);
  if (missing.length > 0) throw new Error(`not cached after planting: ${missing.join(', ')}`);
}

/** Whether a lookup under the entry's own context finds it. */
export function cached(c: Caches, p: Planted): boolean {
  const ctx = contextOf(c, p);
  if (p.where === 'tlb') return c.tlb.lookup(ctx, p.vpn, AccessKind.Read, 0) !== TLB_MISS;
  if (p.where === 'walk') return c.walkCache.lookupKind(ctx, p.vpn, WalkEntry.Pde) >= 0;
  return c.nestedTlb.lookup(nestedContextOf(c, p), p.vpn, AccessKind.Read, 0) !== TLB_MISS;
}

function tagOf(p: Planted): number {
  const tag = p.asid ?? p.vpid;
  if (tag === undefined) throw new Error(`${p.name}: a planted entry needs an asid or a vpid`);
  return tag;
}

function contextOf(c: Caches, p: Planted): number {
  return p.ep4ta === undefined
    ? c.tags.context(tagOf(p), p.pcid ?? 0)
    : c.tags.context(tagOf(p), p.pcid ?? 0, p.ep4ta);
}

function nestedContextOf(c: Caches, p: Planted): number {
  // VMX: guest-physical mappings are tagged by the EP4TA alone (SDM vol. 3C §29.4.1); SVM: by ASID.
  return p.ep4ta === undefined ? c.tags.nestedContext(tagOf(p)) : c.tags.nestedContext(ASID_NONE, p.ep4ta);
}

/** The names of the entries of `plan` still cached. */
export function survivors(c: Caches, plan: readonly Planted[]): string[] {
  return plan.filter((p) => cached(c, p)).map((p) => p.name);
}
