import { WalkResult } from '@hvsim/cpu-core';
import { NestedFault } from './nested-stage.js';

/** How a translation ended. */
export const TranslateStatus = {
  /** The access completes at `hostPhysical`. */
  Ok: 0,
  /** A #PF for the guest (`errorCode`, the faulting linear address in `faultLo`/`faultHi`). */
  PageFault: 1,
  /** A #GP(0) for the guest (a non-canonical address, or PDPTEs that failed to load). */
  GeneralProtection: 2,
  /** A second-stage fault that exits to the hypervisor: `nestedFault` says which. */
  NestedFault: 3,
  /**
   * An exit other than a second-stage fault that the hypervisor's exit handlers chose to report to
   * the caller instead of resolving (the hypervisor's `GuestAccess.exit` says which).
   */
  Exit: 4,
} as const;
export type TranslateStatus = (typeof TranslateStatus)[keyof typeof TranslateStatus];

/** The outcome of one MMU translation, written into a caller-owned object (no allocation per access). */
export class Translation {
  status: TranslateStatus = TranslateStatus.Ok;
  /** The guest-physical address of the access (equal to `hostPhysical` without a second stage). */
  guestPhysical = 0;
  hostPhysical = 0;
  /** log2 of the size of the translation as a TLB would hold it: the smaller of the two stages' pages (AMD APM vol. 2 §15.25.9). */
  pageShift = 12;
  /** Perm bits of the combined translation. */
  perms = 0;
  /** #PF or #GP error code for the guest. */
  errorCode = 0;
  faultLo = 0;
  faultHi = 0;
  /** Memory references made by both stages for this access. */
  references = 0;
  /** Whether the translation came from a TLB hit (no walk). */
  tlbHit = false;
  /** On a TLB hit, the position of the TLB level that served it (0 = first level). */
  tlbLevel = 0;
  /** The guest stage's walk. */
  readonly guest = new WalkResult();
  /** The second-stage fault, when status is NestedFault. */
  readonly nestedFault = new NestedFault();
}
