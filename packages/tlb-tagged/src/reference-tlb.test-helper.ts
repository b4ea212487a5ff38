/**
 * A reference model of a tagged TLB for the property tests: a plain list of translations with the
 * architectural matching and invalidation rules and no capacity limit, written independently of the
 * typed-array implementation (it shares only the context table that interns handles). A real TLB may
 * hold fewer translations (capacity, splintering, inclusion), never others.
 */
import { ASID_NONE, NO_NESTED_ROOT, pcidOfContext, type TagTable } from './tag-table.js';

/** The 4 KiB pages in a page of `size` bytes. */
const pagesIn = (size: number): number => size / 4096;

/** One cached translation of the reference. */
export interface RefEntry {
  readonly asid: number;
  /** -1 for a global (or PCID-less) entry. */
  readonly pcid: number;
  readonly root: number;
  /** Page size in bytes. */
  readonly size: number;
  /** First 4 KiB page of the page. */
  readonly firstVpn: number;
  readonly base: number;
  readonly perms: number;
}

/** The reference TLB. */
export class ReferenceTlb {
  entries: RefEntry[] = [];
  private readonly tags: TagTable;

  constructor(tags: TagTable) {
    this.tags = tags;
  }

  private decode(ctx: number): { asid: number; pcid: number; root: number } {
    return { asid: this.tags.asidOf(ctx), pcid: pcidOfContext(ctx), root: this.tags.nestedRootOf(ctx) };
  }

  private static covers(e: RefEntry, vpn: number): boolean {
    return vpn >= e.firstVpn && vpn < e.firstVpn + pagesIn(e.size);
  }

  /** Every translation a lookup under `ctx` for `vpn` may return. */
  candidates(ctx: number, vpn: number): RefEntry[] {
    const c = this.decode(ctx);
    return this.entries.filter(
      (e) =>
        ReferenceTlb.covers(e, vpn) &&
        e.asid === c.asid &&
        e.root === c.root &&
        (e.pcid === c.pcid || e.pcid === -1),
    );
  }

  /** The physical address of the 4 KiB page holding `vpn` through `e`. */
  static frame(e: RefEntry, vpn: number): number {
    return e.base + (vpn - e.firstVpn) * 4096;
  }

  fill(ctx: number, vpn: number, size: number, base: number, perms: number): void {
    const stale = new Set(this.candidates(ctx, vpn));
    this.entries = this.entries.filter((e) => !stale.has(e));
    const c = this.decode(ctx);
    const global = (perms & 0x10) !== 0 || c.pcid === -1;
    this.entries.push({
      asid: c.asid,
      pcid: global ? -1 : c.pcid,
      root: c.root,
      size,
      firstVpn: vpn - (vpn % pagesIn(size)),
      base,
      perms: perms & 0xff,
    });
  }

  private remove(pred: (e: RefEntry) => boolean): void {
    this.entries = this.entries.filter((e) => !pred(e));
  }

  flushAll(): void {
    this.entries = [];
  }

  flushAddressSpace(asid: number): void {
    this.remove((e) => e.asid === asid);
  }

  flushAddressSpaceNonGlobal(asid: number): void {
    this.remove((e) => e.asid === asid && e.pcid !== -1);
  }

  flushGuests(): void {
    this.remove((e) => e.asid !== 0 && e.asid !== ASID_NONE);
  }

  flushAddress(asid: number, vpn: number): void {
    this.remove((e) => e.asid === asid && ReferenceTlb.covers(e, vpn));
  }

  flushAddressInPcid(asid: number, pcid: number, vpn: number, includeGlobals: boolean): void {
    this.remove(
      (e) =>
        e.asid === asid &&
        ReferenceTlb.covers(e, vpn) &&
        (e.pcid === pcid || (includeGlobals && e.pcid === -1)),
    );
  }

  flushPcid(asid: number, pcid: number, includeGlobals: boolean): void {
    this.remove((e) => e.asid === asid && (e.pcid === pcid || (includeGlobals && e.pcid === -1)));
  }

  flushNestedRoot(root: number): void {
    this.remove((e) => e.root === root);
  }

  flushAllNestedRoots(): void {
    this.remove((e) => e.root !== NO_NESTED_ROOT);
  }
}
