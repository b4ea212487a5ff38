/**
 * A small seeded generator: SFC32 (Chris Doty-Humphrey's "small fast chaotic" generator from
 * PractRand, public-domain algorithm), its 128-bit state filled from the seed by SplitMix32 steps.
 * Same seed, same sequence, on every platform: workloads derive everything random from it, so a run
 * is reproducible from its seed. Not for cryptography.
 */
export class Rng {
  declare private a: number;
  declare private b: number;
  declare private c: number;
  declare private d: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    // SplitMix32 (the 32-bit form of Steele, Lea and Flood's SplitMix): spreads any seed over the state.
    let s = seed | 0;
    const mix = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    // The first outputs of a fresh SFC state are weak; discard them as PractRand's seeding does.
    for (let i = 0; i < 12; i++) this.next();
  }

  /** The next 32-bit unsigned value. */
  next(): number {
    const a = this.a;
    const b = this.b;
    const c = this.c;
    const d = this.d;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    const r = (c << 21) | (c >>> 11);
    this.c = (r + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** An integer in [0, n), n at most 2^32 (multiply-shift: bias below 2^-32·n). */
  below(n: number): number {
    return Math.floor((this.next() / 4294967296) * n);
  }
}

/**
 * Samples ranks 0..n-1 with probability proportional to 1/(rank+1)^s (a Zipf distribution): a
 * cumulative table built once, a binary search per sample, nothing allocated per sample.
 */
export class ZipfSampler {
  declare private readonly cdf: Float64Array;

  constructor(n: number, s = 0.99) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`zipf needs a positive item count, got ${n}`);
    const cdf = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      sum += 1 / (i + 1) ** s;
      cdf[i] = sum;
    }
    for (let i = 0; i < n; i++) cdf[i] = (cdf[i] as number) / sum;
    this.cdf = cdf;
  }

  /** A rank drawn with `rng`. */
  sample(rng: Rng): number {
    const u = rng.float();
    const cdf = this.cdf;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] as number) > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** A random cyclic permutation of 0..n-1 (Sattolo's algorithm): following next[i] from any node visits all n. */
export function randomCycle(n: number, rng: Rng): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i);
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
  }
  const next = new Uint32Array(n);
  for (let i = 0; i < n; i++) next[order[i] as number] = order[(i + 1) % n] as number;
  return next;
}
