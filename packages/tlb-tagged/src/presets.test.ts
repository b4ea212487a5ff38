import { describe, expect, it } from 'vitest';
import { PageSize } from './page-size.js';
import { goldenCoveTlb, noTlb, skylakeTlb, tlbPresets, zen4Tlb, zen5Tlb, zenTlb } from './presets.js';
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

  it('Golden Cove-class: CPUID leaf 18H of a Golden Cove P-core, with Intel’s 96-entry load DTLB', () => {
    // Leaf 18H sub-leaves (ways x sets): ITLB 4K 8 x 32, ITLB 2M/4M 8 x 4; load DTLB 2M/4M 4 x 8,
    // 1G fully associative 8; STLB 2 x (8 x 128), 4 KiB in both halves. Intel: DTLB 64 -> 96 entries.
    const h = new TlbHierarchy(goldenCoveTlb.config);
    expect(shape(h)).toEqual([
      ['L1 ITLB', 256, 8, [Size4K]],
      ['L1 ITLB', 32, 8, [Size2M, Size4M]],
      ['L1 DTLB', 96, 6, [Size4K]],
      ['L1 DTLB', 32, 4, [Size2M, Size4M]],
      ['L1 DTLB', 8, 8, [Size1G]],
      ['STLB', 2048, 16, [Size4K, Size2M, Size4M, Size1G]],
    ]);
    expect(h.instructionPath.map((l) => l.name)).toEqual(['L1 ITLB', 'STLB']);
    expect(h.dataPath.map((l) => l.name)).toEqual(['L1 DTLB', 'STLB']);
  });

  it('Zen 4-class: CPUID Fn8000_0005/0006/0019 of a Ryzen 9 7900X', () => {
    // 0005: 72 (0x48) DTLB and 64 (0x40) ITLB entries, fully associative (FFh); 0019 EAX: the same for
    // 1G. 0006: L2 DTLB 0xC00 = 3072 entries, code 6 = 8-way; L2 ITLB 0x200 = 512, code 4 = 4-way.
    // 0019 EBX: L2 1G DTLB 0x040 = 64 entries, code Fh = fully associative; no L2 1G ITLB.
    const h = new TlbHierarchy(zen4Tlb.config);
    expect(shape(h)).toEqual([
      ['L1 ITLB', 64, 64, [Size4K, Size2M, Size1G]],
      ['L2 ITLB', 512, 4, [Size4K, Size2M]],
      ['L1 DTLB', 72, 72, [Size4K, Size2M, Size1G]],
      ['L2 DTLB', 3072, 8, [Size4K, Size2M]],
      ['L2 DTLB', 64, 64, [Size1G]],
    ]);
    expect(h.instructionPath.map((l) => l.name)).toEqual(['L1 ITLB', 'L2 ITLB']);
    expect(h.dataPath.map((l) => l.name)).toEqual(['L1 DTLB', 'L2 DTLB']);
  });

  it('Zen 5-class: AMD Hot Chips 2024 sizes, CPUID of a Ryzen 9 9950X for associativity', () => {
    // Hot Chips 2024: L1 ITLB 64, L1 DTLB 96; L2 ITLB 2K, L2 DTLB 4K "everything but 1G".
    // CPUID: L1s fully associative for 4K, 2M and 1G; L2 DTLB code 6 = 8-way, L2 ITLB code 4 = 4-way;
    // 0019 EBX: L2 1G DTLB 0x020 = 32 entries, code 4 = 4-way; no L2 1G ITLB.
    const h = new TlbHierarchy(zen5Tlb.config);
    expect(shape(h)).toEqual([
      ['L1 ITLB', 64, 64, [Size4K, Size2M, Size1G]],
      ['L2 ITLB', 2048, 4, [Size4K, Size2M]],
      ['L1 DTLB', 96, 96, [Size4K, Size2M, Size1G]],
      ['L2 DTLB', 4096, 8, [Size4K, Size2M]],
      ['L2 DTLB', 32, 4, [Size1G]],
    ]);
    expect(h.instructionPath.map((l) => l.name)).toEqual(['L1 ITLB', 'L2 ITLB']);
    expect(h.dataPath.map((l) => l.name)).toEqual(['L1 DTLB', 'L2 DTLB']);
  });

  it('stores 1 GiB pages as 2 MiB pieces where a structure has no 1 GiB entries', () => {
    // AMD: "1-Gbyte pages are smashed into 2-Mbyte entries" in the L2 TLBs.
    const z = new TlbHierarchy(zenTlb.config);
    expect(z.levels[2].caches[0].storedSizeFor(Size1G)).toBe(Size2M);
    expect(z.levels[4].caches[0].storedSizeFor(Size4M)).toBe(Size2M);
    const s = new TlbHierarchy(skylakeTlb.config);
    expect(s.levels[0].target(Size1G)?.name).toBe('L1 ITLB 2M/4M');
    // Golden Cove: no 1 GiB ITLB entries (leaf 18H sub-leaves 1 and 2); the STLB holds them.
    const g = new TlbHierarchy(goldenCoveTlb.config);
    expect(g.levels[0].target(Size1G)?.name).toBe('L1 ITLB 2M/4M');
    expect(g.levels[2].target(Size1G)?.name).toBe('STLB');
    // Zen 4 and 5: no L2 1 GiB ITLB (Fn8000_0019 EBX[15:0] = 0); the L2 DTLB's 1 GiB part holds them.
    for (const preset of [zen4Tlb, zen5Tlb]) {
      const z = new TlbHierarchy(preset.config);
      expect(z.levels[1].caches[0].storedSizeFor(Size1G)).toBe(Size2M);
      expect(z.levels[1].caches[0].storedSizeFor(Size4M)).toBe(Size2M);
      expect(z.levels[3].target(Size1G)?.name).toBe('L2 DTLB 1G');
      expect(z.levels[3].target(Size2M)?.name).toBe('L2 DTLB');
    }
  });

  it('names its sources, and "none" has no levels', () => {
    for (const p of [skylakeTlb, goldenCoveTlb, zenTlb, zen4Tlb, zen5Tlb]) {
      expect(p.sources.length).toBeGreaterThan(0);
    }
    expect(noTlb.config.levels).toHaveLength(0);
    expect(Object.keys(tlbPresets)).toEqual(['skylake', 'golden-cove', 'zen', 'zen4', 'zen5', 'none']);
    // Each preset is filed under its own name.
    for (const [key, p] of Object.entries(tlbPresets)) expect(p.name).toBe(key);
  });
});
