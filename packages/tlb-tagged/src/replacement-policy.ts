/**
 * Replacement policies a translation cache can use, chosen per structure. Every policy first fills
 * the lowest-numbered invalid way of the set; only a full set asks the policy for a victim.
 *
 * - `lru`: each way records when it was last filled or hit; the victim is the way used longest ago.
 * - `tree-plru`: a binary tree over the ways. A node covering ways [lo, hi) splits them into
 *   [lo, mid) and [mid, hi) with mid = lo + ceil((hi - lo) / 2) (plain halving when the way count is a
 *   power of two). Each node holds one bit: 0 sends the victim search left, 1 right. A fill or hit of
 *   way w sets every node on the path to w to point away from w. The victim is the leaf reached by
 *   following the bits from the root.
 * - `fifo`: each way records when it was filled (hits do not count); the victim is the oldest fill.
 * - `random`: the victim is the next output of a seeded xorshift32 generator modulo the way count.
 */
export const ReplacementPolicy = {
  Lru: 'lru',
  TreePlru: 'tree-plru',
  Fifo: 'fifo',
  Random: 'random',
} as const;
export type ReplacementPolicy = (typeof ReplacementPolicy)[keyof typeof ReplacementPolicy];

/** Integer codes of the policies, for the hot path. */
export const PolicyCode = { Lru: 0, TreePlru: 1, Fifo: 2, Random: 3 } as const;

/** The integer code of a policy name (throws on an unknown name). */
export function policyCode(policy: ReplacementPolicy): number {
  switch (policy) {
    case 'lru':
      return PolicyCode.Lru;
    case 'tree-plru':
      return PolicyCode.TreePlru;
    case 'fifo':
      return PolicyCode.Fifo;
    case 'random':
      return PolicyCode.Random;
    default:
      throw new RangeError(`unknown replacement policy ${String(policy)}`);
  }
}

/** Bytes of tree-PLRU state per set: heap-numbered nodes (root 1, children 2n and 2n+1) stay below this. */
export function plruStride(ways: number): number {
  let p = 1;
  while (p < ways) p *= 2;
  return 2 * p;
}

/** Records a use of `way` in the tree stored at `bits[offset..]` (see the policy description). */
export function plruTouch(bits: Uint8Array, offset: number, ways: number, way: number): void {
  let node = 1;
  let lo = 0;
  let hi = ways;
  while (hi - lo > 1) {
    const mid = lo + ((hi - lo + 1) >> 1);
    if (way < mid) {
      bits[offset + node] = 1;
      node = 2 * node;
      hi = mid;
    } else {
      bits[offset + node] = 0;
      node = 2 * node + 1;
      lo = mid;
    }
  }
}

/** The way the tree stored at `bits[offset..]` points to. */
export function plruVictim(bits: Uint8Array, offset: number, ways: number): number {
  let node = 1;
  let lo = 0;
  let hi = ways;
  while (hi - lo > 1) {
    const mid = lo + ((hi - lo + 1) >> 1);
    if (bits[offset + node] === 0) {
      node = 2 * node;
      hi = mid;
    } else {
      node = 2 * node + 1;
      lo = mid;
    }
  }
  return lo;
}

/** One step of xorshift32 (Marsaglia 2003): a non-zero 32-bit state in, the next state out. */
export function xorshift32(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}
