import { describe, expect, it } from 'vitest';
import { PageSize } from './page-size.js';
import { noTlb, skylakeTlb, tlbPresets, zenTlb } from './presets.js';
import { TlbHierarchy } from './tlb-hierarchy.js';

const { Size4K, Size2M, Size4M, Size1G } = PageSize;

/** [level, entries, ways, sizes] of every structure, in configuration order. */
function shape(h: TlbHierarchy): [string, number, number, PageSize[]][] {
  return h.levels.flatMap((l) =>
    l.caches.map((c) => [l.name, c.entries, c.ways, c.pageSizes] as [string, number, number, PageSize[]]),
  );
}

describe('presets', () => {
  it('Skylake-class: the geometry of the Intel Optimization Reference Manual, Table 2-15', () => {
    // Typed from the sources cited in presets.ts: ITLB 4K 128/8-way, ITLB 2M/4M 8 fully assoc.;
    // DTLB 4K 64/4-way, 2M/4M 32/4-way, 1G 4/4-way; STLB 4K+2M 1536/12-way, 1G 16/4-way.
    const h = new TlbHierarchy(skylakeTlb.config);
    expect(shape(h)).toEqual([
      ['L1 ITLB', 128, 8, [Size4K]],
      ['L1 ITLB', 8, 8, [Size2M, Size4M]],
      ['L1 DTLB', 64, 4, [Size4K]],
      ['L1 DTLB', 32, 4, [Size2M, Size4M]],
      ['L1 DTLB', 4, 4, [Size1G]],
      ['STLB', 1536, 12, [Size4K, Size2M]],
      ['STLB', 16, 4, [Size1G]],
    ]);
    expect(h.instructionPath.map((l) => l.name)).toEqual(['L1 ITLB', 'STLB']);
    expect(h.dataPath.map((l) => l.name)).toEqual(['L1 DTLB', 'STLB']);
  });

  it('Zen-class: the geometry of WikiChip and AMD Software Optimization Guide 55723', () => {
    // L0 ITLB 8 all sizes; L1 ITLB 64 fully assoc. all sizes; L2 ITLB 512 8-way, no 1G;
    // L1 DTLB 64 fully assoc. all sizes; L2 DTLB 1536 12-way, no 1G.
    const h = new TlbHierarchy(zenTlb.config);
    expect(shape(h)).toEqual([
      ['L0 ITLB', 8, 8, [Size4K, Size2M, Size1G]],
      ['L1 ITLB', 64, 64, [Size4K, Size2M, Size1G]],
      ['L2 ITLB', 512, 8, [Size4K, Size2M]],
      ['L1 DTLB', 64, 64, [Size4K, Size2M, Size1G]],
      ['L2 DTLB', 1536, 12, [Size4K, Size2M]],
    ]);
    expect(h.instructionPath.map((l) => l.name)).toEqual(['L0 ITLB', 'L1 ITLB', 'L2 ITLB']);
    expect(h.dataPath.map((l) => l.name)).toEqual(['L1 DTLB', 'L2 DTLB']);
  });

  it('stores 1 GiB pages as 2 MiB pieces where a structure has no 1 GiB entries', () => {
    // AMD: "1-Gbyte pages are smashed into 2-Mbyte entries" in the L2 TLBs.
    const z = new TlbHierarchy(zenTlb.config);
    expect(z.levels[2].caches[0].storedSizeFor(Size1G)).toBe(Size2M);
    expect(z.levels[4].caches[0].storedSizeFor(Size4M)).toBe(Size2M);
    const s = new TlbHierarchy(skylakeTlb.config);
    expect(s.levels[0].target(Size1G)?.name).toBe('L1 ITLB 2M/4M');
  });

  it('names its sources, and "none" has no levels', () => {
    for (const p of [skylakeTlb, zenTlb]) expect(p.sources.length).toBeGreaterThan(0);
    expect(noTlb.config.levels).toHaveLength(0);
    expect(Object.keys(tlbPresets)).toEqual(['skylake', 'zen', 'none']);
  });
});
