/**
 * TLB hit throughput against a bare typed-array loop that does one load per lookup. Both loops walk
 * the same precomputed array of page numbers (all of which hit), so the ratio is the cost of the TLB
 * logic: set index, tag compare, context compare, permission compare, replacement update and stats.
 *
 * Run: pnpm --filter @hvsim/tlb-tagged bench
 */
import { compareToBaseline } from '@hvsim/dev-utils';
import {
  AccessKind,
  Need,
  PageSize,
  Perm,
  ReplacementPolicy,
  skylakeTlb,
  TagTable,
  TlbHierarchy,
  type TlbOrganization,
  TranslationCache,
} from '@hvsim/tlb-tagged';

const STREAM = 1 << 14;

/** A seeded stream of page numbers drawn from `pages` (xorshift32, so runs are comparable). */
function stream(pages: readonly number[]): Float64Array {
  const out = new Float64Array(STREAM);
  let x = 0x12345678;
  for (let i = 0; i < STREAM; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = pages[(x >>> 0) % pages.length];
  }
  return out;
}

let sink = 0;

// Each loop is compiled from its own source text (new Function, with a unique comment so V8's
// compilation cache cannot hand two cases the same function), so that no two cases share type
// feedback or lose TurboFan's specialization on their captured TLB: an MMU's lookup call site sees
// one TLB. Baseline and cases run the same loop over the same page numbers; only the body differs.
type Loop = () => number;
let loopId = 0;

function baseline(entries: number, vpns: Float64Array) {
  const table = new Float64Array(entries).map((_, i) => i * 4096);
  const loop = new Function(
    'table',
    'vpns',
    'mask',
    `// loop ${loopId++}
    return function baselineLoop() {
      let sum = 0;
      for (let i = 0; i < vpns.length; i++) sum += table[vpns[i] & mask];
      return sum;
    };`,
  )(table, vpns, entries - 1) as Loop;
  return {
    name: `typed-array loop, ${entries} slots`,
    ops: vpns.length,
    fn: () => {
      sink += loop();
    },
  };
}

function tlbCase(name: string, tlb: TlbOrganization, ctx: number, vpns: Float64Array) {
  const loop = new Function(
    'tlb',
    'ctx',
    'vpns',
    'access',
    'need',
    `// loop ${loopId++}
    return function tlbLoop() {
      let sum = 0;
      for (let i = 0; i < vpns.length; i++) sum += tlb.lookup(ctx, vpns[i], access, need);
      return sum;
    };`,
  )(tlb, ctx, vpns, AccessKind.Read, Need.Read) as Loop;
  return {
    name,
    ops: vpns.length,
    fn: () => {
      sink += loop();
    },
  };
}

function filledCache(entries: number, ways: number, policy: ReplacementPolicy) {
  const tags = new TagTable();
  const ctx = tags.context(1, 0);
  const tlb = new TranslationCache({ entries, ways, pageSizes: [PageSize.Size4K], policy }, tags);
  const pages = Array.from({ length: entries }, (_, i) => i);
  for (const p of pages) tlb.fill(ctx, p, AccessKind.Read, PageSize.Size4K, (p + 0x100) * 4096, Perm.Write);
  const vpns = stream(pages);
  // Every page of the stream must hit, or the comparison is meaningless.
  for (const v of vpns)
    if (tlb.lookup(ctx, v, AccessKind.Read, Need.Read) < 0) throw new Error(`${v} missed`);
  return { tlb, ctx, vpns };
}

const l1 = filledCache(64, 4, ReplacementPolicy.Lru);
const l1Plru = filledCache(64, 4, ReplacementPolicy.TreePlru);
const l1Fifo = filledCache(64, 4, ReplacementPolicy.Fifo);
await compareToBaseline('L1: 64 entries, 4-way, 4 KiB pages (hits only)', baseline(64, l1.vpns), [
  tlbCase('TLB lookup, LRU', l1.tlb, l1.ctx, l1.vpns),
  tlbCase('TLB lookup, tree-PLRU', l1Plru.tlb, l1Plru.ctx, l1Plru.vpns),
  tlbCase('TLB lookup, FIFO', l1Fifo.tlb, l1Fifo.ctx, l1Fifo.vpns),
]);

const l2 = filledCache(1536, 12, ReplacementPolicy.Lru);
const l2Plru = filledCache(1536, 12, ReplacementPolicy.TreePlru);
await compareToBaseline('L2: 1536 entries, 12-way, 4 KiB pages (hits only)', baseline(2048, l2.vpns), [
  tlbCase('TLB lookup, LRU', l2.tlb, l2.ctx, l2.vpns),
  tlbCase('TLB lookup, tree-PLRU', l2Plru.tlb, l2Plru.ctx, l2Plru.vpns),
]);

// The whole Skylake-class hierarchy, on pages that stay in its L1 DTLB.
const sky = new TlbHierarchy(skylakeTlb.config);
const skyCtx = sky.tags.context(1, 0);
const skyPages = Array.from({ length: 64 }, (_, i) => i);
for (const p of skyPages)
  sky.fill(skyCtx, p, AccessKind.Read, PageSize.Size4K, (p + 0x100) * 4096, Perm.Write);
const skyVpns = stream(skyPages);
await compareToBaseline('Skylake-class hierarchy, data reads hitting the L1 DTLB', baseline(64, skyVpns), [
  tlbCase('hierarchy lookup', sky, skyCtx, skyVpns),
]);

if (sink === 0.5) console.log(sink);
