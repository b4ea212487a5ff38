/**
 * TLB hierarchies that match real parts, with their public geometry and where it comes from. What the
 * vendors do not publish (replacement policy, inclusion, walk-cache sizes) is an assumption, marked as
 * such: tree-PLRU, non-inclusive, fill every level of the path, no walk cache.
 */
import { PageSize } from './page-size.js';
import { ReplacementPolicy } from './replacement-policy.js';
import type { TlbHierarchyConfig } from './tlb-hierarchy.js';

const { Size4K, Size2M, Size4M, Size1G } = PageSize;
const plru = ReplacementPolicy.TreePlru;

/** A named hierarchy configuration with the sources of its geometry. */
export interface TlbPreset {
  readonly name: string;
  readonly description: string;
  /** Where each number comes from, one line per source. */
  readonly sources: readonly string[];
  readonly config: TlbHierarchyConfig;
}

// Skylake client (and Skylake-SP, whose TLBs are the same): Intel 64 and IA-32 Architectures
// Optimization Reference Manual (248966-045, Feb. 2022), Table 2-15 "TLB Parameters of the Skylake
// Microarchitecture", as quoted by J. McCalpin (Intel community forum, "TLB information provided by
// cpuid doesn't make sense to me", 2022) and translated at blog.51cto.com/u_14850/6626242: ITLB 4 KiB
// 128 entries 8-way, ITLB 2/4 MiB 8 entries per thread. The CPUID leaf 2 descriptors of a Skylake-SP
// in the same thread give DTLB 4 KiB 64 entries 4-way (03h), DTLB 1 GiB 4 entries 4-way (63h), ITLB
// 2M/4M fully associative 8 entries (76h). DTLB 2/4 MiB 32 entries 4-way: the same table (and the
// same geometry since Haswell, news.mynavi.jp Haswell review). STLB: 1536 entries 12-way shared by
// 4 KiB and 2 MiB pages, and 16 entries for 1 GiB pages (Table 2-15; P. Cordes' StackOverflow answer
// "unified 1536 entry 12 way for 4k and 2M, 16 entry for 1G"). The 1 GiB STLB's 4-way associativity
// is from Table 2-15 and not confirmed by a second source. 1 GiB code pages are splintered to 2 MiB
// in the ITLB (it has no 1 GiB entries).
/** Skylake-class: split L1 ITLB and DTLB (one structure per page size) over a unified STLB. */
export const skylakeTlb: TlbPreset = {
  name: 'skylake',
  description: 'Intel Skylake-class: L1 ITLB and L1 DTLB per page size over a unified 1536-entry STLB',
  sources: [
    'Intel Optimization Reference Manual 248966-045 (Feb. 2022), Table 2-15 (Skylake TLB parameters), quoted by J. McCalpin on the Intel community forum',
    'CPUID leaf 2 descriptors 03h, 63h, 76h, b5h, c3h of a Skylake-SP (same forum thread)',
    'P. Cordes, StackOverflow: Skylake L2 TLB "unified 1536 entry 12 way for 4k and 2M, 16 entry for 1G"',
  ],
  config: {
    name: 'Skylake-class',
    source: 'Intel Optimization Reference Manual 248966-045, Table 2-15',
    levels: [
      {
        name: 'L1 ITLB',
        caches: [
          { name: 'L1 ITLB 4K', entries: 128, ways: 8, pageSizes: [Size4K], policy: plru },
          { name: 'L1 ITLB 2M/4M', entries: 8, ways: 8, pageSizes: [Size2M, Size4M], policy: plru },
        ],
      },
      {
        name: 'L1 DTLB',
        caches: [
          { name: 'L1 DTLB 4K', entries: 64, ways: 4, pageSizes: [Size4K], policy: plru },
          { name: 'L1 DTLB 2M/4M', entries: 32, ways: 4, pageSizes: [Size2M, Size4M], policy: plru },
          { name: 'L1 DTLB 1G', entries: 4, ways: 4, pageSizes: [Size1G], policy: plru },
        ],
      },
      {
        name: 'STLB',
        caches: [
          { name: 'STLB 4K/2M', entries: 1536, ways: 12, pageSizes: [Size4K, Size2M], policy: plru },
          { name: 'STLB 1G', entries: 16, ways: 4, pageSizes: [Size1G], policy: plru },
        ],
      },
    ],
    instructionPath: ['L1 ITLB', 'STLB'],
    dataPath: ['L1 DTLB', 'STLB'],
    inclusion: 'non-inclusive',
    fillPolicy: 'all',
    promoteOnHit: true,
  },
};

// Zen (AMD family 17h, Zen and Zen+): WikiChip "Zen - Microarchitectures - AMD" (front end: the branch
// predictor's TLBs are an "8-entry L0 TLB, all page sizes", a "64-entry L1 TLB, all page sizes" and a
// "512-entry L2 TLB, no 1G pages"; memory subsystem: "The L1 TLB is 64-entry for all page sizes and the
// L2 TLB is a 1536-entry with no 1 GiB pages"). Associativity of the L2s: AMD Software Optimization Guide
// for Family 17h (pub. 55723, rev. 3.00, June 2017) §2.7.2, as quoted in P. Cordes' StackOverflow answer
// 69814823: L2 DTLB 12-way 1536 entries, L2 ITLB 8-way 512 entries with a 1 GiB page "smashed" into a
// 2 MiB entry. L1 TLBs fully associative: WikiChip Zen 2 ("The fully-associative L1 data TLB contains
// 64 entries and holds 4-Kbyte, 2-Mbyte, and 1-Gbyte page table entries") and 7-cpu.com Zen 2 ("I TLB
// L1: 64 items. full-assoc, all page sizes"), whose L1 TLBs are Zen's. Legacy 4 MiB pages are stored as
// 2 MiB entries (CPUID Fn8000_0005: "4-MB pages require two 2-MB entries"; family 16h guide §2.6.3).
// Zen 4 (72-entry L1 DTLB, 3072-entry L2 DTLB) is not used: no source for it could be checked, and
// Zen 2's 2048-entry 12-way L2 DTLB is skewed (its set count is not an integer).
/** Zen-class (AMD family 17h): L0/L1/L2 ITLB and L1/L2 DTLB, separate instruction and data paths. */
export const zenTlb: TlbPreset = {
  name: 'zen',
  description:
    'AMD Zen-class (family 17h): L0/L1/L2 ITLB and L1/L2 DTLB, 1 GiB pages smashed to 2 MiB in the L2s',
  sources: [
    'WikiChip, "Zen - Microarchitectures - AMD": front-end TLBs (8/64/512 entries) and L1/L2 DTLB (64/1536 entries)',
    'AMD Software Optimization Guide for Family 17h (55723 rev. 3.00), §2.7.2, quoted in StackOverflow answer 69814823: L2 DTLB 12-way, L2 ITLB 8-way, 1 GiB smashed to 2 MiB',
    'WikiChip Zen 2 and 7-cpu.com Zen 2: L1 DTLB and L1 ITLB fully associative, all page sizes',
  ],
  config: {
    name: 'Zen-class',
    source: 'WikiChip Zen; AMD Software Optimization Guide for Family 17h (55723) §2.7',
    levels: [
      {
        name: 'L0 ITLB',
        caches: [{ name: 'L0 ITLB', entries: 8, ways: 8, pageSizes: [Size4K, Size2M, Size1G], policy: plru }],
      },
      {
        name: 'L1 ITLB',
        caches: [
          { name: 'L1 ITLB', entries: 64, ways: 64, pageSizes: [Size4K, Size2M, Size1G], policy: plru },
        ],
      },
      {
        name: 'L2 ITLB',
        caches: [{ name: 'L2 ITLB', entries: 512, ways: 8, pageSizes: [Size4K, Size2M], policy: plru }],
      },
      {
        name: 'L1 DTLB',
        caches: [
          { name: 'L1 DTLB', entries: 64, ways: 64, pageSizes: [Size4K, Size2M, Size1G], policy: plru },
        ],
      },
      {
        name: 'L2 DTLB',
        caches: [{ name: 'L2 DTLB', entries: 1536, ways: 12, pageSizes: [Size4K, Size2M], policy: plru }],
      },
    ],
    instructionPath: ['L0 ITLB', 'L1 ITLB', 'L2 ITLB'],
    dataPath: ['L1 DTLB', 'L2 DTLB'],
    inclusion: 'non-inclusive',
    fillPolicy: 'all',
    promoteOnHit: true,
  },
};

/** No TLB at all: every lookup misses, so every access walks. For reference runs. */
export const noTlb: TlbPreset = {
  name: 'none',
  description: 'No TLB: every access walks (a reference for measuring what the TLBs save)',
  sources: [],
  config: { name: 'none', levels: [], instructionPath: [], dataPath: [] },
};

/** Every preset, by name. */
export const tlbPresets: Readonly<Record<'skylake' | 'zen' | 'none', TlbPreset>> = {
  skylake: skylakeTlb,
  zen: zenTlb,
  none: noTlb,
};
