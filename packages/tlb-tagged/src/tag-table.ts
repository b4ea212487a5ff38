/**
 * Context tags. A translation is tagged with an address-space id (AMD ASID, Intel VPID; 0 for the
 * host), the guest's PCID, and a nested root (Intel's EP4TA, or whatever root the MMU wants to tag by).
 * Lookups take a context handle, a small integer that packs all three, so the hit path compares one
 * integer: handle = (space << 13) | (pcid + 1), where `space` is an interned (asid, nested root) pair.
 * The PCID field 0 marks the PCID-wildcard handle of a space: global entries are stored under it, so a
 * global entry matches every PCID of its space and no other space ("global pages are only global within
 * their ASID", AMD APM vol. 2 §15.16; Intel SDM vol. 3A §4.10.2.4, vol. 3C §28.4.1 / §29.4.1).
 */

/** The nested-root tag of a translation that no nested root tags (native paging, AMD NPT, Intel linear mappings). */
export const NO_NESTED_ROOT = -1;

/**
 * The address-space tag of a translation that no ASID/VPID tags: Intel's guest-physical mappings,
 * tagged by EP4TA alone (SDM vol. 3C §28.4.1 / §29.4.1). Address-space flushes never match it.
 */
export const ASID_NONE = -1;

/** Largest PCID (12 bits; SDM vol. 3A §4.10.1). */
export const MAX_PCID = 4095;

const PCID_SHIFT = 13;
const PCID_FIELD = (1 << PCID_SHIFT) - 1;
const MAX_SPACES = 2 ** (31 - PCID_SHIFT);

/** The PCID-wildcard (global) handle of a context handle: where its space's global entries live. */
export function globalContext(ctx: number): number {
  return ctx & ~PCID_FIELD;
}

/** The space number of a context handle. */
export function spaceOfContext(ctx: number): number {
  return ctx >>> PCID_SHIFT;
}

/** The PCID of a context handle, or -1 for a PCID-wildcard (global or nested) handle. */
export function pcidOfContext(ctx: number): number {
  return (ctx & PCID_FIELD) - 1;
}

/**
 * Interns context tags. Every structure that shares translations (the levels of a hierarchy, its
 * walk caches, its nested TLB) must share one table, so that a handle means the same context in all.
 */
export class TagTable {
  private readonly spaces = new Map<string, number>();
  private readonly spaceAsid: number[] = [];
  private readonly spaceRoot: number[] = [];

  /** Number of (asid, nested root) spaces interned so far. */
  get spaceCount(): number {
    return this.spaceAsid.length;
  }

  /**
   * The handle of a linear (or combined) translation context: `asid` (ASID/VPID, 0 for the host),
   * the guest's `pcid` (0 when PCIDs are off), and the nested root (`NO_NESTED_ROOT` when none).
   * Interning is a Map lookup: call it when a context is entered, not per access.
   */
  context(asid: number, pcid: number, nestedRoot: number = NO_NESTED_ROOT): number {
    if (!Number.isInteger(pcid) || pcid < 0 || pcid > MAX_PCID) {
      throw new RangeError(`pcid must be an integer from 0 to ${MAX_PCID}, got ${pcid}`);
    }
    return (this.space(asid, nestedRoot) << PCID_SHIFT) | (pcid + 1);
  }

  /**
   * The handle of a guest-physical (nested) translation context: tagged by `asid` (AMD: an ASID tags a
   * guest-physical address space, APM vol. 2 §15.25.1; Intel: `ASID_NONE`) and the nested root, never
   * by a PCID. Entries stored under it behave as global ones: only flushes that include globals (or
   * name their space or root) remove them. Use it for nested TLBs and nested walk caches.
   */
  nestedContext(asid: number, nestedRoot: number = NO_NESTED_ROOT): number {
    return this.space(asid, nestedRoot) << PCID_SHIFT;
  }

  /** The address-space id of a handle (`ASID_NONE` for an untagged one). */
  asidOf(ctx: number): number {
    return this.spaceAsid[ctx >>> PCID_SHIFT] ?? Number.NaN;
  }

  /** The nested root of a handle (`NO_NESTED_ROOT` when none). */
  nestedRootOf(ctx: number): number {
    return this.spaceRoot[ctx >>> PCID_SHIFT] ?? Number.NaN;
  }

  /** The address-space id of a space number (internal use by the flush scans). */
  asidOfSpace(space: number): number {
    return this.spaceAsid[space];
  }

  /** The nested root of a space number (internal use by the flush scans). */
  rootOfSpace(space: number): number {
    return this.spaceRoot[space];
  }

  private space(asid: number, nestedRoot: number): number {
    if (!Number.isInteger(asid) || asid < ASID_NONE || asid > 0xffffffff) {
      throw new RangeError(`asid must be ASID_NONE or an integer from 0 to 2^32-1, got ${asid}`);
    }
    if (!Number.isInteger(nestedRoot) || nestedRoot < NO_NESTED_ROOT || nestedRoot >= 2 ** 52) {
      throw new RangeError(`nested root must be NO_NESTED_ROOT or an integer below 2^52, got ${nestedRoot}`);
    }
    const name = `${asid}/${nestedRoot}`;
    let s = this.spaces.get(name);
    if (s === undefined) {
      s = this.spaceAsid.length;
      if (s >= MAX_SPACES) throw new RangeError(`more than ${MAX_SPACES} (asid, nested root) pairs`);
      this.spaces.set(name, s);
      this.spaceAsid.push(asid);
      this.spaceRoot.push(nestedRoot);
    }
    return s;
  }
}
