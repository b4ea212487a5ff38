import { describe, expect, it } from 'vitest';
import {
  isCanonicalAddress,
  movToCr0Fault,
  movToCr3Fault,
  movToCr4Fault,
  reloadsPdptes,
} from './control-register-writes.js';
import { CpuState } from './cpu-state.js';

/* Expectations from SDM vol. 2B "MOV—Move to/from Control Registers", vol. 3A §2.5, §4.1.2, §4.4.1, §4.10.1. */

function state(cr0: number, cr4: number, efer: number, cr3 = 0x1000): CpuState {
  const s = new CpuState();
  s.setControlRegisters({ cr0, cr3, cr4, efer });
  return s;
}

const LONG = state(0x8000_0011, 0x20, 0x500);
const PAE = state(0x8000_0011, 0x20, 0);
const UNPAGED_LME = state(0x11, 0, 0x100);

describe('MOV to CR0', () => {
  it('#GP(0) for PG without PE, NW without CD, reserved bits 63:32 (SDM vol. 3A §2.5)', () => {
    expect(movToCr0Fault(PAE, 0x8000_0010n)).toMatch(/PE=0/);
    expect(movToCr0Fault(PAE, 0xa000_0011n)).toMatch(/NW=1/);
    expect(movToCr0Fault(PAE, 0x1_8000_0011n)).toMatch(/63:32/);
    expect(movToCr0Fault(PAE, 0x8001_0011n)).toBeNull();
  });
  it('#GP(0) setting PG with LME=1 and PAE=0, or clearing PG in 64-bit mode (SDM vol. 3A §4.1.2)', () => {
    expect(movToCr0Fault(UNPAGED_LME, 0x8000_0011n)).toMatch(/LME=1/);
    expect(movToCr0Fault(LONG, 0x11n)).toMatch(/64-bit mode/);
  });
});

describe('MOV to CR4', () => {
  it('#GP(0) clearing PAE or changing LA57 in IA-32e mode (SDM vol. 3A §4.1.2)', () => {
    expect(movToCr4Fault(LONG, 0n)).toMatch(/PAE/);
    expect(movToCr4Fault(LONG, 0x1020n)).toMatch(/LA57/);
    expect(movToCr4Fault(LONG, 0xa0n)).toBeNull();
  });
  it('#GP(0) setting PCIDE outside IA-32e mode or with CR3[11:0] not 0 (SDM vol. 3A §4.10.1)', () => {
    expect(movToCr4Fault(PAE, 0x2_0020n)).toMatch(/outside IA-32e/);
    expect(movToCr4Fault(state(0x8000_0011, 0x20, 0x500, 0x1005), 0x2_0020n)).toMatch(/CR3\[11:0\]/);
    expect(movToCr4Fault(LONG, 0x2_0020n)).toBeNull();
  });
});

describe('MOV to CR3', () => {
  it('bits 63:MAXPHYADDR are reserved in IA-32e mode, bit 63 only without PCIDE (SDM vol. 3A §4.10.4.1)', () => {
    expect(movToCr3Fault(LONG, 1n << 48n, 48)).toMatch(/reserved/);
    expect(movToCr3Fault(LONG, 1n << 63n, 48)).toMatch(/reserved/);
    const pcid = state(0x8000_0011, 0x2_0020, 0x500);
    expect(movToCr3Fault(pcid, (1n << 63n) | 0x2005n, 48)).toBeNull();
    expect(movToCr3Fault(LONG, 0xffff_f000n, 48)).toBeNull();
  });
});

describe('PDPTE reloads (SDM vol. 3A §4.4.1)', () => {
  it('happen when PAE paging is in use after a change of CD, NW, PG, PAE, PGE, PSE or SMEP', () => {
    const unpaged = state(0x11, 0x20, 0);
    expect(reloadsPdptes(unpaged, 0x8000_0011, 0x20)).toBe(true);
    expect(reloadsPdptes(PAE, 0x8000_0011, 0xa0)).toBe(true);
    expect(reloadsPdptes(PAE, 0x8001_0011, 0x20)).toBe(false); // WP only
    expect(reloadsPdptes(PAE, 0x11, 0x20)).toBe(false); // paging off afterwards
  });
});

describe('canonical addresses (SDM vol. 1 §3.3.7.1)', () => {
  it('bits 63:47 (63:56) are all equal', () => {
    expect(isCanonicalAddress(0x0000_7fff_ffff_f000n, 48)).toBe(true);
    expect(isCanonicalAddress(0xffff_8000_0000_0000n, 48)).toBe(true);
    expect(isCanonicalAddress(0x0000_8000_0000_0000n, 48)).toBe(false);
    expect(isCanonicalAddress(0x0000_8000_0000_0000n, 57)).toBe(true);
    expect(isCanonicalAddress(0x0100_0000_0000_0000n, 57)).toBe(false);
  });
});
