import type { CpuState } from './cpu-state.js';
import { PagingMode, pagingModeOf } from './paging-mode.js';
import { Cr0, Cr4, Efer } from './registers.js';

/*
 * The checks MOV to a control register makes before it writes (Intel SDM vol. 2B, "MOV—Move to/from
 * Control Registers", Protected Mode and 64-Bit Mode Exceptions; vol. 3A §2.5, §4.1.2; AMD APM vol. 2
 * §3.1): each returns why the write raises #GP(0), or null when it completes. The CPU is taken to run
 * 64-bit code whenever IA-32e mode is active (a flat 64-bit code segment), and at CPL 0.
 */

const TWO_32 = 1n << 32n;

/** Whether a 64-bit linear address is canonical for `bits`-bit linear addresses: bits 63:bits-1 all equal (SDM vol. 1 §3.3.7.1). */
export function isCanonicalAddress(address: bigint, bits: number): boolean {
  const top = BigInt.asUintN(64, address) >> BigInt(bits - 1);
  return top === 0n || top === (1n << BigInt(65 - bits)) - 1n;
}

/** Why MOV to CR0 of `value` raises #GP(0), or null. */
export function movToCr0Fault(state: CpuState, value: bigint): string | null {
  if (value >= TWO_32) return 'bits 63:32 of CR0 are reserved';
  const cr0 = Number(value);
  const pg = (cr0 & Cr0.PG) !== 0;
  if (pg && (cr0 & Cr0.PE) === 0) return 'CR0.PG=1 with CR0.PE=0 (SDM vol. 3A §2.5)';
  if ((cr0 & Cr0.NW) !== 0 && (cr0 & Cr0.CD) === 0) return 'CR0.NW=1 with CR0.CD=0 (SDM vol. 3A §2.5)';
  const lme = (state.efer & Efer.LME) !== 0;
  if (pg && !(state.cr0 & Cr0.PG) && lme && (state.cr4 & Cr4.PAE) === 0) {
    return 'setting CR0.PG with EFER.LME=1 and CR4.PAE=0 (SDM vol. 3A §4.1.2)';
  }
  // Leaving IA-32e mode means clearing PG from compatibility mode; 64-bit code cannot (SDM vol. 2B).
  if (state.lma && !pg) return 'clearing CR0.PG in 64-bit mode (SDM vol. 2B, MOV to CR0)';
  return null;
}

/** Why MOV to CR4 of `value` raises #GP(0), or null. */
export function movToCr4Fault(state: CpuState, value: bigint): string | null {
  if (value >= TWO_32) return 'bits 63:32 of CR4 are reserved';
  const cr4 = Number(value);
  const changed = (cr4 ^ state.cr4) >>> 0;
  if (state.lma && (cr4 & Cr4.PAE) === 0)
    return 'clearing CR4.PAE while IA-32e paging is active (SDM vol. 3A §4.1.2)';
  if (state.lma && (changed & Cr4.LA57) !== 0) return 'changing CR4.LA57 in IA-32e mode (SDM vol. 3A §4.1.2)';
  if ((cr4 & Cr4.PCIDE) !== 0 && (state.cr4 & Cr4.PCIDE) === 0) {
    if (!state.lma) return 'setting CR4.PCIDE outside IA-32e mode (SDM vol. 3A §4.10.1)';
    if (state.cr3 % 4096 !== 0) return 'setting CR4.PCIDE with CR3[11:0] not 000H (SDM vol. 3A §4.10.1)';
  }
  return null;
}

/**
 * Why MOV to CR3 of `value` raises #GP(0), or null. In IA-32e mode bits 63:MAXPHYADDR are reserved,
 * except bit 63 with CR4.PCIDE=1, which asks for no invalidation and is not written (SDM vol. 3A
 * §4.10.4.1, §4.5.2). Outside IA-32e mode the operand is 32 bits, which no CR3 value can fault.
 */
export function movToCr3Fault(state: CpuState, value: bigint, maxPhysicalAddressBits: number): string | null {
  if (!state.lma) return null;
  const written = state.pcide ? value & ~(1n << 63n) : value;
  if (written >> BigInt(maxPhysicalAddressBits) !== 0n) {
    return `CR3 bits 63:${maxPhysicalAddressBits} (MAXPHYADDR) are reserved${state.pcide ? ', but for bit 63' : ''}`;
  }
  return null;
}

/**
 * Whether a MOV to CR0 or CR4 from (`cr0`, `cr4`) to (`newCr0`, `newCr4`) loads the PAE PDPTE
 * registers: PAE paging is in use after it and it changes CR0.CD, NW or PG, or CR4.PAE, PGE, PSE or
 * SMEP (SDM vol. 3A §4.4.1).
 */
export function reloadsPdptes(state: CpuState, newCr0: number, newCr4: number): boolean {
  if (pagingModeOf(newCr0, newCr4, state.efer) !== PagingMode.Pae) return false;
  const cr0Bits = Cr0.CD | Cr0.NW | Cr0.PG;
  const cr4Bits = Cr4.PAE | Cr4.PGE | Cr4.PSE | Cr4.SMEP;
  return ((state.cr0 ^ newCr0) & cr0Bits) !== 0 || ((state.cr4 ^ newCr4) & cr4Bits) !== 0;
}
