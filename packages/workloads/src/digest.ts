/**
 * The rolling 32-bit digest of guest-visible results: FNV-1a's prime and offset basis applied to
 * whole 32-bit words (one xor and one multiply a word) rather than bytes. Cheap enough for the access
 * hot path; order-sensitive, so two runs agree only when every outcome agrees in order.
 */
export const DIGEST_SEED = 0x811c9dc5;

/** Mixes the 32-bit word `word` into `hash`. */
export function mixWord(hash: number, word: number): number {
  return Math.imul(hash ^ word, 0x01000193);
}

/** Mixes a number of up to 53 bits (an address) as its two 32-bit halves. */
export function mixNumber(hash: number, value: number): number {
  return Math.imul(Math.imul(hash ^ value, 0x01000193) ^ ((value / 4294967296) | 0), 0x01000193);
}

/** Unsigned 32-bit hexadecimal, as reports print digests. */
export function formatDigest(hash: number): string {
  return (hash >>> 0).toString(16).padStart(8, '0');
}
