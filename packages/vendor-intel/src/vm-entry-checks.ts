import { decodeEptp } from './ept-stage.js';
import { type Vmcs, VmcsField } from './vmcs.js';
import {
  type ResolvedVmxCapabilities,
  resolveVmxCapabilities,
  type VmxCapabilities,
} from './vmx-capabilities.js';
import { EntryControl, PrimaryControl, SecondaryControl } from './vmx-controls.js';
import { VM_ENTRY_FAILURE, VmxExitReason } from './vmx-exit-reason.js';
import { VmInstructionError } from './vmx-result.js';

/*
 * The VM-entry checks that bear on address translation (Intel SDM vol. 3C chapter 27, "VM Entries";
 * chapter 26 in the 2016 edition):
 * - checks on the VMX controls (§27.2.1.1): a failure is VMfailValid with VM-instruction error 7, "VM
 *   entry with invalid control field(s)", and the processor stays in VMX root operation;
 * - checks on the guest-state area (§27.3.1.1 control registers and MSRs, §27.3.1.4 RFLAGS, §27.3.1.6
 *   PDPTEs): a failure is a VM exit with basic exit reason 33, "VM-entry failure due to invalid guest
 *   state", and bit 31 set in the exit-reason field (§27.8), with exit qualification 2 for a PDPTE
 *   failure and 0 otherwise.
 * Control checks come first (§27.2 before §27.3). Not modelled: the basic checks of §27.1 (VMLAUNCH
 * and VMRESUME launch state, errors 4-6), the other control fields, the host-state area (error 8),
 * segment registers, MSR loading (exit reason 34).
 */

/** The checks, by name. */
export const VmEntryCheck = {
  /** A secondary control the processor does not allow is set (IA32_VMX_PROCBASED_CTLS2). */
  UnsupportedSecondaryControl: 'unsupported-secondary-control',
  /** "Enable VPID" with VPID 0000H. */
  VpidZero: 'vpid-zero',
  /** "Enable EPT" with an EPTP that fails the checks of §27.2.1.1. */
  InvalidEptp: 'invalid-eptp',
  /** "Unrestricted guest" without "enable EPT". */
  UnrestrictedGuestWithoutEpt: 'unrestricted-guest-without-ept',
  /** A CR0 bit differs from its fixed value in VMX operation (PE and PG exempt with unrestricted guest). */
  Cr0FixedBits: 'cr0-fixed-bits',
  /** CR0.PG=1 with CR0.PE=0, which fails even for an unrestricted guest. */
  Cr0PagingWithoutProtection: 'cr0-pg-without-pe',
  /** A CR4 bit differs from its fixed value in VMX operation. */
  Cr4FixedBits: 'cr4-fixed-bits',
  /** "IA-32e mode guest" with CR0.PG=0 or CR4.PAE=0. */
  Ia32eWithoutPaging: 'ia32e-without-paging',
  /** CR4.PCIDE=1 without "IA-32e mode guest". */
  PcideOutsideIa32e: 'pcide-outside-ia32e',
  /** CR3 sets bits above MAXPHYADDR. */
  Cr3Reserved: 'cr3-reserved',
  /** With "load IA32_EFER": EFER.LMA differs from "IA-32e mode guest", or from EFER.LME while CR0.PG=1. */
  EferLongModeMismatch: 'efer-long-mode-mismatch',
  /** RFLAGS reserved bits, or RFLAGS.VM with IA-32e mode or CR0.PE=0. */
  Rflags: 'rflags',
  /** A present guest PDPTE sets a reserved bit (PAE paging with EPT). */
  Pdpte: 'pdpte',
} as const;
export type VmEntryCheck = (typeof VmEntryCheck)[keyof typeof VmEntryCheck];

/** The outcome of the VM-entry checks. */
export type VmEntryCheckResult =
  | { readonly ok: true }
  /** A control check failed: VMfailValid, VM-instruction error 7. */
  | {
      readonly ok: false;
      readonly kind: 'fail-valid';
      readonly error: number;
      readonly check: VmEntryCheck;
      readonly reason: string;
    }
  /** A guest-state check failed: VM exit, exit-reason field `exitReason` (33 with bit 31), qualification. */
  | {
      readonly ok: false;
      readonly kind: 'entry-failure';
      readonly exitReason: number;
      readonly qualification: number;
      readonly check: VmEntryCheck;
      readonly reason: string;
    };

const PASS: VmEntryCheckResult = { ok: true };
const CR0_PE = 1;
const CR0_PG = 0x8000_0000;
const CR4_PAE = 1 << 5;
const CR4_PCIDE = 1 << 17;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;
const RFLAGS_VM = 1n << 17n;
// RFLAGS bits 63:22, 15, 5 and 3 are reserved and must be 0; bit 1 must be 1 (§27.3.1.4).
const RFLAGS_RESERVED = ~((1n << 22n) - 1n) | (1n << 15n) | (1n << 5n) | (1n << 3n);
// A PAE PDPTE: bits 2:1 and 8:5 are reserved (SDM vol. 3A §4.4.1, Table 4-8), with 63:MAXPHYADDR.
const PDPTE_RESERVED_LOW = 0x1e6n;
const PDPTE_FIELDS = [
  VmcsField.GuestPdpte0,
  VmcsField.GuestPdpte1,
  VmcsField.GuestPdpte2,
  VmcsField.GuestPdpte3,
];

function controlFailure(check: VmEntryCheck, reason: string): VmEntryCheckResult {
  return {
    ok: false,
    kind: 'fail-valid',
    error: VmInstructionError.EntryInvalidControlFields,
    check,
    reason,
  };
}

function guestFailure(check: VmEntryCheck, reason: string, qualification = 0): VmEntryCheckResult {
  return {
    ok: false,
    kind: 'entry-failure',
    exitReason: (VM_ENTRY_FAILURE | VmxExitReason.EntryFailureGuestState) >>> 0,
    qualification,
    check,
    reason,
  };
}

function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}

/** The secondary controls in effect: 0 unless "activate secondary controls" is set (§27.2.1.1). */
export function effectiveSecondaryControls(vmcs: Vmcs): number {
  const primary = vmcs.readNumber(VmcsField.PrimaryProcessorControls);
  return (primary & PrimaryControl.ActivateSecondaryControls) !== 0
    ? vmcs.readNumber(VmcsField.SecondaryProcessorControls)
    : 0;
}

/**
 * The VM-entry checks on `vmcs` for a processor with `capabilities`; `{ ok: true }` or the first
 * failure (control checks before guest-state checks).
 */
export function vmEntryChecks(vmcs: Vmcs, capabilities: VmxCapabilities = {}): VmEntryCheckResult {
  const caps = resolveVmxCapabilities(capabilities);
  const control = checkControls(vmcs, caps);
  return control.ok ? checkGuestState(vmcs, caps) : control;
}

/** §27.2.1.1, "VM-Execution Control Fields". */
function checkControls(vmcs: Vmcs, caps: ResolvedVmxCapabilities): VmEntryCheckResult {
  const secondary = effectiveSecondaryControls(vmcs);
  const ept = (secondary & SecondaryControl.EnableEpt) !== 0;
  const vpid = (secondary & SecondaryControl.EnableVpid) !== 0;
  const unrestricted = (secondary & SecondaryControl.UnrestrictedGuest) !== 0;
  // "Reserved bits in the secondary processor-based VM-execution controls must be cleared."
  for (const [on, allowed, name] of [
    [ept, caps.ept, 'enable EPT'],
    [vpid, caps.vpid, 'enable VPID'],
    [unrestricted, caps.unrestrictedGuest, 'unrestricted guest'],
  ] as const) {
    if (on && !allowed)
      return controlFailure(VmEntryCheck.UnsupportedSecondaryControl, `"${name}" is not supported`);
  }
  // "If the 'enable VPID' VM-execution control is 1, the value of the VPID VM-execution control field
  // must not be 0000H."
  if (vpid && vmcs.readNumber(VmcsField.Vpid) === 0) {
    return controlFailure(VmEntryCheck.VpidZero, '"enable VPID" with VPID 0000H');
  }
  if (ept) {
    const eptp = vmcs.read(VmcsField.Eptp);
    const decoded = decodeEptp(eptp, caps.maxPhysicalAddressBits, caps);
    if (typeof decoded === 'string') return controlFailure(VmEntryCheck.InvalidEptp, decoded);
    // "The EPT memory type must be a value supported by the processor" (EPT_VPID_CAP bits 8 and 14).
    if (
      (decoded.memoryType === 0 && !caps.memoryTypeUc) ||
      (decoded.memoryType === 6 && !caps.memoryTypeWb)
    ) {
      return controlFailure(
        VmEntryCheck.InvalidEptp,
        `EPT memory type ${decoded.memoryType} is not supported`,
      );
    }
    if (decoded.levels === 4 && !caps.fourLevel) {
      return controlFailure(VmEntryCheck.InvalidEptp, '4-level EPT is not supported');
    }
  }
  // "If the 'unrestricted guest' VM-execution control is 1, the 'enable EPT' VM-execution control must
  // also be 1."
  if (unrestricted && !ept) {
    return controlFailure(
      VmEntryCheck.UnrestrictedGuestWithoutEpt,
      '"unrestricted guest" without "enable EPT"',
    );
  }
  return PASS;
}

/** §27.3.1.1, §27.3.1.4 and §27.3.1.6. */
function checkGuestState(vmcs: Vmcs, caps: ResolvedVmxCapabilities): VmEntryCheckResult {
  const secondary = effectiveSecondaryControls(vmcs);
  const unrestricted = (secondary & SecondaryControl.UnrestrictedGuest) !== 0;
  const ept = (secondary & SecondaryControl.EnableEpt) !== 0;
  const entry = vmcs.readNumber(VmcsField.VmEntryControls);
  const ia32e = (entry & EntryControl.Ia32eModeGuest) !== 0;
  const cr0Full = vmcs.read(VmcsField.GuestCr0);
  const cr4Full = vmcs.read(VmcsField.GuestCr4);
  const cr0 = Number(cr0Full & 0xffff_ffffn);
  const cr4 = Number(cr4Full & 0xffff_ffffn);

  // "The CR0 field must not set any bit to a value not supported in VMX operation", except PE and PG
  // with unrestricted guest (NW and CD are not checked: VM entry does not change them).
  const exempt = (unrestricted ? CR0_PE | CR0_PG : 0) | (1 << 29) | (1 << 30);
  const mustBeOne = caps.cr0Fixed0 & ~exempt;
  const mayBeOne = BigInt((caps.cr0Fixed1 | exempt) >>> 0);
  if ((cr0 & mustBeOne) >>> 0 !== mustBeOne >>> 0 || (cr0Full & ~mayBeOne) !== 0n) {
    return guestFailure(VmEntryCheck.Cr0FixedBits, `CR0 ${hex(cr0Full)} violates the VMX fixed bits`);
  }
  // "If bit 31 in the CR0 field (corresponding to PG) is 1, bit 0 in that field (PE) must also be 1."
  if ((cr0 & CR0_PG) !== 0 && (cr0 & CR0_PE) === 0) {
    return guestFailure(VmEntryCheck.Cr0PagingWithoutProtection, 'CR0.PG=1 with CR0.PE=0');
  }
  if (
    (cr4 & caps.cr4Fixed0) >>> 0 !== caps.cr4Fixed0 >>> 0 ||
    (cr4Full & ~BigInt(caps.cr4Fixed1 >>> 0)) !== 0n
  ) {
    return guestFailure(VmEntryCheck.Cr4FixedBits, `CR4 ${hex(cr4Full)} violates the VMX fixed bits`);
  }
  // "If the 'IA-32e mode guest' VM-entry control is 1, bit 31 in the CR0 field (PG) must be 1 and bit 5
  // in the CR4 field (PAE) must be 1"; "if it is 0, bit 17 in the CR4 field (PCIDE) must be 0."
  if (ia32e && ((cr0 & CR0_PG) === 0 || (cr4 & CR4_PAE) === 0)) {
    return guestFailure(
      VmEntryCheck.Ia32eWithoutPaging,
      '"IA-32e mode guest" requires CR0.PG=1 and CR4.PAE=1',
    );
  }
  if (!ia32e && (cr4 & CR4_PCIDE) !== 0) {
    return guestFailure(VmEntryCheck.PcideOutsideIa32e, 'CR4.PCIDE=1 without "IA-32e mode guest"');
  }
  // "The CR3 field must be such that bits 63:52 and bits in the range 51:32 beyond the processor's
  // physical-address width are 0."
  const cr3 = vmcs.read(VmcsField.GuestCr3);
  if (cr3 >> BigInt(caps.maxPhysicalAddressBits) !== 0n) {
    return guestFailure(
      VmEntryCheck.Cr3Reserved,
      `CR3 ${hex(cr3)} sets bits above MAXPHYADDR ${caps.maxPhysicalAddressBits}`,
    );
  }
  // With "load IA32_EFER": "Bit 10 (LMA) must equal the value of the 'IA-32e mode guest' VM-entry control.
  // It must also be identical to bit 8 (LME) if bit 31 in the CR0 field (PG) is 1."
  if ((entry & EntryControl.LoadIa32Efer) !== 0) {
    const efer = vmcs.read(VmcsField.GuestIa32Efer);
    const lma = (efer & EFER_LMA) !== 0n;
    const lme = (efer & EFER_LME) !== 0n;
    if (lma !== ia32e || ((cr0 & CR0_PG) !== 0 && lma !== lme)) {
      return guestFailure(
        VmEntryCheck.EferLongModeMismatch,
        `EFER ${hex(efer)} disagrees with the IA-32e mode control`,
      );
    }
  }
  // §27.3.1.4: RFLAGS.
  const rflags = vmcs.read(VmcsField.GuestRflags);
  if ((rflags & RFLAGS_RESERVED) !== 0n || (rflags & 2n) === 0n) {
    return guestFailure(VmEntryCheck.Rflags, `RFLAGS ${hex(rflags)}: reserved bits, or bit 1 clear`);
  }
  if ((rflags & RFLAGS_VM) !== 0n && (ia32e || (cr0 & CR0_PE) === 0)) {
    return guestFailure(VmEntryCheck.Rflags, 'RFLAGS.VM=1 with "IA-32e mode guest" or CR0.PE=0');
  }
  // §27.3.1.6: with PAE paging outside IA-32e mode and EPT, the PDPTE fields are checked; a present one
  // must not set a reserved bit. The exit qualification is 2 (§27.8).
  if (ept && !ia32e && (cr0 & CR0_PG) !== 0 && (cr4 & CR4_PAE) !== 0) {
    const high = ~((1n << BigInt(caps.maxPhysicalAddressBits)) - 1n);
    for (let i = 0; i < 4; i++) {
      const pdpte = vmcs.read(PDPTE_FIELDS[i]);
      if ((pdpte & 1n) !== 0n && (pdpte & (PDPTE_RESERVED_LOW | high)) !== 0n) {
        return guestFailure(VmEntryCheck.Pdpte, `guest PDPTE${i} ${hex(pdpte)} sets reserved bits`, 2);
      }
    }
  }
  return PASS;
}
