import { describe, expect, it } from 'vitest';
import { VMEXIT_NPF } from './npt-stage.js';
import {
  crReadExitCode,
  crWriteExitCode,
  crWriteTrapExitCode,
  drReadExitCode,
  drWriteExitCode,
  exceptionExitCode,
  VMEXIT_INVALID,
  VmExitCode,
  vmExitCodeName,
} from './vmexit-code.js';

// AMD APM vol. 2 Appendix C, Table C-1 "SVM Intercept Codes".
describe('#VMEXIT codes (APM vol. 2 Table C-1)', () => {
  it('has the codes of the table', () => {
    expect(VMEXIT_INVALID).toBe(-1);
    expect(VmExitCode.INVALID).toBe(-1);
    expect(VmExitCode.NPF).toBe(0x400);
    expect(VmExitCode.NPF).toBe(VMEXIT_NPF);
    expect(VmExitCode.INVLPG).toBe(0x79);
    expect(VmExitCode.INVLPGA).toBe(0x7a);
    expect(VmExitCode.VMRUN).toBe(0x80);
    expect(VmExitCode.VMMCALL).toBe(0x81);
    expect(VmExitCode.INTR).toBe(0x60);
    expect(VmExitCode.CPUID).toBe(0x72);
    expect(VmExitCode.HLT).toBe(0x78);
    expect(VmExitCode.SHUTDOWN).toBe(0x7f);
    expect(VmExitCode.INVPCID).toBe(0xa2);
  });

  it('numbers the ranges: CRn read 0h+n, write 10h+n, DRn 20h+n/30h+n, exceptions 40h+vector, write traps 90h+n', () => {
    expect(crReadExitCode(0)).toBe(0x00);
    expect(crReadExitCode(3)).toBe(0x03);
    expect(crWriteExitCode(0)).toBe(0x10);
    expect(crWriteExitCode(8)).toBe(0x18);
    expect(drReadExitCode(7)).toBe(0x27);
    expect(drWriteExitCode(7)).toBe(0x37);
    expect(exceptionExitCode(14)).toBe(0x4e); // #PF
    expect(exceptionExitCode(6)).toBe(0x46); // #UD
    expect(exceptionExitCode(31)).toBe(0x5f);
    expect(crWriteTrapExitCode(3)).toBe(0x93);
    expect(() => exceptionExitCode(32)).toThrow(RangeError);
    expect(() => crWriteExitCode(-1)).toThrow(RangeError);
  });

  it('names codes for reports', () => {
    expect(vmExitCodeName(0x400)).toBe('NPF');
    expect(vmExitCodeName(-1)).toBe('INVALID');
    expect(vmExitCodeName(0x13)).toBe('CR3_WRITE');
    expect(vmExitCodeName(0x1c)).toBe('CR12_WRITE');
    expect(vmExitCodeName(0x41)).toBe('EXCP_1');
    expect(vmExitCodeName(0x9f)).toBe('CR15_WRITE_TRAP');
    expect(vmExitCodeName(0x555)).toBe('0x555');
  });
});
