/**
 * Linear addresses at the edges. On the hot path a 64-bit linear address travels as two 32-bit
 * halves; BigInt is used only here, to parse and print (DESIGN.md).
 */

const MASK32 = 0xffff_ffffn;

/** 2^32: the weight of the upper half of a 64-bit value carried as two 32-bit halves. */
export const TWO_32 = 4294967296;
/** 2^-32, exact in a double: `Math.floor(a * TWO_MINUS_32)` is bits 63:32 of address `a` with a multiply, not a divide. */
export const TWO_MINUS_32 = 1 / TWO_32;

/**
 * The 4 KiB page number a TLB tags a linear address (lo, hi halves) by: bits 56:12 in IA-32e mode
 * (57-bit linear addresses at most, SDM vol. 3A §4.5), bits 31:12 otherwise (a 32-bit linear address
 * has no upper half, SDM vol. 3A §4.3-4.4).
 */
export function linearPageNumber(lo: number, hi: number, state: { readonly lma: boolean }): number {
  return state.lma ? (hi & 0x1ff_ffff) * 1048576 + (lo >>> 12) : lo >>> 12;
}

/**
 * The index of the entry for an address (lo, hi halves) in the table at `level` (1 = PT … 5 = PML5) of
 * a 4- or 5-level walk, or of an EPT walk: 9 bits of the address each, bits 20:12 at level 1, 29:21
 * at 2, 38:30 at 3, 47:39 at 4 and 56:48 at 5 (Intel SDM vol. 3A §4.5.4, Figure 4-8; vol. 3C §29.3.2;
 * AMD APM vol. 2 §5.3.3). PAE's 2-bit PDPT index and 32-bit paging's 10-bit indices are not this.
 */
export function tableIndex(lo: number, hi: number, level: number): number {
  return level === 1
    ? (lo >>> 12) & 511
    : level === 2
      ? (lo >>> 21) & 511
      : level === 3
        ? ((hi & 0x7f) << 2) | (lo >>> 30)
        : level === 4
          ? (hi >>> 7) & 511
          : (hi >>> 16) & 511;
}

/**
 * `linearPageNumber` of a linear address given as a number (up to 2^53) or, with `linearHi`, as two
 * 32-bit halves: the form `GuestCpu.invlpg` and `shootdown` take it in.
 */
export function linearPageNumberOf(
  linear: number,
  linearHi: number | undefined,
  state: { readonly lma: boolean },
): number {
  if (linearHi !== undefined) return linearPageNumber(linear, linearHi, state);
  const hi = Math.floor(linear / TWO_32);
  return linearPageNumber(linear - hi * TWO_32, hi, state);
}

/** A whole 64-bit linear address: IA-32e's page-number rule applies to all of it. */
const WHOLE_ADDRESS = { lma: true } as const;

/**
 * `linearPageNumber` of a whole 64-bit linear address given as a BigInt, as instructions take one in
 * a register or descriptor (INVLPGA's rAX, INVVPID's descriptor): bits 56:12, the address taken
 * modulo 2^64.
 */
export function linearPageNumberOfBigInt(address: bigint): number {
  const { lo, hi } = linearFromBigInt(BigInt.asUintN(64, address));
  return linearPageNumber(lo, hi, WHOLE_ADDRESS);
}

/** A 64-bit value as two unsigned 32-bit halves. */
export interface LinearAddress {
  readonly lo: number;
  readonly hi: number;
}

/** Splits a 64-bit BigInt into halves. */
export function linearFromBigInt(value: bigint): LinearAddress {
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(`0x${value.toString(16)} does not fit in 64 bits`);
  }
  return { lo: Number(value & MASK32), hi: Number(value >> 32n) };
}

/** Joins two 32-bit halves into a BigInt. */
export function linearToBigInt(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

const HEX = /^0x[0-9a-fA-F]+$/;

/**
 * Parses a `0x`-prefixed hexadecimal string (the scenario format's notation) whose value fits in
 * 64 bits, or returns null when it is not one.
 */
export function parseHex64(text: string): bigint | null {
  if (!HEX.test(text)) return null;
  const value = BigInt(text);
  return value > 0xffff_ffff_ffff_ffffn ? null : value;
}

/** Formats a non-negative number or BigInt as lowercase `0x…` hexadecimal. */
export function formatHex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}
