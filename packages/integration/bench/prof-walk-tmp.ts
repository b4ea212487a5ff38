/**
 * Two-dimensional walks per second: a 4-level guest over 4-level nested tables (AMD NPT and Intel
 * EPT), every access a full 24-reference walk (no TLB, no walk caches), against a loop that makes the
 * same 24 memory reads per access through PhysicalMemory.readWord with no paging logic.
 */
import {
  AccessKind,
  CpuState,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  PageTableBuilder,
  PagingMode,
  PhysicalMemory,
  Privilege,
  WalkTrace,
} from '@hvsim/cpu-core';
import { type MmuCaches, NestedMmu, Translation } from '@hvsim/mmu-nested';
import { compareToBaseline } from '@hvsim/test-utils';
import { PagingStructureCache, TagTable, WalkEntry } from '@hvsim/tlb-tagged';
import { NptStage } from '@hvsim/vendor-amd';
import { EptBuilder, EptStage } from '@hvsim/vendor-intel';

const PAGES = 4096;
const BASE = 0x10_0000_0000; // guest-linear base of the working set

function guestSetup(memory: PhysicalMemory) {
  const guestFrames = new FrameAllocator(0x100_0000, 0x200_0000);
  const gpt = new PageTableBuilder(memory, PagingMode.Level4, () => guestFrames.allocate());
  for (let i = 0; i < PAGES; i++) gpt.map(BASE + i * 0x1000 * 17, 0x400_0000 + i * 0x1000);
  const guest = new CpuState();
  guest.setControlRegisters({ cr0: Cr0.PE | Cr0.PG, cr3: gpt.root, cr4: Cr4.PAE, efer: Efer.LME | Efer.NXE });
  return { guest, tablesEnd: guestFrames.watermark };
}

function gpaRanges(tablesEnd: number): number[] {
  const gpas: number[] = [];
  for (let gpa = 0x100_0000; gpa < tablesEnd; gpa += 0x1000) gpas.push(gpa);
  for (let i = 0; i < PAGES; i++) gpas.push(0x400_0000 + i * 0x1000);
  return gpas;
}

/**
 * A guest walk cache big enough to hold every upper-level entry of the working set (warm after one
 * pass): PDEs 512, PDPTEs 64, PML4Es 16, as a large page walk cache would.
 */
function walkCaches(): MmuCaches {
  const walkCache = new PagingStructureCache(
    {
      levels: [
        { kind: WalkEntry.Pde, entries: 512, ways: 8 },
        { kind: WalkEntry.Pdpte, entries: 64, ways: 4 },
        { kind: WalkEntry.Pml4e, entries: 16, ways: 4 },
      ],
    },
    new TagTable(),
  );
  return { walkCache };
}

function amd(caches?: MmuCaches) {
  const memory = new PhysicalMemory();
  const { guest, tablesEnd } = guestSetup(memory);
  const hostFrames = new FrameAllocator(0x8000_0000, 0x9000_0000);
  const npt = new PageTableBuilder(memory, PagingMode.Level4, () => hostFrames.allocate());
  for (const gpa of gpaRanges(tablesEnd)) npt.map(gpa, gpa);
  const mmu = new NestedMmu(memory, guest, new NptStage(memory, { nestedCr3: npt.root }), caches);
  return { memory, mmu };
}

function intel(caches?: MmuCaches) {
  const memory = new PhysicalMemory();
  const { guest, tablesEnd } = guestSetup(memory);
  const hostFrames = new FrameAllocator(0x8000_0000, 0x9000_0000);
  const ept = new EptBuilder(memory, () => hostFrames.allocate());
  for (const gpa of gpaRanges(tablesEnd)) ept.map(gpa, gpa);
  const mmu = new NestedMmu(memory, guest, new EptStage(memory, { eptp: ept.eptp(true) }), caches);
  return { memory, mmu };
}

const addresses = Array.from({ length: PAGES }, (_, i) => BASE + ((i * 2654435761) % PAGES) * 0x1000 * 17);
const lows = new Uint32Array(addresses.map((a) => a % 2 ** 32));
const highs = new Uint32Array(addresses.map((a) => Math.floor(a / 2 ** 32)));

const a = amd();
const i = intel();
const aw = amd(walkCaches());
const iw = intel(walkCaches());
const out = new Translation();
// Warm every translation once so A/D bits are set and the timed walks write nothing.
for (let k = 0; k < PAGES; k++) {
  a.mmu.translate(lows[k], highs[k], AccessKind.Read, Privilege.User, out);
  i.mmu.translate(lows[k], highs[k], AccessKind.Read, Privilege.User, out);
  aw.mmu.translate(lows[k], highs[k], AccessKind.Read, Privilege.User, out);
  iw.mmu.translate(lows[k], highs[k], AccessKind.Read, Privilege.User, out);
}
// With warm walk caches each walk resumes at the guest PTE: 4 nested + 1 guest + 4 nested = 9 references.
aw.mmu.translate(lows[0], highs[0], AccessKind.Read, Privilege.User, out);
if (out.references !== 9)
  throw new Error(`expected 9 references with warm walk caches, got ${out.references}`);
// The baseline reads the 24 host-physical addresses the walk reads, in the same order.
const trace = new WalkTrace();
a.mmu.trace = trace;
const refs = new Float64Array(PAGES * 24);
for (let k = 0; k < PAGES; k++) {
  trace.clear();
  a.mmu.translate(lows[k], highs[k], AccessKind.Read, Privilege.User, out);
  if (trace.count !== 24) throw new Error(`expected 24 references, got ${trace.count}`);
  refs.set(trace.address.subarray(0, 24), k * 24);
}
a.mmu.trace = null;

const t0 = performance.now();
for (let rep = 0; rep < 400; rep++)
  for (let k = 0; k < PAGES; k++)
    (process.argv[2] === 'intel' ? i : a).mmu.translate(
      lows[k],
      highs[k],
      AccessKind.Read,
      Privilege.User,
      out,
    );
console.log('walks/s', Math.round((400 * PAGES) / ((performance.now() - t0) / 1000)));
