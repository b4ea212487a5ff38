import { describe, expect, it } from 'vitest';
import {
  crReadIntercept,
  crWriteIntercept,
  exceptionIntercept,
  NestedControl,
  SvmIntercept,
  VMCB_LAYOUT,
  Vmcb,
  type VmcbField,
} from './vmcb.js';
import { VmExitCode } from './vmexit-code.js';

/*
 * Expected offsets and widths are those of AMD APM vol. 2 Appendix B: Table B-1 (control area) and
 * Table B-2 (state save area, whose offsets are from 400h), restated here from the manual.
 */
const APM_TABLE_B: ReadonlyArray<readonly [VmcbField, number, number]> = [
  ['interceptCr', 0x000, 4],
  ['interceptDr', 0x004, 4],
  ['interceptExceptions', 0x008, 4],
  ['interceptMisc3', 0x00c, 4],
  ['interceptMisc4', 0x010, 4],
  ['interceptMisc5', 0x014, 4],
  ['pauseFilterThreshold', 0x03c, 2],
  ['pauseFilterCount', 0x03e, 2],
  ['iopmBasePa', 0x040, 8],
  ['msrpmBasePa', 0x048, 8],
  ['tscOffset', 0x050, 8],
  ['guestAsid', 0x058, 4],
  ['tlbControl', 0x05c, 1],
  ['virtualInterrupt', 0x060, 8],
  ['interruptShadow', 0x068, 8],
  ['exitCode', 0x070, 8],
  ['exitInfo1', 0x078, 8],
  ['exitInfo2', 0x080, 8],
  ['exitIntInfo', 0x088, 8],
  ['nestedControl', 0x090, 8],
  ['avicApicBar', 0x098, 8],
  ['ghcbGpa', 0x0a0, 8],
  ['eventInjection', 0x0a8, 8],
  ['nCr3', 0x0b0, 8],
  ['virtualizationExtensions', 0x0b8, 8],
  ['cleanBits', 0x0c0, 4],
  ['nRip', 0x0c8, 8],
  ['guestInstructionBytesFetched', 0x0d0, 1],
  // Table B-2: 400h + 010h (CS selector), 012h, 014h, 018h; 0CBh CPL; 0D0h EFER; 148h CR4; 150h CR3;
  // 158h CR0; 160h DR7; 168h DR6; 170h RFLAGS; 178h RIP; 1D8h RSP; 1F8h RAX; 240h CR2; 268h G_PAT.
  ['csSelector', 0x410, 2],
  ['csAttributes', 0x412, 2],
  ['csLimit', 0x414, 4],
  ['csBase', 0x418, 8],
  ['cpl', 0x4cb, 1],
  ['efer', 0x4d0, 8],
  ['cr4', 0x548, 8],
  ['cr3', 0x550, 8],
  ['cr0', 0x558, 8],
  ['dr7', 0x560, 8],
  ['dr6', 0x568, 8],
  ['rflags', 0x570, 8],
  ['rip', 0x578, 8],
  ['rsp', 0x5d8, 8],
  ['rax', 0x5f8, 8],
  ['cr2', 0x640, 8],
  ['gPat', 0x668, 8],
];

/** A value of `bytes` bytes whose every byte is distinct and nonzero. */
function pattern(index: number, bytes: number): bigint {
  let v = 0n;
  for (let b = 0; b < bytes; b++) v |= BigInt(((index * 8 + b) % 254) + 1) << BigInt(8 * b);
  return v;
}

function valueFor(field: VmcbField, index: number): number | bigint {
  const bytes = VMCB_LAYOUT[field].bytes;
  const v = pattern(index, bytes);
  return bytes === 8 ? v : Number(v);
}

describe('VMCB layout (AMD APM vol. 2 Appendix B)', () => {
  it('places every modelled field at the offset and width of Tables B-1 and B-2', () => {
    for (const [field, offset, bytes] of APM_TABLE_B) {
      expect({ field, offset: VMCB_LAYOUT[field].offset, bytes: VMCB_LAYOUT[field].bytes }).toEqual({
        field,
        offset,
        bytes,
      });
    }
    expect(Object.keys(VMCB_LAYOUT).sort()).toEqual(APM_TABLE_B.map(([f]) => f).sort());
  });

  it('round-trips every field, little-endian at its APM offset, without touching another', () => {
    const vmcb = new Vmcb();
    APM_TABLE_B.forEach(([field], i) => {
      vmcb.set(field, valueFor(field, i) as never);
    });
    const raw = new DataView(vmcb.bytes.buffer);
    APM_TABLE_B.forEach(([field, offset, bytes], i) => {
      const expected = valueFor(field, i);
      expect(vmcb.get(field)).toBe(expected);
      let fromBytes = 0n;
      for (let b = bytes - 1; b >= 0; b--) fromBytes = (fromBytes << 8n) | BigInt(raw.getUint8(offset + b));
      expect(fromBytes).toBe(BigInt(expected));
    });
  });

  it('stores EXITCODE VMEXIT_INVALID (-1) as all ones (APM vol. 2 Appendix C)', () => {
    const vmcb = new Vmcb();
    vmcb.exitCode = -1;
    expect(vmcb.get('exitCode')).toBe(0xffff_ffff_ffff_ffffn);
    expect(vmcb.exitCode).toBe(-1);
    vmcb.exitCode = 0x400;
    expect(vmcb.get('exitCode')).toBe(0x400n);
  });

  it('puts NP_ENABLE in bit 0 of 090h (APM vol. 2 §15.25.3) and keeps the other bits', () => {
    const vmcb = new Vmcb();
    vmcb.set('nestedControl', BigInt(NestedControl.GMET));
    vmcb.npEnable = true;
    expect(vmcb.bytes[0x90]).toBe(0b1001);
    expect(vmcb.npEnable).toBe(true);
    vmcb.npEnable = false;
    expect(vmcb.get('nestedControl')).toBe(8n);
  });

  it('rejects values that do not fit their field instead of truncating them', () => {
    const vmcb = new Vmcb();
    expect(() => vmcb.set('tlbControl', 0x100)).toThrow(RangeError);
    expect(() => vmcb.set('guestAsid', -1)).toThrow(RangeError);
    expect(() => vmcb.set('guestAsid', 1.5)).toThrow(RangeError);
    expect(() => vmcb.set('cr3', 2n ** 64n)).toThrow(RangeError);
    expect(() => vmcb.set('cr3', 5 as unknown as bigint)).toThrow(RangeError);
    expect(() => new Vmcb(new ArrayBuffer(1024))).toThrow(RangeError);
  });

  it('shares the page it is given', () => {
    const page = new ArrayBuffer(4096);
    const vmcb = new Vmcb(page);
    vmcb.asid = 0x1234;
    expect(new DataView(page).getUint32(0x58, true)).toBe(0x1234);
  });
});

describe('intercept vectors (APM vol. 2 Table B-1)', () => {
  // Each case: the intercept, the byte of the VMCB and the bit in it that Table B-1 assigns.
  const cases: ReadonlyArray<readonly [string, number, number, number]> = [
    ['CR0 read (000h bit 0)', crReadIntercept(0), 0x000, 0],
    ['CR3 write (000h bit 19)', crWriteIntercept(3), 0x002, 3],
    ['#PF (008h bit 14)', exceptionIntercept(14), 0x009, 6],
    ['INTR (00Ch bit 0)', SvmIntercept.INTR, 0x00c, 0],
    ['INVLPG (00Ch bit 25)', SvmIntercept.INVLPG, 0x00f, 1],
    ['INVLPGA (00Ch bit 26)', SvmIntercept.INVLPGA, 0x00f, 2],
    ['shutdown (00Ch bit 31)', SvmIntercept.SHUTDOWN, 0x00f, 7],
    ['VMRUN (010h bit 0)', SvmIntercept.VMRUN, 0x010, 0],
    ['VMMCALL (010h bit 1)', SvmIntercept.VMMCALL, 0x010, 1],
    ['INVPCID (014h bit 2)', SvmIntercept.INVPCID, 0x014, 2],
  ];
  for (const [name, intercept, byte, bit] of cases) {
    it(`sets ${name}`, () => {
      const vmcb = new Vmcb();
      vmcb.setIntercept(intercept);
      expect(vmcb.bytes[byte]).toBe(1 << bit);
      expect(vmcb.bytes.reduce((n, b) => n + (b === 0 ? 0 : 1), 0)).toBe(1);
      expect(vmcb.intercepted(intercept)).toBe(true);
      vmcb.setIntercept(intercept, false);
      expect(vmcb.intercepted(intercept)).toBe(false);
    });
  }

  it('numbers intercepts as their exit codes (the vectors and Table C-1 share one order)', () => {
    // APM Table C-1: 79h INVLPG, 7Ah INVLPGA, 80h VMRUN, 81h VMMCALL, 4Eh #PF, 13h CR3 write.
    expect(SvmIntercept.INVLPG).toBe(VmExitCode.INVLPG);
    expect(SvmIntercept.INVLPGA).toBe(0x7a);
    expect(SvmIntercept.VMRUN).toBe(0x80);
    expect(SvmIntercept.VMMCALL).toBe(0x81);
    expect(exceptionIntercept(14)).toBe(0x4e);
    expect(crWriteIntercept(3)).toBe(0x13);
  });

  it('rejects intercepts outside the vectors', () => {
    const vmcb = new Vmcb();
    expect(() => vmcb.setIntercept(0xc0)).toThrow(RangeError);
    expect(() => crReadIntercept(16)).toThrow(RangeError);
    expect(() => exceptionIntercept(32)).toThrow(RangeError);
  });
});
