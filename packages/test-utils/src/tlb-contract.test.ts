import {
  goldenCoveTlb,
  PageSize,
  type ReplacementPolicy,
  skylakeTlb,
  TagTable,
  TlbHierarchy,
  type TlbHierarchyConfig,
  TranslationCache,
  type TranslationCacheConfig,
  zen4Tlb,
  zen5Tlb,
  zenTlb,
} from '@hvsim/tlb-tagged';
import { describeTlbContract, type OrganizationUnderTest } from './tlb-contract.js';

const { Size4K, Size2M, Size4M, Size1G } = PageSize;
const ALL_SIZES = [Size4K, Size2M, Size4M, Size1G];

function single(name: string, config: TranslationCacheConfig): OrganizationUnderTest {
  const policy = config.policy ?? 'lru';
  return {
    name,
    make: () => new TranslationCache(config, new TagTable()),
    replacement: { policy, ways: config.ways, sets: config.entries / config.ways, seed: config.seed ?? 1 },
  };
}

function hierarchy(name: string, config: TlbHierarchyConfig): OrganizationUnderTest {
  return { name, make: () => new TlbHierarchy(config, new TagTable()) };
}

const policies: ReplacementPolicy[] = ['lru', 'tree-plru', 'fifo', 'random'];

const organizations: OrganizationUnderTest[] = [
  single('direct-mapped, 16 entries, 4 KiB only (splinters larger pages)', {
    entries: 16,
    ways: 1,
    pageSizes: [Size4K],
  }),
  single('2-way, 32 entries, tree-PLRU', { entries: 32, ways: 2, pageSizes: [Size4K], policy: 'tree-plru' }),
  single('2-way, 32 entries, LRU', { entries: 32, ways: 2, pageSizes: [Size4K], policy: 'lru' }),
  ...policies.map((policy) =>
    single(`4-way, 64 entries, 4 KiB only, ${policy}`, { entries: 64, ways: 4, pageSizes: [Size4K], policy }),
  ),
  ...policies.map((policy) =>
    single(`4-way, 64 entries, every page size shared, ${policy}`, {
      entries: 64,
      ways: 4,
      pageSizes: ALL_SIZES,
      policy,
    }),
  ),
  single('8-way, 64 entries, 4 KiB and 2 MiB, tree-PLRU', {
    entries: 64,
    ways: 8,
    pageSizes: [Size4K, Size2M],
    policy: 'tree-plru',
  }),
  ...(['lru', 'tree-plru'] as const).map((policy) =>
    single(`12-way, 1536 entries (STLB-like), ${policy}`, {
      entries: 1536,
      ways: 12,
      pageSizes: [Size4K, Size2M],
      policy,
    }),
  ),
  single('4-way, 48 entries (12 sets: not a power of two), LRU', {
    entries: 48,
    ways: 4,
    pageSizes: [Size4K],
  }),
  ...policies.map((policy) =>
    single(`fully associative, 16 entries, every page size, ${policy}`, {
      entries: 16,
      ways: 16,
      pageSizes: ALL_SIZES,
      policy,
    }),
  ),
  single('fully associative, 64 entries (beyond one PLRU word), tree-PLRU', {
    entries: 64,
    ways: 64,
    pageSizes: ALL_SIZES,
    policy: 'tree-plru',
  }),
  ...(['inclusive', 'non-inclusive'] as const).map((inclusion) =>
    hierarchy(`split L1 over a unified L2, ${inclusion}`, {
      name: inclusion,
      levels: [
        { name: 'L1I', caches: [{ entries: 8, ways: 2, pageSizes: [Size4K] }] },
        {
          name: 'L1D',
          caches: [
            { entries: 16, ways: 4, pageSizes: [Size4K] },
            { entries: 4, ways: 4, pageSizes: [Size2M, Size4M] },
          ],
        },
        { name: 'L2', caches: [{ entries: 64, ways: 4, pageSizes: [Size4K, Size2M], policy: 'tree-plru' }] },
      ],
      instructionPath: ['L1I', 'L2'],
      dataPath: ['L1D', 'L2'],
      inclusion,
    }),
  ),
  ...(['first', 'last'] as const).map((fillPolicy) =>
    hierarchy(`split L1 over a unified L2, non-inclusive, fill ${fillPolicy} level`, {
      name: fillPolicy,
      levels: [
        { name: 'L1I', caches: [{ entries: 8, ways: 2, pageSizes: [Size4K] }] },
        { name: 'L1D', caches: [{ entries: 16, ways: 16, pageSizes: ALL_SIZES }] },
        { name: 'L2', caches: [{ entries: 64, ways: 4, pageSizes: [Size4K, Size2M] }] },
      ],
      instructionPath: ['L1I', 'L2'],
      dataPath: ['L1D', 'L2'],
      fillPolicy,
    }),
  ),
  hierarchy('L2 looked up before L1, no promotion', {
    name: 'reversed',
    levels: [
      { name: 'L1', caches: [{ entries: 16, ways: 4, pageSizes: [Size4K] }] },
      { name: 'L2', caches: [{ entries: 64, ways: 8, pageSizes: ALL_SIZES }] },
    ],
    instructionPath: ['L2', 'L1'],
    dataPath: ['L2', 'L1'],
    promoteOnHit: false,
  }),
  hierarchy('Skylake-class preset', skylakeTlb.config),
  hierarchy('Zen-class preset', zenTlb.config),
  hierarchy('Golden Cove-class preset', goldenCoveTlb.config),
  hierarchy('Zen 4-class preset', zen4Tlb.config),
  hierarchy('Zen 5-class preset', zen5Tlb.config),
];

for (const org of organizations) describeTlbContract(org);
