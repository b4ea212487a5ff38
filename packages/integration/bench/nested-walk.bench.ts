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
import { NestedMmu, Translation } from '@hvsim/mmu-nested';
import { compareToBaseline } from '@hvsim/test-utils';
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

function amd() {
  const memory = new PhysicalMemory();
  const { guest, tablesEnd } = guestSetup(memory);
  const hostFrames = new FrameAllocator(0x8000_0000, 0x9000_0000);
  const npt = new PageTableBuilder(memory, PagingMode.Level4, () => hostFrames.allocate());
  for (const gpa of gpaRanges(tablesEnd)) npt.map(gpa, gpa);
  const mmu = new NestedMmu(memory, guest, new NptStage(memory, { nestedCr3: npt.root }));
  return { memory, mmu };
}

function intel() {
  const memory = new PhysicalMemory();
  const { guest, tablesEnd } = guestSetup(memory);
  const hostFrames = new FrameAllocator(0x8000_0000, 0x9000_0000);
  const ept = new EptBuilder(memory, () => hostFrames.allocate());
  for (const gpa of gpaRanges(tablesEnd)) ept.map(gpa, gpa);
  const mmu = new NestedMmu(memory, guest, new EptStage(memory, { eptp: ept.eptp(true) }));
  return { memory, mmu };
}

const addresses = Array.from({ length: PAGES }, (_, i) => BASE + ((i * 2654435761) % PAGES) * 0x1000 * 17);
const lows = new Uint32Array(addresses.map((a) => a % 2 ** 32));
const highs = new Uint32Array(addresses.map((a) => Math.floor(a / 2 ** 32)));

const a = amd();
const i = intel();
const out = new Translation();
// Warm every translation once so A/D bits are set and the timed walks write nothing.
for (let k = 0; k < PAGES; k++) {
  a.mmu.translate(lows[k], highs[k], AccessKind.Read, Privilege.User, out);
  i.mmu.translate(lows[k], highs[k], AccessKind.Read, Privilege.User, out);
}
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

const BATCH = 1024;
let cursor = 0;
let sink = 0;
await compareToBaseline(
  '2-D walks, 4-level guest over 4-level nested tables, no TLB or walk caches (ops = walks)',
  {
    name: '24 bare readWord calls',
    ops: BATCH,
    fn: () => {
      const memory = a.memory;
      for (let n = 0; n < BATCH; n++) {
        const base = cursor * 24;
        for (let r = 0; r < 24; r++) sink ^= memory.readWord(refs[base + r]);
        cursor = (cursor + 1) % PAGES;
      }
    },
  },
  [
    {
      name: 'AMD NPT 2-D walk',
      ops: BATCH,
      fn: () => {
        for (let n = 0; n < BATCH; n++) {
          a.mmu.translate(lows[cursor], highs[cursor], AccessKind.Read, Privilege.User, out);
          cursor = (cursor + 1) % PAGES;
        }
      },
    },
    {
      name: 'Intel EPT 2-D walk (A/D on)',
      ops: BATCH,
      fn: () => {
        for (let n = 0; n < BATCH; n++) {
          i.mmu.translate(lows[cursor], highs[cursor], AccessKind.Read, Privilege.User, out);
          cursor = (cursor + 1) % PAGES;
        }
      },
    },
  ],
);
if (sink === 0.5) console.log(sink);
