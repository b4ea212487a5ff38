import { describe, expect, it } from 'vitest';
import {
  hasSvmFeature,
  RECENT_SVM,
  resolveSvmCapabilities,
  SvmFeature,
  svmCpuid,
} from './svm-capabilities.js';

// CPUID Fn8000_000A (AMD APM vol. 3 Appendix E): EAX[7:0] SvmRev, EBX NASID, ECX reserved, EDX features
// at these bit positions: NP 0, LbrVirt 1, SVML 2, NRIPS 3, TscRateMsr 4, VmcbClean 5, FlushByAsid 6,
// DecodeAssists 7, PauseFilter 10, PauseFilterThreshold 12, AVIC 13, VMSAVEvirt 15, VGIF 16, GMET 17,
// x2AVIC 18, SSSCheck 19, SpecCtrl 20, ROGPT 21, HOST_MCE_OVERRIDE 23, TlbiCtl 24, VNMI 25.
describe('SVM capabilities and CPUID Fn8000_000A', () => {
  it('places the feature bits where the APM does', () => {
    expect(SvmFeature.NP).toBe(1 << 0);
    expect(SvmFeature.FlushByAsid).toBe(1 << 6);
    expect(SvmFeature.DecodeAssists).toBe(1 << 7);
    expect(SvmFeature.GMET).toBe(1 << 17); // APM vol. 2 §15.25.13: "CPUID Fn8000_000A EDX[17]"
    expect(SvmFeature.SSSCheck).toBe(1 << 19); // §15.25.14
    expect(SvmFeature.ROGPT).toBe(1 << 21); // §15.25.5: "CPUID Fn8000000A_EDX[ROGPT] (bit 21)"
    expect(SvmFeature.VNMI).toBe(1 << 25);
  });

  it('returns the registers of the default part', () => {
    const expectedEdx =
      (1 << 0) | // NP
      (1 << 1) | // LbrVirt
      (1 << 2) | // SVML
      (1 << 3) | // NRIPS
      (1 << 4) | // TscRateMsr
      (1 << 5) | // VmcbClean
      (1 << 6) | // FlushByAsid
      (1 << 7) | // DecodeAssists
      (1 << 10) | // PauseFilter
      (1 << 12) | // PauseFilterThreshold
      (1 << 13) | // AVIC
      (1 << 15) | // VMSAVEvirt
      (1 << 16) | // VGIF
      (1 << 18) | // x2AVIC
      (1 << 20) | // SpecCtrl
      (1 << 25); // VNMI
    expect(svmCpuid()).toEqual({ eax: 1, ebx: 32768, ecx: 0, edx: expectedEdx });
  });

  it('follows the options', () => {
    const regs = svmCpuid({ asidCount: 64, features: { FlushByAsid: false, GMET: true, ROGPT: true } });
    expect(regs.ebx).toBe(64);
    expect(regs.edx & (1 << 6)).toBe(0);
    expect(regs.edx & (1 << 17)).toBe(1 << 17);
    expect(regs.edx & (1 << 21)).toBe(1 << 21);
    const caps = resolveSvmCapabilities({ features: { NP: false } });
    expect(hasSvmFeature(caps, 'NP')).toBe(false);
    expect(hasSvmFeature(caps, 'FlushByAsid')).toBe(true);
    expect(resolveSvmCapabilities()).toEqual(RECENT_SVM);
  });

  it('rejects impossible numbers', () => {
    expect(() => resolveSvmCapabilities({ asidCount: 0 })).toThrow(RangeError);
    expect(() => resolveSvmCapabilities({ revision: 256 })).toThrow(RangeError);
    expect(() => resolveSvmCapabilities({ maxPhysicalAddressBits: 53 })).toThrow(RangeError);
  });
});
