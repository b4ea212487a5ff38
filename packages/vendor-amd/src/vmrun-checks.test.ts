import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST_PAGING, type HostPagingState } from './npt-stage.js';
import { NestedControl, SvmIntercept, Vmcb } from './vmcb.js';
import { isValidPat, VmrunCheck, vmrunChecks } from './vmrun-checks.js';

/*
 * Each case follows AMD APM vol. 2 §15.5.1 "Canonicalization and Consistency Checks" (the list of
 * illegal state combinations), §15.25.3-§15.25.4 (nested paging), §15.25.14 (SSS) and §15.19 (paged
 * real mode). Where kvm-unit-tests x86/svm_tests.c tests the same rule on hardware, its expectation
 * agrees (asid_zero, test_cr0, test_cr3, test_cr4, test_efer, test_ncr3).
 */

const PE = 1n;
const ET = 1n << 4n;
const NW = 1n << 29n;
const CD = 1n << 30n;
const PG = 1n << 31n;
const PAE = 1n << 5n;
const LME = 1n << 8n;
const LMA = 1n << 10n;
const NXE = 1n << 11n;
const SVME = 1n << 12n;
const CS_L = 1 << 9;
const CS_D = 1 << 10;
/** The power-on PAT: WB, WT, UC-, UC, repeated (APM vol. 2 §7.8.1). */
const POWER_ON_PAT = 0x0007_0406_0007_0406n;

/** A legal 64-bit guest with nested paging, ASID 1, the VMRUN intercept set. */
function legalVmcb(): Vmcb {
  const vmcb = new Vmcb();
  vmcb.set('efer', SVME | LME | LMA | NXE);
  vmcb.set('cr0', PE | ET | PG);
  vmcb.set('cr4', PAE);
  vmcb.set('cr3', 0x10_0000n);
  vmcb.set('csAttributes', 0x9b | CS_L); // present, 64-bit code segment
  vmcb.set('dr6', 0xffff_0ff0n);
  vmcb.set('dr7', 0x400n);
  vmcb.set('gPat', POWER_ON_PAT);
  vmcb.set('nCr3', 0x20_0000n);
  vmcb.npEnable = true;
  vmcb.setIntercept(SvmIntercept.VMRUN);
  vmcb.asid = 1;
  return vmcb;
}

function check(vmcb: Vmcb, host: HostPagingState = DEFAULT_HOST_PAGING) {
  const r = vmrunChecks(vmcb, host);
  return r.ok ? 'ok' : r.check;
}

describe('vmrunChecks (APM vol. 2 §15.5.1)', () => {
  it('passes a legal guest', () => {
    expect(vmrunChecks(legalVmcb(), DEFAULT_HOST_PAGING)).toEqual({ ok: true });
  });

  it('fails with VMEXIT_INVALID (-1) and says which check', () => {
    const vmcb = legalVmcb();
    vmcb.asid = 0;
    const r = vmrunChecks(vmcb, DEFAULT_HOST_PAGING);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.exitCode).toBe(-1);
      expect(r.check).toBe(VmrunCheck.AsidZero);
      expect(r.reason).toMatch(/ASID 0/);
    }
  });

  it('ASID 0 is the host’s: VMRUN with guest ASID 0 fails (§15.25.1; KUT asid_zero)', () => {
    const vmcb = legalVmcb();
    vmcb.asid = 0;
    expect(check(vmcb)).toBe(VmrunCheck.AsidZero);
    vmcb.asid = 0xffff_ffff;
    expect(check(vmcb)).toBe('ok');
  });

  it('EFER.SVME must be set in the guest EFER', () => {
    const vmcb = legalVmcb();
    vmcb.set('efer', LME | LMA | NXE);
    expect(check(vmcb)).toBe(VmrunCheck.EferSvme);
  });

  it('CR0: NW=1 with CD=0 fails; CD=1,NW=1 and CD=1,NW=0 pass (KUT test_cr0)', () => {
    const vmcb = legalVmcb();
    vmcb.set('cr0', PE | ET | PG | NW);
    expect(check(vmcb)).toBe(VmrunCheck.Cr0NwWithoutCd);
    vmcb.set('cr0', PE | ET | PG | NW | CD);
    expect(check(vmcb)).toBe('ok');
    vmcb.set('cr0', PE | ET | PG | CD);
    expect(check(vmcb)).toBe('ok');
  });

  it('CR0[63:32] must be zero, every bit of them', () => {
    for (let bit = 32n; bit < 64n; bit++) {
      const vmcb = legalVmcb();
      vmcb.set('cr0', PE | ET | PG | (1n << bit));
      expect(check(vmcb), `bit ${bit}`).toBe(VmrunCheck.Cr0High);
    }
  });

  it('CR3 in long mode: bits 63:52 and those above MAXPHYADDR are MBZ; bits 11:5 and 2:0 are not checked', () => {
    for (let bit = 48n; bit < 64n; bit++) {
      const vmcb = legalVmcb();
      vmcb.set('cr3', 0x10_0000n | (1n << bit));
      expect(check(vmcb), `bit ${bit}`).toBe(VmrunCheck.Cr3Mbz);
    }
    const vmcb = legalVmcb();
    vmcb.set('cr3', 0x10_0000n | 0xfe7n);
    expect(check(vmcb)).toBe('ok');
    vmcb.set('cr3', (1n << 47n) | 0x1000n);
    expect(check(vmcb)).toBe('ok');
    // A CPU with 52 physical-address bits accepts bits 51:48.
    vmcb.set('cr3', 1n << 51n);
    expect(vmrunChecks(vmcb, DEFAULT_HOST_PAGING, { maxPhysicalAddressBits: 52 }).ok).toBe(true);
  });

  it('CR4: the reserved bits are MBZ (VMXE, SMXE, 15, 19, 24-63)', () => {
    for (const bit of [13n, 14n, 15n, 19n, 24n, 31n, 32n, 63n]) {
      const vmcb = legalVmcb();
      vmcb.set('cr4', PAE | (1n << bit));
      expect(check(vmcb), `bit ${bit}`).toBe(VmrunCheck.Cr4Mbz);
    }
    const vmcb = legalVmcb();
    vmcb.set('cr4', PAE | (1n << 7n) | (1n << 12n) | (1n << 17n) | (1n << 20n) | (1n << 21n)); // PGE LA57 PCIDE SMEP SMAP
    expect(check(vmcb)).toBe('ok');
  });

  it('DR6[63:32] and DR7[63:32] must be zero', () => {
    const vmcb = legalVmcb();
    vmcb.set('dr6', 1n << 40n);
    expect(check(vmcb)).toBe(VmrunCheck.Dr6High);
    vmcb.set('dr6', 0xffff_0ff0n);
    vmcb.set('dr7', 1n << 63n);
    expect(check(vmcb)).toBe(VmrunCheck.Dr7High);
  });

  it('EFER: reserved bits are MBZ; long mode bits on a CPU without long mode fail', () => {
    const vmcb = legalVmcb();
    vmcb.set('efer', SVME | LME | LMA | NXE | (1n << 40n));
    expect(check(vmcb)).toBe(VmrunCheck.EferMbz);
    vmcb.set('efer', SVME | LME | LMA | NXE);
    expect(vmrunChecks(vmcb, DEFAULT_HOST_PAGING, { longMode: false }).ok).toBe(false);
    const legacy = legalVmcb();
    legacy.set('efer', SVME);
    expect(vmrunChecks(legacy, DEFAULT_HOST_PAGING, { longMode: false }).ok).toBe(true);
  });

  it('EFER.LME and CR0.PG with CR4.PAE=0 fail', () => {
    const vmcb = legalVmcb();
    vmcb.set('cr4', 0n);
    expect(check(vmcb)).toBe(VmrunCheck.LongModeWithoutPae);
  });

  it('EFER.LME and CR0.PG with CR0.PE=0 fail (KUT expects SVM_EXIT_ERR for LME=1, PG=1, PE=0)', () => {
    const vmcb = legalVmcb();
    vmcb.set('cr0', ET | PG);
    expect(check(vmcb)).toBe(VmrunCheck.LongModeWithoutPe);
  });

  it('paged real mode, CR0.PE=0 with CR0.PG=1 and EFER.LME=0, is legal (§15.19)', () => {
    const vmcb = legalVmcb();
    vmcb.set('efer', SVME);
    vmcb.set('cr0', ET | PG);
    vmcb.set('cr4', 0n);
    vmcb.set('csAttributes', 0x93);
    expect(check(vmcb)).toBe('ok');
    vmcb.set('cr4', PAE); // paged real mode over PAE tables
    expect(check(vmcb)).toBe('ok');
  });

  it('EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D all set fail; any one clear passes', () => {
    const vmcb = legalVmcb();
    vmcb.set('csAttributes', 0x9b | CS_L | CS_D);
    expect(check(vmcb)).toBe(VmrunCheck.CsLongAndDefault);
    vmcb.set('csAttributes', 0x9b | CS_D); // compatibility mode, 32-bit code
    expect(check(vmcb)).toBe('ok');
  });

  it('the VMRUN intercept must be set', () => {
    const vmcb = legalVmcb();
    vmcb.setIntercept(SvmIntercept.VMRUN, false);
    expect(check(vmcb)).toBe(VmrunCheck.VmrunIntercept);
  });
});

describe('vmrunChecks with nested paging (APM vol. 2 §15.25.3-§15.25.4, §15.25.14)', () => {
  it('NP_ENABLE with host CR0.PG=0 fails; without NP an unpaged host may run a guest', () => {
    const unpagedHost: HostPagingState = { cr0: 0x11, cr4: 0, efer: Number(SVME) };
    const vmcb = legalVmcb();
    expect(check(vmcb, unpagedHost)).toBe(VmrunCheck.NestedPagingWithoutHostPaging);
    vmcb.npEnable = false;
    expect(check(vmcb, unpagedHost)).toBe('ok');
  });

  it('nCR3 MBZ bits fail only with NP_ENABLE (KUT test_ncr3)', () => {
    const vmcb = legalVmcb();
    vmcb.set('nCr3', 0x20_0000n | (1n << 52n));
    expect(check(vmcb)).toBe(VmrunCheck.NCr3Mbz);
    vmcb.npEnable = false;
    expect(check(vmcb)).toBe('ok');
  });

  it('G_PAT: types 2 and 3 and reserved bits fail only with NP_ENABLE', () => {
    expect(isValidPat(POWER_ON_PAT)).toBe(true);
    expect(isValidPat(0x0706_0504_0100_0706n)).toBe(true);
    const vmcb = legalVmcb();
    vmcb.set('gPat', POWER_ON_PAT | (2n << 24n)); // byte 3: UC (0) becomes type 2, reserved
    expect(check(vmcb)).toBe(VmrunCheck.GPat);
    vmcb.set('gPat', 0x0000_0000_0000_0003n);
    expect(check(vmcb)).toBe(VmrunCheck.GPat);
    vmcb.set('gPat', 0x0000_0000_0000_0800n); // bit 11: a reserved bit of entry 1
    expect(check(vmcb)).toBe(VmrunCheck.GPat);
    vmcb.npEnable = false;
    expect(check(vmcb)).toBe('ok');
  });

  it('SSS checks without nested paging fail (§15.25.14)', () => {
    const vmcb = legalVmcb();
    vmcb.set('nestedControl', BigInt(NestedControl.SSS));
    expect(check(vmcb)).toBe(VmrunCheck.SssWithoutNestedPaging);
    vmcb.set('nestedControl', BigInt(NestedControl.SSS | NestedControl.NP_ENABLE));
    expect(check(vmcb)).toBe('ok');
  });
});
