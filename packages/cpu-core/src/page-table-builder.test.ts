import { describe, expect, it } from 'vitest';
import { AccessKind, Privilege } from './access.js';
import { CpuState } from './cpu-state.js';
import { FrameAllocator, PageSize, PageTableBuilder, PteFlag } from './page-table-builder.js';
import { loadPdptes, PageWalker } from './page-walker.js';
import { PagingMode } from './paging-mode.js';
import { PhysicalMemory } from './physical-memory.js';
import { Cr0, Cr4, Efer } from './registers.js';
import { WalkResult, WalkStatus, WalkTrace } from './walk-result.js';

/*
 * The builder maps pages and the walker translates them: the expected physical addresses are the
 * ones mapped. Where the test checks a raw entry, the expected bits come from the entry formats of
 * Intel SDM vol. 3A Tables 4-4 to 4-20.
 */

const R = AccessKind.Read;
const SUP = Privilege.Supervisor;
const PG = Cr0.PE | Cr0.PG;
const TABLES = 0x10_0000; // page tables live in [1 MiB, 2 MiB)

interface Setup {
  mode: PagingMode;
  cr4: number;
  efer: number;
  maxPhysicalAddressBits: number;
}

const MODES: Record<string, Setup> = {
  legacy32: { mode: PagingMode.Legacy32, cr4: Cr4.PSE, efer: 0, maxPhysicalAddressBits: 40 },
  pae: { mode: PagingMode.Pae, cr4: Cr4.PAE, efer: Efer.NXE, maxPhysicalAddressBits: 36 },
  level4: { mode: PagingMode.Level4, cr4: Cr4.PAE, efer: Efer.LME | Efer.NXE, maxPhysicalAddressBits: 46 },
  level5: {
    mode: PagingMode.Level5,
    cr4: Cr4.PAE | Cr4.LA57,
    efer: Efer.LME | Efer.NXE,
    maxPhysicalAddressBits: 52,
  },
};

function machine(setup: Setup) {
  const memory = new PhysicalMemory({ maxPhysicalAddressBits: setup.maxPhysicalAddressBits });
  const frames = new FrameAllocator(TABLES, 2 * TABLES);
  const builder = new PageTableBuilder(memory, setup.mode, () => frames.allocate());
  const state = new CpuState();
  state.setControlRegisters({ cr0: PG, cr3: builder.root, cr4: setup.cr4, efer: setup.efer });
  expect(state.mode).toBe(setup.mode);
  const walker = new PageWalker(memory, state);
  const out = new WalkResult();
  /** Walks `linear` (a BigInt, split into halves) for a supervisor read. */
  const translate = (linear: bigint): WalkStatus => {
    if (setup.mode === PagingMode.Pae) expect(loadPdptes(memory, state)).toBe(WalkStatus.Ok);
    return walker.walk(Number(linear & 0xffff_ffffn), Number(linear >> 32n), R, SUP, out);
  };
  return { memory, frames, builder, state, walker, out, translate };
}

describe('PageTableBuilder maps pages the walker translates', () => {
  it('32-bit paging: 4 KiB pages and 4 MiB pages with PSE-36 address bits 39:32', () => {
    const m = machine(MODES.legacy32);
    expect(m.builder.levels).toBe(2);
    expect(m.builder.entryBytes).toBe(4);
    m.builder.map(0x0804_8000, 0x0123_4000);
    m.builder.map(0xc000_0000, 0xfedc_b000);
    m.builder.map(0x8040_0000, 0x12_0040_0000, { size: PageSize.Size4M });
    expect(m.translate(0x0804_8abcn)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x0123_4abc);
    expect(m.out.pageShift).toBe(12);
    expect(m.translate(0xc000_0ffcn)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0xfedc_bffc);
    expect(m.translate(0x805f_fffen)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x12_005f_fffe);
    expect(m.out.pageShift).toBe(22);
    // SDM Table 4-4: address bits 31:22 in PDE bits 31:22, bits 39:32 in PDE bits 20:13, PS (bit 7).
    const pde = m.memory.readWord(m.builder.root + (0x8040_0000 >>> 22) * 4);
    expect(pde).toBe(
      (0x0040_0000 | (0x12 << 13) | PteFlag.PS | PteFlag.A | PteFlag.US | PteFlag.RW | PteFlag.P) >>> 0,
    );
  });

  it('PAE paging: 4 KiB and 2 MiB pages, PDPTEs with only P set', () => {
    const m = machine(MODES.pae);
    expect(m.builder.levels).toBe(3);
    m.builder.map(0x0040_1000, 0x8_7654_3000);
    m.builder.map(0xc020_0000, 0x0fe0_0000, { size: PageSize.Size2M });
    expect(m.translate(0x0040_1234n)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x8_7654_3234);
    expect(m.out.pageShift).toBe(12);
    expect(m.translate(0xc03f_ffffn)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x0fff_ffff);
    expect(m.out.pageShift).toBe(21);
    // PDPTE bits 2:1 and 8:5 are reserved (SDM Table 4-8): the builder sets P alone.
    expect(m.memory.readWord(m.builder.root + 3 * 8) & 0xfff).toBe(PteFlag.P);
    expect(m.memory.readWord(m.builder.root) & 0xfff).toBe(PteFlag.P);
  });

  it('4-level paging: 4 KiB, 2 MiB and 1 GiB pages, low and high canonical halves', () => {
    const m = machine(MODES.level4);
    expect(m.builder.levels).toBe(4);
    m.builder.map(0x0000_7fff_ffff_f000n, 0x3fff_ffff_f000);
    m.builder.map(0xffff_8000_0000_0000n, 0x20_0000, { size: PageSize.Size2M });
    m.builder.map(0xffff_ffff_c000_0000n, 0x1_4000_0000, { size: PageSize.Size1G });
    m.builder.map(0x40_0000, 0x1000, { flags: PteFlag.P | PteFlag.US, noExecute: true });
    expect(m.translate(0x0000_7fff_ffff_fff8n)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x3fff_ffff_fff8);
    expect(m.out.references).toBe(4);
    expect(m.translate(0xffff_8000_0012_3456n)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x32_3456);
    expect(m.out.pageShift).toBe(21);
    expect(m.out.references).toBe(3);
    expect(m.translate(0xffff_ffff_dead_beefn)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x1_5ead_beef);
    expect(m.out.pageShift).toBe(30);
    expect(m.out.references).toBe(2);
    // Flags reach the leaf: read-only, no-execute.
    expect(m.walker.walk(0x40_0010, 0, AccessKind.Write, Privilege.User, m.out)).toBe(WalkStatus.PageFault);
    expect(m.walker.walk(0x40_0010, 0, AccessKind.Execute, Privilege.User, m.out)).toBe(WalkStatus.PageFault);
    expect(m.walker.walk(0x40_0010, 0, R, Privilege.User, m.out)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0x1010);
  });

  it('4-level paging: protection keys go to bits 62:59 of the leaf', () => {
    const m = machine(MODES.level4);
    m.builder.map(0x5000, 0x9000, { protectionKey: 0xb });
    const pte = m.builder.entryAddress(0x5000, 1)!;
    expect(m.memory.readWord(pte + 4) >>> 27).toBe(0xb);
    m.walker.walk(0x5000, 0, R, SUP, m.out);
    expect(m.out.protectionKey).toBe(0xb);
  });

  it('5-level paging: 4 KiB and 1 GiB pages above the 4-level 256 TiB limit', () => {
    const m = machine(MODES.level5);
    expect(m.builder.levels).toBe(5);
    m.builder.map(0x00ab_cdef_1234_5000n, 0xf_ffff_ffff_f000);
    m.builder.map(0xff00_0000_4000_0000n, 0x8000_0000, { size: PageSize.Size1G });
    expect(m.translate(0x00ab_cdef_1234_5678n)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0xf_ffff_ffff_f678);
    expect(m.out.references).toBe(5);
    expect(m.translate(0xff00_0000_7fff_fff0n)).toBe(WalkStatus.Ok);
    expect(m.out.physical).toBe(0xbfff_fff0);
    expect(m.out.references).toBe(3);
  });

  it('shares upper tables between mappings and allocates only what it needs', () => {
    const m = machine(MODES.level4);
    m.builder.map(0x1000, 0x1000);
    expect(m.frames.watermark).toBe(TABLES + 4 * 4096); // PML4, PDPT, PD, PT
    m.builder.map(0x2000, 0x2000); // same PT
    expect(m.frames.watermark).toBe(TABLES + 4 * 4096);
    m.builder.map(0x20_0000, 0x3000); // new PT under the same PD
    expect(m.frames.watermark).toBe(TABLES + 5 * 4096);
    for (const linear of [0x1000, 0x2000, 0x20_0000]) {
      expect(m.translate(BigInt(linear))).toBe(WalkStatus.Ok);
    }
    expect(m.out.physical).toBe(0x3000);
  });

  it("returns the leaf entry's address: the PT entry of a 4 KiB page, the PDE of a 2 MiB one", () => {
    const m = machine(MODES.level4);
    // 0x1000's PTE is entry 1 of the PT (the fourth table allocated); 0x40_0000's PDE entry 2 of the PD.
    const pte = m.builder.map(0x1000, 0x5000);
    expect(pte).toBe(TABLES + 3 * 4096 + 1 * 8);
    expect(m.builder.entryAddress(0x1000, 1)).toBe(pte);
    const pde = m.builder.map(0x40_0000, 0x20_0000, { size: PageSize.Size2M });
    expect(pde).toBe(TABLES + 2 * 4096 + 2 * 8);
    expect(m.builder.entryAddress(0x40_0000, 2)).toBe(pde);
  });
});

describe('PageTableBuilder errors', () => {
  const noAllocation = () => 0x1000;

  it('rejects page sizes the mode lacks', () => {
    const memory = new PhysicalMemory();
    const legacy = new PageTableBuilder(memory, PagingMode.Legacy32, noAllocation);
    expect(() => legacy.map(0, 0, { size: PageSize.Size2M })).toThrow(
      'page size 0x200000 does not exist in this paging mode',
    );
    expect(() => legacy.map(0, 0, { size: PageSize.Size1G })).toThrow(RangeError);
    const pae = new PageTableBuilder(memory, PagingMode.Pae, noAllocation);
    expect(() => pae.map(0, 0, { size: PageSize.Size4M })).toThrow('page size 0x400000 does not exist');
    expect(() => pae.map(0, 0, { size: PageSize.Size1G })).toThrow('page size 0x40000000 does not exist');
    for (const mode of [PagingMode.Level4, PagingMode.Level5]) {
      const long = new PageTableBuilder(memory, mode, noAllocation);
      expect(() => long.map(0, 0, { size: PageSize.Size4M })).toThrow(RangeError);
    }
    expect(() => new PageTableBuilder(memory, PagingMode.None, noAllocation)).toThrow(
      'no page tables exist without paging',
    );
  });

  it('rejects linear or physical addresses not aligned to the page size', () => {
    const memory = new PhysicalMemory();
    const builder = new PageTableBuilder(memory, PagingMode.Level4, noAllocation);
    expect(() => builder.map(0x1800, 0x2000)).toThrow(
      'mapping 0x1800 -> 0x2000 is not aligned to its page size',
    );
    expect(() => builder.map(0x1000, 0x2010)).toThrow(/is not aligned/);
    expect(() => builder.map(0x20_0000, 0x1000, { size: PageSize.Size2M })).toThrow(/is not aligned/);
    expect(() => builder.map(0x4000_0000n + 0x20_0000n, 0, { size: PageSize.Size1G })).toThrow(
      /is not aligned/,
    );
    const legacy = new PageTableBuilder(memory, PagingMode.Legacy32, noAllocation);
    expect(() => legacy.map(0x20_0000, 0, { size: PageSize.Size4M })).toThrow(/is not aligned/);
    expect(memory.touchedFrames).toBe(0);
  });

  it('FrameAllocator hands out aligned frames and reports exhaustion', () => {
    expect(() => new FrameAllocator(0x1800, 0x4000)).toThrow(/is not 4 KiB aligned and non-empty/);
    expect(() => new FrameAllocator(0x4000, 0x4000)).toThrow(RangeError);
    const frames = new FrameAllocator(0x4000, 0x6000);
    expect(frames.allocate()).toBe(0x4000);
    expect(frames.allocate()).toBe(0x5000);
    expect(frames.watermark).toBe(0x6000);
    expect(() => frames.allocate()).toThrow('frame allocator exhausted');
  });
});

describe('PageTableBuilder.entryAddress', () => {
  /** The walker's recorded reference addresses, top level first. */
  function walkedAddresses(m: ReturnType<typeof machine>, linear: bigint): number[] {
    const trace = new WalkTrace();
    m.walker.trace = trace;
    expect(m.translate(linear)).toBe(WalkStatus.Ok);
    m.walker.trace = null;
    return Array.from(trace.address.subarray(0, trace.count));
  }

  it('gives the address of the entry the walker reads at each level', () => {
    const m = machine(MODES.level4);
    const linear = 0x0000_1234_5678_9000n;
    m.builder.map(linear, 0x7000);
    // Indices from the linear address (SDM §4.5.4): PML4 bits 47:39, PDPT 38:30, PD 29:21, PT 20:12.
    const index = (shift: bigint) => Number((linear >> shift) & 511n);
    const pml4e = m.builder.entryAddress(linear, 4)!;
    expect(pml4e).toBe(m.builder.root + index(39n) * 8);
    const levels = [4, 3, 2, 1].map((level) => m.builder.entryAddress(linear, level));
    expect(levels).toEqual(walkedAddresses(m, linear));
    expect(levels[3]! % 4096).toBe(index(12n) * 8);
  });

  it('uses 4-byte entries in 32-bit paging and the 32-byte PDPT in PAE paging', () => {
    const legacy = machine(MODES.legacy32);
    legacy.builder.map(0x8040_1000, 0x5000);
    expect(legacy.builder.entryAddress(0x8040_1000, 2)).toBe(legacy.builder.root + 0x201 * 4);
    expect([2, 1].map((l) => legacy.builder.entryAddress(0x8040_1000, l))).toEqual(
      walkedAddresses(legacy, 0x8040_1000n),
    );
    const pae = machine(MODES.pae);
    pae.builder.map(0xc040_3000, 0x5000);
    expect(pae.builder.entryAddress(0xc040_3000, 3)).toBe(pae.builder.root + 3 * 8);
    // The PDPTE comes from a register: the walker's references are the PDE and the PTE.
    expect([2, 1].map((l) => pae.builder.entryAddress(0xc040_3000, l))).toEqual(
      walkedAddresses(pae, 0xc040_3000n),
    );
  });

  it('is null below a missing entry or a large page', () => {
    const m = machine(MODES.level4);
    expect(m.builder.entryAddress(0x1000, 4)).toBe(m.builder.root);
    expect(m.builder.entryAddress(0x1000, 3)).toBeNull();
    m.builder.map(0x4000_0000, 0x4000_0000, { size: PageSize.Size1G });
    expect(m.builder.entryAddress(0x4000_0000, 3)).not.toBeNull();
    expect(m.builder.entryAddress(0x4000_0000, 2)).toBeNull();
    m.builder.map(0x20_0000, 0x20_0000, { size: PageSize.Size2M });
    expect(m.builder.entryAddress(0x20_0000, 2)).not.toBeNull();
    expect(m.builder.entryAddress(0x20_0000, 1)).toBeNull();
    const legacy = machine(MODES.legacy32);
    legacy.builder.map(0x40_0000, 0x40_0000, { size: PageSize.Size4M });
    expect(legacy.builder.entryAddress(0x40_0000, 1)).toBeNull();
  });

  it('refuses 32-bit mappings the entry format cannot hold (SDM vol. 3A Table 4-4, 4-6)', () => {
    const memory = new PhysicalMemory();
    const frames = new FrameAllocator(0x1000, 0x10_0000);
    const builder = new PageTableBuilder(memory, PagingMode.Legacy32, () => frames.allocate());
    expect(() => builder.map(0x40_0000, 0x1_0000_0000)).toThrow(
      /cannot map physical 0x100000000 with a 4 KiB page/,
    );
    expect(() => builder.map(0x40_0000, 0x100_0000_0000, { size: PageSize.Size4M })).toThrow(/4 MiB page/);
    builder.map(0x40_0000, 0xff_0000_0000 + 0x40_0000 * 3, { size: PageSize.Size4M });
  });
});
