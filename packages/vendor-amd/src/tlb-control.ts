import { flushTargets, type TlbTargets } from '@hvsim/tlb-tagged';
import { resolveSvmCapabilities, type SvmCapabilities } from './svm-capabilities.js';

/*
 * TLB_CONTROL (VMCB 05Ch), applied by VMRUN (AMD APM vol. 2 §15.16.1, Table 15-9). VMRUN reads the
 * field but does not change it.
 */

/** The encodings of Table 15-9. "All encodings not defined in this table are reserved." */
export const TlbControl = {
  /** 00h: do not flush. */
  DoNotFlush: 0x00,
  /** 01h: flush the entire TLB, every ASID, global and non-global ("should be used only on legacy hardware"). */
  FlushAll: 0x01,
  /** 03h: flush this guest's TLB entries (needs FlushByAsid). */
  FlushGuest: 0x03,
  /** 07h: flush this guest's non-global TLB entries (needs FlushByAsid). */
  FlushGuestNonGlobal: 0x07,
} as const;

/** What VMRUN does to the TLB for a TLB_CONTROL value. */
export const TlbControlAction = {
  None: 'none',
  FlushAll: 'flush-all',
  FlushAsid: 'flush-asid',
  FlushAsidNonGlobal: 'flush-asid-non-global',
} as const;
export type TlbControlAction = (typeof TlbControlAction)[keyof typeof TlbControlAction];

/** The effect of one TLB_CONTROL value on one CPU. */
export interface TlbControlDecision {
  readonly action: TlbControlAction;
  /**
   * Whether the APM defines the value on this CPU: false for the reserved encodings, and for 03h and
   * 07h without FlushByAsid. Such values are still run (see `tlbControlAction`).
   */
  readonly defined: boolean;
}

/** What `applyTlbControl` did. */
export interface TlbControlOutcome extends TlbControlDecision {
  /** Entries removed from the TLB, walk cache and nested TLB together. */
  readonly removed: number;
}

/**
 * The action VMRUN takes for TLB_CONTROL `value` (a byte). 00h, 01h, 03h and 07h as Table 15-9 says,
 * 03h and 07h only with FlushByAsid (§15.16.1: "support for the other commands is optional").
 *
 * The APM does not say what VMRUN does with a reserved encoding, or with 03h/07h on a CPU without
 * FlushByAsid, and does not list either among the VMRUN consistency checks (§15.5.1), so VMRUN does not
 * fail (KVM removed a VMEXIT_INVALID check on reserved values for that reason: Linux commit a484755ab252,
 * "Revert nSVM: Check for reserved encodings of TLB_CONTROL"). This model flushes the entire TLB for
 * them: every defined flush has bit 0 set and flushing everything is the one action that can leave no
 * stale translation whatever the hardware does. `defined: false` reports it.
 */
export function tlbControlAction(value: number, capabilities: SvmCapabilities = {}): TlbControlDecision {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new RangeError(`TLB_CONTROL is a byte, got ${value}`);
  }
  const flushByAsid = resolveSvmCapabilities(capabilities).features.FlushByAsid;
  switch (value) {
    case TlbControl.DoNotFlush:
      return { action: TlbControlAction.None, defined: true };
    case TlbControl.FlushAll:
      return { action: TlbControlAction.FlushAll, defined: true };
    case TlbControl.FlushGuest:
      return flushByAsid
        ? { action: TlbControlAction.FlushAsid, defined: true }
        : { action: TlbControlAction.FlushAll, defined: false };
    case TlbControl.FlushGuestNonGlobal:
      return flushByAsid
        ? { action: TlbControlAction.FlushAsidNonGlobal, defined: true }
        : { action: TlbControlAction.FlushAll, defined: false };
    default:
      return { action: TlbControlAction.FlushAll, defined: false };
  }
}

/**
 * Applies TLB_CONTROL `value` for a VMRUN into `guestAsid` (APM vol. 2 §15.16.1):
 * - 01h removes everything, every ASID, global or not, from the TLB, walk cache and nested TLB;
 * - 03h removes every entry of the guest's ASID, globals and its guest-physical (nested) translations
 *   included (an ASID tags a guest-physical address space under nested paging, §15.25.1);
 * - 07h removes the guest's non-global entries; global entries and nested translations (stored as
 *   PCID-wildcard entries by `@hvsim/tlb-tagged`) stay, which is why §15.16.1 asks for 03h or 01h
 *   after nested page table permissions are reduced.
 */
export function applyTlbControl(
  value: number,
  guestAsid: number,
  targets: TlbTargets,
  capabilities: SvmCapabilities = {},
): TlbControlOutcome {
  const decision = tlbControlAction(value, capabilities);
  let removed = 0;
  switch (decision.action) {
    case TlbControlAction.FlushAll:
      removed = flushTargets(targets, true, (t) => t.flushAll());
      break;
    case TlbControlAction.FlushAsid:
      removed = flushTargets(targets, true, (t) => t.flushAddressSpace(guestAsid));
      break;
    case TlbControlAction.FlushAsidNonGlobal:
      removed = flushTargets(targets, true, (t) => t.flushAddressSpaceNonGlobal(guestAsid));
      break;
    default:
      break;
  }
  return { ...decision, removed };
}
