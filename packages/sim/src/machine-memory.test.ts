import { InputError } from '@hvsim/errors';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import { assemble } from './machine.js';
import { checkMemory, estimateMemory } from './machine-memory.js';
import { runConfig } from './run.js';

/*
 * The expected figures are worked out here from how the packages allocate (the comment at the top of
 * machine-memory.ts): 3 bytes a 4 KiB guest frame and 16 KiB a CPU for a guest OS, 160 bytes a TLB
 * entry and 12 a set, 80 bytes a host frame handed out and 16 a backing page mapped.
 */

describe('estimateMemory', () => {
  it('counts a guest OS’s frame tables and each CPU’s TLB structures', () => {
    const bare = parseConfig('mmu: native\ntlb: none\nwalkCache: none\n', 'bare.yaml');
    // 256 MiB is 65,536 frames: 196,608 bytes, and one CPU's PCID table, 16,384.
    expect(estimateMemory(bare).bytes).toBe(65_536 * 3 + 16_384);
    const tlb = parseConfig(
      [
        'mmu: native',
        'cpus: 2',
        'walkCache: none',
        'tlb: { name: t, levels: [{ name: L1, caches: [{ name: a, entries: 64, ways: 4, pageSizes: [4K] }] }], instructionPath: [L1], dataPath: [L1] }',
      ].join('\n'),
    );
    // Two CPUs, each 64 entries and 16 sets; the guest OS on both CPUs.
    expect(estimateMemory(tlb).parts).toEqual([
      { what: 'TLBs and walk caches', bytes: 2 * (64 * 160 + 16 * 12) },
      { what: 'guest OS frame tables', bytes: 65_536 * 3 + 2 * 16_384 },
    ]);
  });

  it('counts the host frames of guest memory backed up front, and the nested tables over it', () => {
    const upFront = parseConfig(
      'mmu: nested\nvendor: amd\ntlb: none\nwalkCache: none\nfill: up-front\nvms: 2\nguest: { memory: 1G }\n',
    );
    // 1 GiB is 262,144 frames; its nested tables are 512 page tables and a page directory.
    const estimate = estimateMemory(upFront);
    expect(estimate.hostFrames).toBe(2 * (262_144 + 513));
    expect(estimate.parts[2]).toEqual({
      what: 'host frame tables (all guest memory backed up front)',
      bytes: 2 * (262_144 + 513) * 80 + 2 * 262_144 * 16,
    });
    // On demand nothing is backed before the run.
    const onDemand = parseConfig('mmu: nested\nvendor: amd\nvms: 2\nguest: { memory: 1G }\n');
    expect(estimateMemory(onDemand).hostFrames).toBe(0);
    expect(estimateMemory(onDemand).parts.map((p) => p.what)).toEqual([
      'TLBs and walk caches',
      'guest OS frame tables',
    ]);
  });
});

describe('checkMemory', () => {
  it('refuses a machine above the limit, naming the estimate, its parts and the limit', () => {
    const config = parseConfig('mmu: native\ntlb: none\nwalkCache: none\n', 'small.yaml');
    expect(checkMemory(config, 212_992).bytes).toBe(212_992);
    expect(() => checkMemory(config, 212_991)).toThrow(InputError);
    expect(() => checkMemory(config, 100_000)).toThrow(
      'small: this machine needs about 208 KiB to simulate (guest OS frame tables 208 KiB), more than the 98 KiB a run may use; use fewer CPUs or VMs, smaller TLBs, less guest memory or fill: on-demand',
    );
  });

  it('refuses more host frames up front than the hypervisor can track (2^24), whatever the limit', () => {
    // 65 GiB is 17,039,360 frames, over 2^24 = 16,777,216.
    const config = parseConfig(
      'mmu: shadow\nvendor: intel\nfill: up-front\nguest: { memory: 65G }\n',
      'big.yaml',
    );
    expect(() => checkMemory(config, 2 ** 50)).toThrow(
      /^big: backing 65 GiB up front hands out 17039360 4 KiB host frames, more than the 16777216/,
    );
  });

  it('is what assemble and runConfig check before they build anything', async () => {
    const config = parseConfig('mmu: nested\nvendor: amd\n', 'npt.yaml');
    expect(() => assemble(config, { memoryLimit: 1000 })).toThrow(/^npt: this machine needs about/);
    await expect(
      runConfig(config, { kind: 'workload', name: 'zipf', accesses: 10 }, { memoryLimit: 1000 }),
    ).rejects.toBeInstanceOf(InputError);
  });
});
