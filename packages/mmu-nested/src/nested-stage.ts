import type { AccessKind, WalkTrace } from '@hvsim/cpu-core';

/** Why the second stage is asked to translate a guest-physical address. */
export const NestedAccess = {
  /** A guest paging-structure entry is about to be read (AMD APM vol. 2 §15.25.5; Intel SDM vol. 3C §29.3.3.2). */
  GuestTable: 0,
  /** The final guest-physical address of the guest's access. */
  Final: 1,
  /** The guest's PAE PDPTEs are loaded, as MOV to CR3 does (Intel: bit 7 of the exit qualification is 0). */
  PdpteLoad: 2,
} as const;
export type NestedAccess = (typeof NestedAccess)[keyof typeof NestedAccess];

/** The kind of a second-stage fault. */
export const NestedFaultKind = {
  None: 0,
  /** AMD #VMEXIT(NPF), exit code 0x400 (APM vol. 2 §15.25.6). */
  NestedPageFault: 1,
  /** Intel EPT violation, basic exit reason 48 (SDM vol. 3C §29.3.3.2). */
  EptViolation: 2,
  /** Intel EPT misconfiguration, basic exit reason 49 (SDM vol. 3C §29.3.3.1). */
  EptMisconfiguration: 3,
} as const;
export type NestedFaultKind = (typeof NestedFaultKind)[keyof typeof NestedFaultKind];

/**
 * A second-stage fault as the vendor reports it, written by the nested stage into this reused object.
 * `info` is AMD's EXITINFO1 or Intel's exit qualification (64 bits as halves); `guestPhysical` is
 * AMD's EXITINFO2 or Intel's guest-physical-address field.
 */
export class NestedFault {
  kind: NestedFaultKind = NestedFaultKind.None;
  infoLo = 0;
  infoHi = 0;
  guestPhysical = 0;
  /** Intel: the guest-linear-address field is valid (exit qualification bit 7). */
  linearValid = false;
  linearLo = 0;
  linearHi = 0;
  /** The nested level at which the fault was found. */
  level = 0;
  /** Why the second stage was translating (NestedAccess). */
  access: NestedAccess = NestedAccess.Final;

  /** Copies another fault (to keep one beyond the next translation). */
  copyFrom(other: NestedFault): void {
    this.kind = other.kind;
    this.infoLo = other.infoLo;
    this.infoHi = other.infoHi;
    this.guestPhysical = other.guestPhysical;
    this.linearValid = other.linearValid;
    this.linearLo = other.linearLo;
    this.linearHi = other.linearHi;
    this.level = other.level;
    this.access = other.access;
  }
}

/**
 * The plug-in seam of the two-dimensional walk: a second stage that translates guest-physical to
 * host-physical addresses. The two-dimensional walk itself is vendor-neutral; the entry format,
 * permission rules, reserved bits, accessed/dirty rules and the fault report come from the stage.
 * `@hvsim/vendor-amd` provides NPT and `@hvsim/vendor-intel` EPT.
 */
export interface NestedStage {
  /** Where the stage records its memory references (the MMU sets it; null for none). */
  trace: WalkTrace | null;
  /** Where the stage writes a fault when `translate` returns -1. */
  readonly fault: NestedFault;
  /**
   * Whether guest PAE PDPTEs are read from memory during every guest walk (AMD NPT, APM vol. 2
   * §15.25.10) rather than loaded into registers through this stage (Intel EPT, SDM vol. 3C §29.3.2).
   */
  readonly guestPdptesOnDemand: boolean;
  /** log2 of the size of the nested page the last successful translation used. */
  readonly pageShift: number;
  /**
   * Perm bits of the last successful Final translation: Write and Execute when the nested page
   * allows them, Dirty when a write needs no nested dirty-bit update (set, or the format has none).
   */
  readonly perms: number;
  /**
   * Whether the guest's accessed/dirty update of a guest table entry is a separate write the stage
   * must allow (Intel EPT without accessed/dirty flags, SDM vol. 3C §29.3.3.2) rather than part of a
   * table access that was already a write (AMD NPT §15.25.5; EPT with EPTP bit 6). A nested TLB hit
   * for a guest table page can only serve the update when its cached permissions include Write.
   */
  readonly tableUpdateChecksWrite: boolean;
  /** Memory references the last translation made. */
  readonly references: number;
  /** Starts a guest access: the linear address the stage reports with its faults. */
  begin(linearLo: number, linearHi: number): void;
  /**
   * Translates a guest-physical address. `access` is the guest's own access kind (meaningful for
   * Final) and `guestPerms` the guest stage's Perm bits (Final only; Intel's advanced exit
   * information reports them). Returns the host-physical address, or -1 with `fault` filled.
   */
  translate(guestPhysical: number, why: NestedAccess, access: AccessKind, guestPerms: number): number;
  /**
   * The guest walker is about to write accessed/dirty bits into the guest entry at `guestPhysical`,
   * which the last GuestTable translation located: the host-physical address to write, or -1 with
   * `fault` filled (Intel without EPT A/D flags checks write permission now, SDM vol. 3C §29.3.3.2).
   */
  translateForUpdate(guestPhysical: number): number;
  /**
   * Removes what the stage itself caches (its paging-structure cache) that would be used to
   * translate `guestPhysical`: called by the MMU when a fault of this stage invalidates the
   * guest-physical mappings for its address (Intel SDM vol. 3C §29.4.3.1). Optional: a stage without
   * caches has nothing to remove.
   */
  invalidateGuestPhysical?(guestPhysical: number): void;
}
