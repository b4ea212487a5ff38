/**
 * Linear addresses at the edges. On the hot path a 64-bit linear address travels as two 32-bit
 * halves; BigInt is used only here, to parse and print (DESIGN.md).
 */

const MASK32 = 0xffff_ffffn;

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
