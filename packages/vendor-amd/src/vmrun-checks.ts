import { Cr0, Cr4, Efer } from '@hvsim/cpu-core';
import type { HostPagingState } from './npt-stage.js';
import { resolveSvmCapabilities, type SvmCapabilities } from './svm-capabilities.js';
import { NestedControl, SvmIntercept, type Vmcb } from './vmcb.js';
import { VMEXIT_INVALID } from './vmexit-code.js';

/*
 * The consistency checks of VMRUN that bear on paging and TLB tagging (AMD APM vol. 2 §15.5.1,
 * "Canonicalization and Consistency Checks", and §15.25.3-§15.25.4 and §15.25.14 for nested paging).
 * A failure is #VMEXIT with EXITCODE VMEXIT_INVALID. Not modelled: event injection (§15.20), the
 * IOPM/MSRPM range, CET state, and the PAE PDPE check without nested paging.
 */

/** The checks, by name; the order is the APM's. */
export const VmrunCheck = {
  /** Guest EFER.SVME is zero. */
  EferSvme: 'efer-svme',
  /** CR0.CD is zero and CR0.NW is set. */
  Cr0NwWithoutCd: 'cr0-nw-without-cd',
  /** CR0[63:32] are not zero. */
  Cr0High: 'cr0-high',
  /** An MBZ bit of CR3 is set (in long mode: the bits above MAXPHYADDR). */
  Cr3Mbz: 'cr3-mbz',
  /** An MBZ bit of CR4 is set. */
  Cr4Mbz: 'cr4-mbz',
  /** DR6[63:32] are not zero. */
  Dr6High: 'dr6-high',
  /** DR7[63:32] are not zero. */
  Dr7High: 'dr7-high',
  /** An MBZ bit of EFER is set. */
  EferMbz: 'efer-mbz',
  /** EFER.LMA or EFER.LME is set and the CPU has no long mode. */
  NoLongMode: 'no-long-mode',
  /** EFER.LME and CR0.PG are set and CR4.PAE is clear. */
  LongModeWithoutPae: 'long-mode-without-pae',
  /** EFER.LME and CR0.PG are set and CR0.PE is clear. */
  LongModeWithoutPe: 'long-mode-without-pe',
  /** EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D are all set. */
  CsLongAndDefault: 'cs-l-and-d',
  /** The VMRUN intercept is clear. */
  VmrunIntercept: 'vmrun-intercept',
  /** The guest ASID is zero (also §15.25.1). */
  AsidZero: 'asid-zero',
  /** NP_ENABLE with host CR0.PG=0 (§15.25.3). */
  NestedPagingWithoutHostPaging: 'np-without-host-paging',
  /** NP_ENABLE with an MBZ bit of nCR3 set (§15.25.4). */
  NCr3Mbz: 'ncr3-mbz',
  /** NP_ENABLE with an unsupported type or a reserved bit in G_PAT (§15.25.4). */
  GPat: 'g-pat',
  /** SSS checks enabled without nested paging (§15.25.14). */
  SssWithoutNestedPaging: 'sss-without-np',
} as const;
export type VmrunCheck = (typeof VmrunCheck)[keyof typeof VmrunCheck];

/** The outcome of the checks: pass, or #VMEXIT(VMEXIT_INVALID) with the check that failed. */
export type VmrunCheckResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly exitCode: typeof VMEXIT_INVALID;
      readonly check: VmrunCheck;
      readonly reason: string;
    };

const PASS: VmrunCheckResult = { ok: true };
const HIGH32 = 0xffff_ffff_0000_0000n;
const CD = BigInt(Cr0.CD);
const NW = 1n << 29n;
const PE = BigInt(Cr0.PE);
const PG = BigInt(Cr0.PG);
const PAE = BigInt(Cr4.PAE);
const LME = BigInt(Efer.LME);
const LMA = BigInt(Efer.LMA);
const SVME = BigInt(Efer.SVME);
const CS_L = 1 << 9;
const CS_D = 1 << 10;

function fail(check: VmrunCheck, reason: string): VmrunCheckResult {
  return { ok: false, exitCode: VMEXIT_INVALID, check, reason };
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/** Whether a G_PAT value is one WRMSR to PAT accepts: every byte a type of 0, 1, 4, 5, 6 or 7 (APM vol. 2 §7.8.1). */
export function isValidPat(pat: bigint): boolean {
  for (let i = 0n; i < 64n; i += 8n) {
    const entry = Number((pat >> i) & 0xffn);
    if (entry > 7 || entry === 2 || entry === 3) return false;
  }
  return true;
}

/**
 * The VMRUN consistency checks on `vmcb`, given the host's paging registers at VMRUN (for nested
 * paging) and the CPU's capabilities. Returns `{ ok: true }` or the first failing check in the APM's
 * order with VMEXIT_INVALID. Paged real mode (CR0.PE=0, CR0.PG=1, EFER.LME=0) passes: VMRUN may load
 * it (APM vol. 2 §15.19). TLB_CONTROL is not checked: the APM calls its undefined encodings reserved
 * but does not list them among the checks (see `applyTlbControl`).
 */
export function vmrunChecks(
  vmcb: Vmcb,
  host: HostPagingState,
  capabilities: SvmCapabilities = {},
): VmrunCheckResult {
  const caps = resolveSvmCapabilities(capabilities);
  const efer = vmcb.get('efer');
  const cr0 = vmcb.get('cr0');
  const cr3 = vmcb.get('cr3');
  const cr4 = vmcb.get('cr4');
  const longMode = (efer & LME) !== 0n && (cr0 & PG) !== 0n;

  // §15.5.1, in the order the APM lists them.
  if ((efer & SVME) === 0n) return fail(VmrunCheck.EferSvme, 'guest EFER.SVME is zero');
  if ((cr0 & CD) === 0n && (cr0 & NW) !== 0n)
    return fail(VmrunCheck.Cr0NwWithoutCd, 'CR0.NW=1 with CR0.CD=0');
  if ((cr0 & HIGH32) !== 0n) return fail(VmrunCheck.Cr0High, `CR0[63:32] not zero (${hex(cr0)})`);
  // CR3 bits above MAXPHYADDR are MBZ in long mode (APM vol. 2 §3.1.2); the low reserved bits are not
  // checked (kvm-unit-tests svm_tests.c test_cr3 expects VMRUN to accept them).
  if (longMode && cr3 >> BigInt(caps.maxPhysicalAddressBits) !== 0n) {
    return fail(
      VmrunCheck.Cr3Mbz,
      `CR3 ${hex(cr3)} sets bits above MAXPHYADDR ${caps.maxPhysicalAddressBits}`,
    );
  }
  if ((cr4 & ~BigInt(caps.cr4Bits)) !== 0n) {
    return fail(VmrunCheck.Cr4Mbz, `CR4 ${hex(cr4)} sets reserved bits ${hex(cr4 & ~BigInt(caps.cr4Bits))}`);
  }
  if ((vmcb.get('dr6') & HIGH32) !== 0n) return fail(VmrunCheck.Dr6High, 'DR6[63:32] not zero');
  if ((vmcb.get('dr7') & HIGH32) !== 0n) return fail(VmrunCheck.Dr7High, 'DR7[63:32] not zero');
  if ((efer & ~BigInt(caps.eferBits)) !== 0n) {
    return fail(
      VmrunCheck.EferMbz,
      `EFER ${hex(efer)} sets reserved bits ${hex(efer & ~BigInt(caps.eferBits))}`,
    );
  }
  if (!caps.longMode && (efer & (LME | LMA)) !== 0n) {
    return fail(VmrunCheck.NoLongMode, 'EFER.LME or EFER.LMA set on a CPU without long mode');
  }
  if (longMode && (cr4 & PAE) === 0n)
    return fail(VmrunCheck.LongModeWithoutPae, 'EFER.LME=1, CR0.PG=1, CR4.PAE=0');
  if (longMode && (cr0 & PE) === 0n)
    return fail(VmrunCheck.LongModeWithoutPe, 'EFER.LME=1, CR0.PG=1, CR0.PE=0');
  const cs = vmcb.get('csAttributes');
  if (longMode && (cr4 & PAE) !== 0n && (cs & CS_L) !== 0 && (cs & CS_D) !== 0) {
    return fail(VmrunCheck.CsLongAndDefault, 'EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D all set');
  }
  if (!vmcb.intercepted(SvmIntercept.VMRUN))
    return fail(VmrunCheck.VmrunIntercept, 'the VMRUN intercept is clear');
  if (vmcb.asid === 0) return fail(VmrunCheck.AsidZero, 'guest ASID 0 is the host’s (APM vol. 2 §15.25.1)');

  const nested = vmcb.get('nestedControl');
  if ((nested & BigInt(NestedControl.NP_ENABLE)) !== 0n) {
    // §15.25.3: nested paging only under host paging.
    if ((BigInt(host.cr0) & PG) === 0n) {
      return fail(VmrunCheck.NestedPagingWithoutHostPaging, 'NP_ENABLE=1 with host CR0.PG=0');
    }
    // §15.25.4: nCR3 is a host CR3; in a long-mode host its bits above MAXPHYADDR are MBZ.
    const hostLong = (BigInt(host.efer) & LME) !== 0n;
    const nCr3 = vmcb.get('nCr3');
    if (hostLong && nCr3 >> BigInt(caps.maxPhysicalAddressBits) !== 0n) {
      return fail(
        VmrunCheck.NCr3Mbz,
        `nCR3 ${hex(nCr3)} sets bits above MAXPHYADDR ${caps.maxPhysicalAddressBits}`,
      );
    }
    if (!isValidPat(vmcb.get('gPat')))
      return fail(VmrunCheck.GPat, `G_PAT ${hex(vmcb.get('gPat'))} is not a valid PAT`);
  } else if ((nested & BigInt(NestedControl.SSS)) !== 0n) {
    return fail(VmrunCheck.SssWithoutNestedPaging, 'SSS checks enabled with nested paging disabled');
  }
  return PASS;
}
