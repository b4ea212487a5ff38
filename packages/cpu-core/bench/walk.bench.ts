/**
 * One-dimensional page walks per second, every access a full walk (no TLB, no walk caches): a
 * 4-level walk (4 references) and a PAE walk through the PDPTE registers (2 references), each against
 * a loop that makes the same number of memory reads (one PhysicalMemory.readWord per reference, at
 * the addresses the walk reads, in the same order) with no paging logic. The ratio is the cost of the
 * paging logic: index extraction, present/reserved/permission checks, A/D tests, the result.
 *
 * The working set is 4096 pages in 64 regions of 64 pages scattered over the linear address space
 * (so the walks spread over 184 table pages in 4-level paging and 68 in PAE paging, as a process's
 * mappings do), walked round-robin in a fixed shuffled order. A warm-up pass sets every A and D bit,
 * so the timed walks write nothing.
 *
 * Run: pnpm --filter @hvsim/cpu-core bench
 */
import {
  AccessKind,
  CpuState,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  loadPdptes,
  PageTableBuilder,
  PageWalker,
  PagingMode,
  PhysicalMemory,
  Privilege,
  RefFlag,
  WalkResult,
  WalkStatus,
  WalkTrace,
} from '@hvsim/cpu-core';
import { compareToBaseline } from '@hvsim/dev-utils';

const REGIONS = 64;
const PAGES_PER_REGION = 64;
const PAGES = REGIONS * PAGES_PER_REGION;
const TWO_32 = 2 ** 32;

/** xorshift32, seeded, so every run walks the same addresses. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/**
 * `PAGES` linear page addresses: `REGIONS` regions of `PAGES_PER_REGION` contiguous pages at random
 * region-aligned bases below `limit` (with `upperHalf`, every eighth region moved to the canonical
 * upper half, where a kernel's mappings are), in a shuffled order.
 */
function workingSet(limit: number, upperHalf: boolean, seed: number): bigint[] {
  const next = random(seed);
  const regionBytes = PAGES_PER_REGION * 4096;
  const bases = new Set<number>();
  while (bases.size < REGIONS) {
    const slot = (next() * 2 ** 21 + (next() >>> 11)) % (limit / regionBytes);
    bases.add(slot * regionBytes);
  }
  const pages: bigint[] = [];
  let r = 0;
  for (const base of bases) {
    const start = BigInt(base) + (upperHalf && r++ % 8 === 7 ? 0xffff_8000_0000_0000n : 0n);
    for (let p = 0; p < PAGES_PER_REGION; p++) pages.push(start + BigInt(p * 4096));
  }
  for (let i = pages.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [pages[i], pages[j]] = [pages[j], pages[i]];
  }
  return pages;
}

interface Setup {
  readonly memory: PhysicalMemory;
  readonly walker: PageWalker;
  readonly lo: Uint32Array;
  readonly hi: Uint32Array;
  /** Physical addresses of the entries each walk reads, `references` per walk. */
  readonly refs: Float64Array;
  readonly references: number;
}

function setup(mode: PagingMode, pages: bigint[]): Setup {
  const memory = new PhysicalMemory({ maxPhysicalAddressBits: mode === PagingMode.Pae ? 36 : 46 });
  const frames = new FrameAllocator(0x10_0000, 0x1000_0000);
  const builder = new PageTableBuilder(memory, mode, () => frames.allocate());
  const lo = new Uint32Array(pages.length);
  const hi = new Uint32Array(pages.length);
  pages.forEach((linear, k) => {
    // Data frames above 4 GiB; the walk never touches them, so they cost no memory.
    builder.map(linear, TWO_32 + k * 4096);
    const offset = (k * 88) % 4096;
    lo[k] = Number(linear & 0xffff_ffffn) + offset;
    hi[k] = Number(linear >> 32n);
  });
  const state = new CpuState();
  const long = mode === PagingMode.Level4;
  state.setControlRegisters({
    cr0: Cr0.PE | Cr0.PG | Cr0.WP,
    cr3: builder.root,
    cr4: Cr4.PAE,
    efer: (long ? Efer.LME : 0) | Efer.NXE,
  });
  if (mode === PagingMode.Pae && loadPdptes(memory, state) !== WalkStatus.Ok)
    throw new Error('PDPTE load failed');
  const walker = new PageWalker(memory, state);
  const out = new WalkResult();
  // Warm-up: a write walk sets A at every level and D in every leaf.
  for (let k = 0; k < pages.length; k++) {
    if (walker.walk(lo[k], hi[k], AccessKind.Write, Privilege.User, out) !== WalkStatus.Ok) {
      throw new Error(`page ${k} is not mapped`);
    }
    if (out.physical !== TWO_32 + k * 4096 + (lo[k] % 4096)) throw new Error(`page ${k} maps elsewhere`);
  }
  // Record the references of each (read) walk, and check that none of them writes.
  const references = long ? 4 : 2;
  const refs = new Float64Array(pages.length * references);
  const trace = new WalkTrace();
  walker.trace = trace;
  for (let k = 0; k < pages.length; k++) {
    trace.clear();
    walker.walk(lo[k], hi[k], AccessKind.Read, Privilege.User, out);
    if (trace.count !== references) throw new Error(`walk ${k} made ${trace.count} references`);
    for (let r = 0; r < references; r++) {
      if ((trace.flags[r] & RefFlag.Updated) !== 0) throw new Error(`walk ${k} wrote an entry`);
      refs[k * references + r] = trace.address[r];
    }
  }
  walker.trace = null;
  return { memory, walker, lo, hi, refs, references };
}

let sink = 0;

// Each timed loop is compiled from its own source text (new Function), so that no two cases share
// type feedback or optimized code: the 4-level and PAE loops would otherwise be one closure's code.
type Loop = () => number;

function baseline(s: Setup) {
  const loop = new Function(
    'memory',
    'refs',
    `return function readLoop() {
      let x = 0;
      for (let i = 0; i < refs.length; i++) x ^= memory.readWord(refs[i]);
      return x;
    };`,
  )(s.memory, s.refs) as Loop;
  return {
    name: `readWord loop, ${s.references} reads per walk`,
    ops: PAGES,
    fn: () => {
      sink ^= loop();
    },
  };
}

function walks(name: string, s: Setup) {
  const loop = new Function(
    'walker',
    'lo',
    'hi',
    'out',
    'read',
    'user',
    `return function walkLoop() {
      let failed = 0;
      for (let i = 0; i < lo.length; i++) failed |= walker.walk(lo[i], hi[i], read, user, out);
      if (failed !== 0) throw new Error('a timed walk failed');
      return out.pageShift;
    };`,
  )(s.walker, s.lo, s.hi, new WalkResult(), AccessKind.Read, Privilege.User) as Loop;
  return {
    name,
    ops: PAGES,
    fn: () => {
      sink ^= loop();
    },
  };
}

console.log(
  [
    'hvsim cpu-core: one-dimensional page walks per second (every access a full walk, no TLB).',
    `${PAGES} pages in ${REGIONS} scattered regions, walked round-robin; A/D already set, so no writes.`,
    'Baseline: the same entry addresses read with PhysicalMemory.readWord and no paging logic.',
    '"x baseline time" is the time of a walk over the time of its baseline reads.',
  ].join('\n'),
);

const level4 = setup(PagingMode.Level4, workingSet(2 ** 47, true, 0x1234_5678));
await compareToBaseline('4-level paging: 4 references per walk', baseline(level4), [
  walks('4-level walk', level4),
]);

const pae = setup(PagingMode.Pae, workingSet(TWO_32, false, 0x0bad_cafe));
await compareToBaseline('PAE paging, PDPTE registers: 2 references per walk', baseline(pae), [
  walks('PAE walk', pae),
]);

if (sink === 0.5) console.log(sink);
