import { describe, expect, it } from 'vitest';
import {
  decodeVmcsEncoding,
  Vmcs,
  VmcsField,
  VmcsFieldError,
  VmcsFieldType,
  VmcsFieldWidth,
} from './vmcs.js';
import { VM_ENTRY_FAILURE, VmxExitReason, vmxExitReasonName } from './vmx-exit-reason.js';
import { VmInstructionError } from './vmx-result.js';

describe('VMCS field encodings (Intel SDM vol. 3C Appendix B)', () => {
  it('has the encodings of Appendix B', () => {
    expect(VmcsField.Vpid).toBe(0x0000);
    expect(VmcsField.Eptp).toBe(0x201a);
    expect(VmcsField.GuestPhysicalAddress).toBe(0x2400);
    expect([
      VmcsField.GuestPdpte0,
      VmcsField.GuestPdpte1,
      VmcsField.GuestPdpte2,
      VmcsField.GuestPdpte3,
    ]).toEqual([0x280a, 0x280c, 0x280e, 0x2810]);
    expect(VmcsField.PinBasedControls).toBe(0x4000);
    expect(VmcsField.PrimaryProcessorControls).toBe(0x4002);
    expect(VmcsField.SecondaryProcessorControls).toBe(0x401e);
    expect(VmcsField.VmEntryControls).toBe(0x4012);
    expect(VmcsField.VmInstructionError).toBe(0x4400);
    expect(VmcsField.ExitReason).toBe(0x4402);
    expect(VmcsField.ExitQualification).toBe(0x6400);
    expect(VmcsField.GuestLinearAddress).toBe(0x640a);
    expect(VmcsField.GuestCr0).toBe(0x6800);
    expect(VmcsField.GuestCr3).toBe(0x6802);
    expect(VmcsField.GuestCr4).toBe(0x6804);
    expect(VmcsField.GuestRflags).toBe(0x6820);
  });

  it('decodes width (bits 14:13), type (11:10), index (9:1) and access type (bit 0) per §25.11.2', () => {
    expect(decodeVmcsEncoding(0x0000)).toEqual({
      field: 0,
      high: false,
      index: 0,
      type: VmcsFieldType.Control,
      width: VmcsFieldWidth.Bits16,
      bits: 16,
      accessBits: 16,
    });
    expect(decodeVmcsEncoding(0x201a)).toMatchObject({
      index: 13,
      type: VmcsFieldType.Control,
      width: VmcsFieldWidth.Bits64,
      bits: 64,
    });
    expect(decodeVmcsEncoding(0x201b)).toMatchObject({ field: 0x201a, high: true, accessBits: 32 });
    expect(decodeVmcsEncoding(0x4402)).toMatchObject({
      index: 1,
      type: VmcsFieldType.ExitInformation,
      bits: 32,
    });
    expect(decodeVmcsEncoding(0x6820)).toMatchObject({
      index: 0x10,
      type: VmcsFieldType.GuestState,
      width: VmcsFieldWidth.Natural,
      bits: 64,
    });
    expect(decodeVmcsEncoding(0x6c16)).toMatchObject({ index: 0xb, type: VmcsFieldType.HostState });
  });

  it('refuses encodings that name no field: high access on a non-64-bit field, reserved bits 12 and 31:15', () => {
    expect(decodeVmcsEncoding(0x4403)).toBeNull(); // high access of a 32-bit field
    expect(decodeVmcsEncoding(0x0001)).toBeNull(); // high access of a 16-bit field
    expect(decodeVmcsEncoding(0x6801)).toBeNull(); // high access of a natural-width field
    expect(decodeVmcsEncoding(0x1000)).toBeNull();
    expect(decodeVmcsEncoding(0x8000)).toBeNull();
    expect(decodeVmcsEncoding(0x1_4402)).toBeNull();
  });

  it('every named field decodes to a full-access encoding of its Appendix B section', () => {
    for (const [name, encoding] of Object.entries(VmcsField)) {
      const e = decodeVmcsEncoding(encoding);
      expect(e, name).not.toBeNull();
      expect(e?.high, name).toBe(false);
      // B.1: 0xxxh 16-bit; B.2: 2xxxh 64-bit; B.3: 4xxxh 32-bit; B.4: 6xxxh natural-width.
      expect(e?.bits, name).toBe([16, 64, 32, 64][encoding >> 13]);
    }
  });
});

describe('Vmcs', () => {
  it('round-trips fields of every width, and a 64-bit field through its high access', () => {
    const vmcs = new Vmcs();
    vmcs.write(VmcsField.Vpid, 0xffff);
    vmcs.write(VmcsField.SecondaryProcessorControls, 0xffff_ffff);
    vmcs.write(VmcsField.Eptp, 0x1234_5678_9abc_d01en);
    vmcs.write(VmcsField.GuestCr3, 0xffff_ffff_ffff_f000n);
    expect(vmcs.read(VmcsField.Vpid)).toBe(0xffffn);
    expect(vmcs.readNumber(VmcsField.SecondaryProcessorControls)).toBe(0xffff_ffff);
    expect(vmcs.read(VmcsField.Eptp + 1)).toBe(0x1234_5678n);
    vmcs.write(VmcsField.Eptp + 1, 0xabcd);
    expect(vmcs.read(VmcsField.Eptp)).toBe(0x0000_abcd_9abc_d01en);
    expect(vmcs.read(VmcsField.GuestCr3)).toBe(0xffff_ffff_ffff_f000n);
  });

  it('checks values against the width the encoding gives', () => {
    const vmcs = new Vmcs();
    expect(() => vmcs.write(VmcsField.Vpid, 0x1_0000)).toThrow(RangeError);
    expect(() => vmcs.write(VmcsField.ExitReason, 2 ** 32)).toThrow(RangeError);
    expect(() => vmcs.write(VmcsField.Eptp + 1, 2 ** 32)).toThrow(RangeError);
    expect(() => vmcs.write(VmcsField.GuestCr0, 2n ** 64n)).toThrow(RangeError);
    expect(() => vmcs.write(VmcsField.GuestCr0, -1)).toThrow(RangeError);
    expect(() => vmcs.readNumber(VmcsField.Eptp)).toThrow(RangeError);
  });

  it('fails unknown encodings with VM-instruction error 12 (VMREAD/VMWRITE of an unsupported component)', () => {
    const vmcs = new Vmcs();
    expect(() => vmcs.read(0x4403)).toThrow(VmcsFieldError);
    const thrown = (() => {
      try {
        vmcs.read(0x2ffe); // a 64-bit host-state encoding no processor defines
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(VmcsFieldError);
    expect((thrown as VmcsFieldError).instructionError).toBe(12);
    expect(vmcs.vmread(0x4ffe)).toMatchObject({ status: 'fail-valid', error: 12 });
    expect(vmcs.vmwrite(0x1000, 1)).toMatchObject({ status: 'fail-valid', error: 12 });
    const small = new Vmcs([VmcsField.Vpid, VmcsField.GuestCr0]);
    expect(small.supports(VmcsField.Vpid)).toBe(true);
    expect(small.vmread(VmcsField.Eptp)).toMatchObject({ status: 'fail-valid', error: 12 });
    expect(small.fields()).toEqual([VmcsField.Vpid, VmcsField.GuestCr0]);
    expect(() => new Vmcs([0x4403])).toThrow(VmcsFieldError);
  });

  it('VMWRITE to a VM-exit information field fails with error 13 unless the processor allows it', () => {
    const vmcs = new Vmcs();
    expect(vmcs.vmwrite(VmcsField.ExitReason, 48)).toMatchObject({ status: 'fail-valid', error: 13 });
    expect(vmcs.vmwrite(VmcsField.ExitQualification, 1)).toMatchObject({ status: 'fail-valid', error: 13 });
    expect(vmcs.vmwrite(VmcsField.ExitReason, 48, true)).toEqual({ status: 'succeed' });
    expect(vmcs.vmread(VmcsField.ExitReason)).toEqual({ status: 'succeed', value: 48n });
  });

  it('VMWRITE ignores the source bits the field cannot hold', () => {
    const vmcs = new Vmcs();
    expect(vmcs.vmwrite(VmcsField.Vpid, 0x1_2345)).toEqual({ status: 'succeed' });
    expect(vmcs.read(VmcsField.Vpid)).toBe(0x2345n);
    vmcs.vmwrite(VmcsField.PrimaryProcessorControls, 0xffff_ffff_8000_0000n);
    expect(vmcs.read(VmcsField.PrimaryProcessorControls)).toBe(0x8000_0000n);
  });
});

describe('exit reasons and VM-instruction errors (SDM vol. 3C Appendix C, §31.4)', () => {
  it('has the numbers of the manual', () => {
    expect(VmxExitReason.ExceptionOrNmi).toBe(0);
    expect(VmxExitReason.Invlpg).toBe(14);
    expect(VmxExitReason.Vmcall).toBe(18);
    expect(VmxExitReason.ControlRegisterAccess).toBe(28);
    expect(VmxExitReason.EntryFailureGuestState).toBe(33);
    expect(VmxExitReason.EntryFailureMsrLoading).toBe(34);
    expect(VmxExitReason.EptViolation).toBe(48);
    expect(VmxExitReason.EptMisconfiguration).toBe(49);
    expect(VmxExitReason.Invept).toBe(50);
    expect(VmxExitReason.Invvpid).toBe(53);
    expect(VmxExitReason.Invpcid).toBe(58);
    expect(VM_ENTRY_FAILURE).toBe(2 ** 31);
    expect(VmInstructionError.EntryInvalidControlFields).toBe(7);
    expect(VmInstructionError.EntryInvalidHostState).toBe(8);
    expect(VmInstructionError.UnsupportedVmcsComponent).toBe(12);
    expect(VmInstructionError.VmwriteReadOnlyComponent).toBe(13);
    expect(VmInstructionError.InvalidInveptInvvpidOperand).toBe(28);
  });

  it('numbers the EPT-related reasons as SDM vol. 3C Appendix C does', () => {
    expect([
      VmxExitReason.EptViolation,
      VmxExitReason.EptMisconfiguration,
      VmxExitReason.Invept,
      VmxExitReason.Invvpid,
    ]).toEqual([48, 49, 50, 53]);
  });

  it('names reasons, ignoring the entry-failure bit', () => {
    expect(vmxExitReasonName(48)).toBe('EptViolation');
    expect(vmxExitReasonName(0x8000_0021)).toBe('EntryFailureGuestState');
    expect(vmxExitReasonName(99)).toBe('exit reason 99');
  });
});
