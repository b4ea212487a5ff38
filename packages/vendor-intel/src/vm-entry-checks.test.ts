import { describe, expect, it } from 'vitest';
import { VmEntryCheck, vmEntryChecks } from './vm-entry-checks.js';
import { Vmcs, VmcsField } from './vmcs.js';
import type { VmxCapabilities } from './vmx-capabilities.js';
import { EntryControl, PrimaryControl, SecondaryControl } from './vmx-controls.js';

/*
 * Intel SDM vol. 3C chapter 27 (chapter 26 in the 2016 edition). Control-field failures (§27.2.1.1) are
 * VMfailValid with VM-instruction error 7; guest-state failures (§27.3.1) are VM exits with exit reason
 * 33 and bit 31 set (8000_0021h), exit qualification 0, or 2 for the PDPTEs (§27.8).
 */

const PE = 1;
const NE = 1 << 5;
const PG = 0x8000_0000;
const PAE = 1 << 5;
const VMXE = 1 << 13;
const PCIDE = 1 << 17;
/** WB (6), page-walk length 4 (bits 5:3 = 3), PML4 at 0x10_0000. */
const EPTP = 0x10_0000n | 6n | (3n << 3n);
const GUEST_STATE_FAILURE = 0x8000_0021;

/** A 64-bit guest with EPT, VPID 1 and unrestricted guest. */
function legalVmcs(): Vmcs {
  const vmcs = new Vmcs();
  vmcs.write(VmcsField.PrimaryProcessorControls, PrimaryControl.ActivateSecondaryControls);
  vmcs.write(
    VmcsField.SecondaryProcessorControls,
    SecondaryControl.EnableEpt | SecondaryControl.EnableVpid | SecondaryControl.UnrestrictedGuest,
  );
  vmcs.write(VmcsField.Vpid, 1);
  vmcs.write(VmcsField.Eptp, EPTP);
  vmcs.write(VmcsField.VmEntryControls, EntryControl.Ia32eModeGuest);
  vmcs.write(VmcsField.GuestCr0, (PG | NE | PE) >>> 0);
  vmcs.write(VmcsField.GuestCr4, VMXE | PAE);
  vmcs.write(VmcsField.GuestCr3, 0x20_0000);
  vmcs.write(VmcsField.GuestRflags, 0x2);
  return vmcs;
}

function check(vmcs: Vmcs, caps: VmxCapabilities = {}) {
  const r = vmEntryChecks(vmcs, caps);
  if (r.ok) return 'ok';
  return r.kind === 'fail-valid'
    ? { error: r.error, check: r.check }
    : { exitReason: r.exitReason, qualification: r.qualification, check: r.check };
}

const controlFailure = (c: VmEntryCheck) => ({ error: 7, check: c });
const guestFailure = (c: VmEntryCheck, qualification = 0) => ({
  exitReason: GUEST_STATE_FAILURE,
  qualification,
  check: c,
});

function setSecondary(vmcs: Vmcs, bits: number): void {
  vmcs.write(VmcsField.SecondaryProcessorControls, bits);
}

/** An unrestricted guest in real mode: CR0.PE=0, CR0.PG=0, not IA-32e. */
function realModeGuest(): Vmcs {
  const vmcs = legalVmcs();
  vmcs.write(VmcsField.VmEntryControls, 0);
  vmcs.write(VmcsField.GuestCr0, NE);
  vmcs.write(VmcsField.GuestCr4, VMXE);
  return vmcs;
}

describe('VM-entry checks on the controls (SDM vol. 3C §27.2.1.1): VMfailValid, error 7', () => {
  it('passes a legal VMCS', () => {
    expect(vmEntryChecks(legalVmcs())).toEqual({ ok: true });
  });

  it('"enable VPID" with VPID 0000H fails', () => {
    const vmcs = legalVmcs();
    vmcs.write(VmcsField.Vpid, 0);
    expect(check(vmcs)).toEqual(controlFailure(VmEntryCheck.VpidZero));
    setSecondary(vmcs, SecondaryControl.EnableEpt);
    expect(check(vmcs)).toBe('ok');
  });

  it('secondary controls count only with "activate secondary controls"', () => {
    const vmcs = legalVmcs();
    vmcs.write(VmcsField.Vpid, 0);
    vmcs.write(VmcsField.PrimaryProcessorControls, 0);
    expect(check(vmcs)).toBe('ok');
  });

  it('"unrestricted guest" without "enable EPT" fails', () => {
    const vmcs = legalVmcs();
    setSecondary(vmcs, SecondaryControl.EnableVpid | SecondaryControl.UnrestrictedGuest);
    expect(check(vmcs)).toEqual(controlFailure(VmEntryCheck.UnrestrictedGuestWithoutEpt));
  });

  it('an invalid EPTP fails: memory type, walk length, A/D without support, bits 11:8, bits above MAXPHYADDR', () => {
    const cases: Array<[bigint, VmxCapabilities]> = [
      [(EPTP & ~7n) | 2n, {}], // memory type 2
      [(EPTP & ~0x38n) | (1n << 3n), {}], // page-walk length 2
      [(EPTP & ~0x38n) | (4n << 3n), { fiveLevel: false }], // 5-level without support
      [EPTP | 0x40n, { accessedDirty: false }],
      [EPTP | 0x100n, {}],
      [EPTP | (1n << 46n), {}],
      [EPTP, { memoryTypeWb: false }],
      [EPTP & ~7n, { memoryTypeUc: false }],
    ];
    for (const [eptp, caps] of cases) {
      const vmcs = legalVmcs();
      vmcs.write(VmcsField.Eptp, eptp);
      expect(check(vmcs, caps), `EPTP 0x${eptp.toString(16)}`).toEqual(
        controlFailure(VmEntryCheck.InvalidEptp),
      );
    }
    const vmcs = legalVmcs();
    vmcs.write(VmcsField.Eptp, (EPTP & ~0x38n) | (4n << 3n) | 0x40n); // 5-level with A/D
    expect(check(vmcs)).toBe('ok');
  });

  it('controls the processor does not allow fail', () => {
    expect(check(legalVmcs(), { vpid: false })).toEqual(
      controlFailure(VmEntryCheck.UnsupportedSecondaryControl),
    );
    expect(check(legalVmcs(), { unrestrictedGuest: false })).toEqual(
      controlFailure(VmEntryCheck.UnsupportedSecondaryControl),
    );
  });

  it('control checks come before guest-state checks', () => {
    const vmcs = legalVmcs();
    vmcs.write(VmcsField.Vpid, 0);
    vmcs.write(VmcsField.GuestCr4, PAE); // VMXE clear: a guest-state failure too
    expect(check(vmcs)).toEqual(controlFailure(VmEntryCheck.VpidZero));
  });
});

describe('VM-entry checks on guest state (SDM vol. 3C §27.3.1): VM exit, reason 33 | bit 31', () => {
  it('CR0.PG=1 with CR0.PE=0 fails, even for an unrestricted guest', () => {
    const vmcs = legalVmcs();
    vmcs.write(VmcsField.VmEntryControls, 0);
    vmcs.write(VmcsField.GuestCr0, (PG | NE) >>> 0);
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.Cr0PagingWithoutProtection));
  });

  it('an unrestricted guest may run with PE=0 and PG=0 (real mode) or PE=1 and PG=0', () => {
    expect(check(realModeGuest())).toBe('ok');
    const vmcs = realModeGuest();
    vmcs.write(VmcsField.GuestCr0, NE | PE);
    expect(check(vmcs)).toBe('ok');
  });

  it('without unrestricted guest, PE=0 or PG=0 violate the CR0 fixed bits', () => {
    const vmcs = realModeGuest();
    setSecondary(vmcs, SecondaryControl.EnableEpt | SecondaryControl.EnableVpid);
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.Cr0FixedBits));
    vmcs.write(VmcsField.GuestCr0, NE | PE);
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.Cr0FixedBits));
    vmcs.write(VmcsField.GuestCr0, (NE | PE | PG) >>> 0);
    expect(check(vmcs)).toBe('ok');
  });

  it('CR0.NE stays fixed to 1 for an unrestricted guest; CD and NW are not checked', () => {
    const vmcs = realModeGuest();
    vmcs.write(VmcsField.GuestCr0, 0);
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.Cr0FixedBits));
    vmcs.write(VmcsField.GuestCr0, NE | (1 << 29) | (1 << 30));
    expect(check(vmcs, { cr0Fixed1: 0x9fff_ffff })).toBe('ok');
    vmcs.write(VmcsField.GuestCr0, (2n ** 32n) | BigInt(NE));
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.Cr0FixedBits));
  });

  it('CR4 fixed bits: VMXE must be 1, unsupported bits 0', () => {
    const vmcs = legalVmcs();
    vmcs.write(VmcsField.GuestCr4, PAE);
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.Cr4FixedBits));
    vmcs.write(VmcsField.GuestCr4, PAE | VMXE | (1 << 15));
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.Cr4FixedBits));
  });

  it('"IA-32e mode guest" needs CR0.PG=1 and CR4.PAE=1; CR4.PCIDE needs IA-32e mode', () => {
    const vmcs = legalVmcs();
    vmcs.write(VmcsField.GuestCr4, VMXE);
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.Ia32eWithoutPaging));
    const legacy = legalVmcs();
    legacy.write(VmcsField.VmEntryControls, 0);
    legacy.write(VmcsField.GuestCr4, VMXE | PAE | PCIDE);
    expect(check(legacy)).toEqual(guestFailure(VmEntryCheck.PcideOutsideIa32e));
  });

  it('CR3 bits beyond the physical-address width must be 0', () => {
    const vmcs = legalVmcs();
    vmcs.write(VmcsField.GuestCr3, 0x20_0000n | (1n << 46n));
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.Cr3Reserved));
    expect(check(vmcs, { maxPhysicalAddressBits: 52 })).toBe('ok');
  });

  it('with "load IA32_EFER", EFER.LMA must match "IA-32e mode guest", and LME too when CR0.PG=1', () => {
    const vmcs = legalVmcs();
    vmcs.write(VmcsField.VmEntryControls, EntryControl.Ia32eModeGuest | EntryControl.LoadIa32Efer);
    vmcs.write(VmcsField.GuestIa32Efer, 0x500); // LME | LMA
    expect(check(vmcs)).toBe('ok');
    vmcs.write(VmcsField.GuestIa32Efer, 0x100); // LME only
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.EferLongModeMismatch));
    vmcs.write(VmcsField.GuestIa32Efer, 0x400); // LMA without LME, paging on
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.EferLongModeMismatch));
  });

  it('RFLAGS: bit 1 must be 1, reserved bits 0; VM=1 fails with CR0.PE=0 or IA-32e mode', () => {
    const vmcs = legalVmcs();
    vmcs.write(VmcsField.GuestRflags, 0);
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.Rflags));
    vmcs.write(VmcsField.GuestRflags, 0x2 | (1 << 15));
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.Rflags));
    vmcs.write(VmcsField.GuestRflags, 0x2 | (1 << 17));
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.Rflags));
    const real = realModeGuest();
    real.write(VmcsField.GuestRflags, 0x2 | (1 << 17));
    expect(check(real)).toEqual(guestFailure(VmEntryCheck.Rflags));
    const v86 = realModeGuest();
    v86.write(VmcsField.GuestCr0, NE | PE);
    v86.write(VmcsField.GuestRflags, 0x2 | (1 << 17));
    expect(check(v86)).toBe('ok');
  });

  it('PAE paging with EPT: a present guest PDPTE with reserved bits fails with qualification 2', () => {
    const vmcs = legalVmcs();
    vmcs.write(VmcsField.VmEntryControls, 0);
    vmcs.write(VmcsField.GuestPdpte0, 0x30_0001);
    vmcs.write(VmcsField.GuestPdpte2, 0x30_0001 | (1 << 2)); // bit 2 reserved in a PAE PDPTE
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.Pdpte, 2));
    vmcs.write(VmcsField.GuestPdpte2, 0x30_0000 | (1 << 2)); // not present: not checked
    expect(check(vmcs)).toBe('ok');
    vmcs.write(VmcsField.GuestPdpte3, 0x30_0001n | (1n << 50n)); // above MAXPHYADDR
    expect(check(vmcs)).toEqual(guestFailure(VmEntryCheck.Pdpte, 2));
  });
});
