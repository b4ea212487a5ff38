import { describe, expect, it } from 'vitest';
import {
  linearFromBigInt,
  linearPageNumber,
  linearPageNumberOfBigInt,
  tableIndex,
} from './linear-address.js';

/*
 * The index rules of Intel SDM vol. 3A §4.5.4 (Figure 4-8, 4-level; §4.5.1 for the PML5 bits 56:48)
 * and the TLB page-number rule of §4.10.1 (the linear page number, bits 56:12 in IA-32e mode).
 */

function indices(address: bigint): number[] {
  const { lo, hi } = linearFromBigInt(address);
  return [5, 4, 3, 2, 1].map((level) => tableIndex(lo, hi, level));
}

describe('tableIndex', () => {
  it('takes 9 bits of the address per level: 56:48, 47:39, 38:30, 29:21, 20:12', () => {
    expect(indices(0x0000_7fff_ffff_f000n)).toEqual([0, 255, 511, 511, 511]);
    expect(indices(0xffff_8000_0000_0000n)).toEqual([511, 256, 0, 0, 0]);
    // PML5 1, PML4 2, PDPT 3, PD 4, PT 5: each field placed by hand.
    const address = (1n << 48n) | (2n << 39n) | (3n << 30n) | (4n << 21n) | (5n << 12n) | 0xabcn;
    expect(indices(address)).toEqual([1, 2, 3, 4, 5]);
  });

  it('splits the PDPT index across the two halves (bits 38:32 of hi, 31:30 of lo)', () => {
    expect(indices(0x0000_0040_0000_0000n)[2]).toBe(256);
    expect(indices(0x0000_0000_c000_0000n)[2]).toBe(3);
  });
});

describe('linearPageNumber', () => {
  it('is bits 56:12 in IA-32e mode and bits 31:12 otherwise', () => {
    const { lo, hi } = linearFromBigInt(0xffff_8000_0000_1000n);
    expect(linearPageNumber(lo, hi, { lma: true })).toBe(2 ** 45 - 2 ** 35 + 1);
    expect(linearPageNumber(0xffff_f000, 0, { lma: false })).toBe(0xfffff);
    // A BigInt operand: the whole address, modulo 2^64 (-1 is 0xffff_ffff_ffff_ffff: bits 56:12 all set).
    expect(linearPageNumberOfBigInt(0xffff_8000_0000_1000n)).toBe(2 ** 45 - 2 ** 35 + 1);
    expect(linearPageNumberOfBigInt(-1n)).toBe(2 ** 45 - 1);
  });
});
