import { NativeMachine } from '@hvsim/platform';
import { skylakeTlb } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { guestDigest } from './guest-digest.js';
import { GuestOs } from './guest-os.js';
import { Rng, randomCycle, ZipfSampler } from './rng.js';
import { getWorkload, type Workload, workloadNames, workloads } from './workloads.js';

function run(workload: Workload, seed: number, accesses = 4000, cpus = 2) {
  const machine = new NativeMachine({ cpus, caches: { tlb: skylakeTlb.config } });
  const os = new GuestOs({ cpus: machine.cpus, memoryBytes: 128 * 2 ** 20, ...workload.osOptions });
  const progress: number[] = [];
  workload.run(os, {
    seed,
    accesses,
    workingSetBytes: 4 * 2 ** 20,
    onProgress: (done) => progress.push(done),
  });
  return { os, machine, digest: guestDigest(os), progress };
}

describe('built-in workloads', () => {
  for (const name of workloadNames) {
    it(`${name}: runs its accesses, and the same seed gives the same digest, another seed another`, () => {
      const workload = workloads[name];
      expect(workload.name).toBe(name);
      const a = run(workload, 7);
      const b = run(workload, 7);
      const c = run(workload, 8);
      expect(a.os.counters.accesses).toBeGreaterThanOrEqual(4000);
      expect(a.os.counters.accesses).toBeLessThan(4200);
      expect(a.progress.at(-1)).toBe(4000);
      expect(b.digest).toBe(a.digest);
      expect(b.os.counters.snapshot()).toEqual(a.os.counters.snapshot());
      expect(c.digest).not.toBe(a.digest);
      // No access was refused: every workload stays inside its mappings.
      expect(a.os.counters.segfaults).toBe(0);
    });
  }

  it('each does what its name says', () => {
    expect(run(workloads.multiprocess, 1, 20_000).os.counters.contextSwitches).toBe(20);
    const churn = run(workloads['process-churn'], 1).os.counters;
    expect(churn.forks).toBeGreaterThan(2);
    expect(churn.cowCopies).toBeGreaterThan(0);
    expect(churn.exits).toBe(churn.forks);
    const dos = run(workloads['dos-box'], 1).os.counters;
    expect(dos.remaps).toBeGreaterThan(100);
    expect(dos.invlpgs).toBeGreaterThan(100);
    const mixed = run(workloads.mixed, 1, 20_000).os.counters;
    expect(mixed.demandZeroFaults).toBeGreaterThan(500);
    expect(mixed.contextSwitches).toBeGreaterThan(10);
    expect(mixed.forks).toBeGreaterThan(0);
  });

  it('pcid keeps translations across switches of the multiprocess workload', () => {
    const machine = new NativeMachine({ cpus: 1, caches: { tlb: skylakeTlb.config } });
    const os = new GuestOs({ cpus: machine.cpus, pcid: true, memoryBytes: 64 * 2 ** 20 });
    workloads.multiprocess.run(os, { seed: 3, accesses: 20_000, workingSetBytes: 2 ** 20 });
    expect(os.counters.noFlushSwitches).toBe(os.counters.contextSwitches - 4);
  });

  it('names an unknown workload in its error', () => {
    expect(() => getWorkload('nope')).toThrow(/unknown workload "nope" \(one of: sequential/);
    expect(getWorkload('zipf')).toBe(workloads.zipf);
  });
});

describe('Rng and samplers', () => {
  it('is deterministic per seed and spreads values', () => {
    const a = new Rng(1);
    const b = new Rng(1);
    const c = new Rng(2);
    const xs = Array.from({ length: 8 }, () => a.next());
    expect(Array.from({ length: 8 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.next())).not.toEqual(xs);
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 10_000; i++) buckets[a.below(10)]++;
    for (const n of buckets) expect(n).toBeGreaterThan(850);
  });

  it('randomCycle visits every node once before returning', () => {
    const next = randomCycle(1000, new Rng(5));
    const seen = new Set<number>();
    let node = 0;
    for (let i = 0; i < 1000; i++) {
      seen.add(node);
      node = next[node] as number;
    }
    expect(seen.size).toBe(1000);
    expect(node).toBe(0);
  });

  it('Zipf ranks fall with rank: rank 0 about twice rank 1 at s=1', () => {
    const zipf = new ZipfSampler(100, 1);
    const rng = new Rng(9);
    const counts = new Array(100).fill(0);
    for (let i = 0; i < 50_000; i++) counts[zipf.sample(rng)]++;
    // P(0)/P(1) = 2^s = 2.
    expect(counts[0] / counts[1]).toBeGreaterThan(1.8);
    expect(counts[0] / counts[1]).toBeLessThan(2.2);
  });
});
