/** One field of a decoded value: a bit or a bit range, its name, its value and what that value means. */
export interface BitField {
  /** The bit (`"0"`) or range (`"51:12"`), high bit first as the manuals write it. */
  readonly bits: string;
  /** The manual's name for the field (`P`, `R/W`, `EXITINFO1[32]`…). */
  readonly name: string;
  /** `"0"` or `"1"` for one bit; `0x…` for a range. */
  readonly value: string;
  /** What this value means here, in words. */
  readonly meaning: string;
  /** For one bit: whether it is set; for a range: whether it is not zero. */
  readonly set: boolean;
}

/** A value decoded field by field. */
export interface DecodedValue {
  /** The value as `0x…`. */
  readonly value: string;
  /** What kind of value it is (`guest PML4E, 4-level paging`, `#PF error code`…). */
  readonly title: string;
  /** Where the format is defined (manual, volume, section). */
  readonly source: string;
  readonly fields: readonly BitField[];
}

/** Lowercase `0x…` hexadecimal. */
export function hex(value: bigint | number): string {
  return `0x${value.toString(16)}`;
}

/** Bits `high:low` of `value`. */
export function bitsOf(value: bigint, high: number, low: number): bigint {
  return (value >> BigInt(low)) & ((1n << BigInt(high - low + 1)) - 1n);
}

/** Bit `n` of `value`. */
export function bitOf(value: bigint, n: number): boolean {
  return ((value >> BigInt(n)) & 1n) === 1n;
}

/** A one-bit field with a meaning for each value. */
export function flag(value: bigint, n: number, name: string, whenSet: string, whenClear: string): BitField {
  const set = bitOf(value, n);
  return { bits: String(n), name, value: set ? '1' : '0', meaning: set ? whenSet : whenClear, set };
}

/**
 * A multi-bit field. With `shift`, the value shown is the field in place (its bits `high:low` of the
 * original value, low bits zero), as an address field is read.
 */
export function range(
  value: bigint,
  high: number,
  low: number,
  name: string,
  meaning: string,
  inPlace = false,
): BitField {
  const field = bitsOf(value, high, low);
  return {
    bits: high === low ? String(high) : `${high}:${low}`,
    name,
    value: hex(inPlace ? field << BigInt(low) : field),
    meaning,
    set: field !== 0n,
  };
}

/** Reserved bits `high:low`: a range field that says whether any is set. */
export function reserved(value: bigint, high: number, low: number, note = 'must be 0'): BitField {
  const field = bitsOf(value, high, low);
  return {
    bits: high === low ? String(high) : `${high}:${low}`,
    name: 'reserved',
    value: hex(field),
    meaning: field === 0n ? `reserved (${note})` : `reserved bit set (${note}): a reserved-bit fault`,
    set: field !== 0n,
  };
}

/** Ignored bits `high:low` (available to software). */
export function ignored(value: bigint, high: number, low: number): BitField {
  const field = bitsOf(value, high, low);
  return {
    bits: high === low ? String(high) : `${high}:${low}`,
    name: 'ignored',
    value: hex(field),
    meaning: 'ignored by the processor (available to software)',
    set: field !== 0n,
  };
}
