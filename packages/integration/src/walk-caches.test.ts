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
  PteFlag,
  RefFlag,
  WalkTrace,
} from '@hvsim/cpu-core';
import { type MmuCaches, NestedMmu, TranslateStatus, Translation } from '@hvsim/mmu-nested';
import {
  PageSize,
  PagingStructureCache,
  TagTable,
  TlbHierarchy,
  TranslationCache,
  WalkEntry,
} from '@hvsim/tlb-tagged';
import { NptStage } from '@hvsim/vendor-amd';
import { EptBuilder, EptStage } from '@hvsim/vendor-intel';
import { describe, expect, it } from 'vitest';

/*
 * What each cache of the two-dimensional walk saves (Bhargava et al., ASPLOS 2008), counted on a
 * 4-level guest over 4-level nested tables. Uncached: 4 guest entries, each after a 4-step nested
 * walk, then a 4-step nested walk of the final address: 24. A guest walk cache holding the PDE skips
 * three guest levels and their nested walks: 4 + 1 + 4 = 9. A nested TLB holding the guest table
 * pages skips the nested walks of the entries' addresses: 4 guest + 4 final = 8; with both: 1 + 4 = 5.
 * A nested walk cache holding the nested PDE leaves one reference per nested walk: 4 + 4 + 1 = 9.
 * A TLB hit makes no reference.
 */

const LINEAR_A = 0x7000_0000;
const LINEAR_B = 0x7000_1000; // same page table as A
const DATA = 0x40_0000;

function build(vendor: 'amd' | 'intel', caches: (tags: TagTable) => MmuCaches, nestedWalkCache = false) {
  const memory = new PhysicalMemory();
  const guestFrames = new FrameAllocator(0x10_0000, 0x20_0000);
  const gpt = new PageTableBuilder(memory, PagingMode.Level4, () => guestFrames.allocate());
  gpt.map(LINEAR_A, DATA);
  gpt.map(LINEAR_B, DATA + 0x1000);
  const hostFrames = new FrameAllocator(0x1000_0000, 0x1100_0000);
  const gpas = [DATA, DATA + 0x1000];
  for (let gpa = 0x10_0000; gpa < guestFrames.watermark; gpa += 0x1000) gpas.push(gpa);
  let stage: NptStage | EptStage;
  if (vendor === 'amd') {
    const npt = new PageTableBuilder(memory, PagingMode.Level4, () => hostFrames.allocate());
    for (const gpa of gpas) npt.map(gpa, gpa, { flags: PteFlag.P | PteFlag.RW | PteFlag.US });
    stage = new NptStage(memory, {
      nestedCr3: npt.root,
      ...(nestedWalkCache ? { walkCache: walkCache(new TagTable()) } : {}),
    });
  } else {
    const ept = new EptBuilder(memory, () => hostFrames.allocate());
    for (const gpa of gpas) ept.map(gpa, gpa);
    stage = new EptStage(memory, {
      eptp: ept.eptp(false),
      ...(nestedWalkCache ? { walkCache: walkCache(new TagTable()) } : {}),
    });
  }
  const guest = new CpuState();
  guest.setControlRegisters({ cr0: Cr0.PE | Cr0.PG, cr3: gpt.root, cr4: Cr4.PAE, efer: Efer.LME });
  const tags = new TagTable();
  return new NestedMmu(memory, guest, stage, caches(tags));
}

const walkCache = (tags: TagTable) =>
  new PagingStructureCache(
    {
      levels: [
        { kind: WalkEntry.Pde, entries: 16, ways: 4 },
        { kind: WalkEntry.Pdpte, entries: 4, ways: 4 },
        { kind: WalkEntry.Pml4e, entries: 2, ways: 2 },
      ],
    },
    tags,
  );
const nestedTlb = (tags: TagTable) =>
  new TranslationCache({ name: 'nested TLB', entries: 16, ways: 4, pageSizes: [PageSize.Size4K] }, tags);
const tlb = (tags: TagTable) =>
  new TlbHierarchy(
    {
      name: 'one level',
      levels: [
        { name: 'L1', caches: [{ name: 'L1 4K', entries: 16, ways: 4, pageSizes: [PageSize.Size4K] }] },
      ],
      instructionPath: ['L1'],
      dataPath: ['L1'],
    },
    tags,
  );

function second(mmu: NestedMmu): { references: number; tlbHit: boolean; cached: number } {
  const out = new Translation();
  expect(mmu.translate(LINEAR_A, 0, AccessKind.Read, Privilege.Supervisor, out)).toBe(TranslateStatus.Ok);
  const trace = new WalkTrace();
  mmu.trace = trace;
  expect(mmu.translate(LINEAR_B, 0, AccessKind.Read, Privilege.Supervisor, out)).toBe(TranslateStatus.Ok);
  expect(out.hostPhysical).toBe(DATA + 0x1000);
  let cached = 0;
  for (let i = 0; i < trace.count; i++) if ((trace.flags[i] & RefFlag.Cached) !== 0) cached++;
  return { references: out.references, tlbHit: out.tlbHit, cached };
}

describe('what each walk cache saves, 4-level guest over 4-level nested tables', () => {
  for (const vendor of ['amd', 'intel'] as const) {
    it(`${vendor}: none 24, guest walk cache 9, nested TLB 8, both 5`, () => {
      expect(second(build(vendor, () => ({}))).references).toBe(24);
      const psc = second(build(vendor, (tags) => ({ walkCache: walkCache(tags) })));
      expect(psc).toEqual({ references: 9, tlbHit: false, cached: 3 });
      const ntlb = second(build(vendor, (tags) => ({ nestedTlb: nestedTlb(tags) })));
      expect(ntlb).toEqual({ references: 8, tlbHit: false, cached: 4 });
      const both = second(
        build(vendor, (tags) => ({ walkCache: walkCache(tags), nestedTlb: nestedTlb(tags) })),
      );
      expect(both).toEqual({ references: 5, tlbHit: false, cached: 4 });
    });

    it(`${vendor}: a nested walk cache resumes every nested walk at the nested PTE: 4 + 4x1 + 1 = 9`, () => {
      const nested = second(build(vendor, () => ({}), true));
      // Each of the 5 nested walks saves its 3 upper levels.
      expect(nested).toEqual({ references: 9, tlbHit: false, cached: 15 });
    });

    it(`${vendor}: a TLB hit makes no memory reference`, () => {
      const mmu = build(vendor, (tags) => ({ tlb: tlb(tags) }));
      const out = new Translation();
      mmu.translate(LINEAR_A, 0, AccessKind.Read, Privilege.Supervisor, out);
      expect(mmu.translate(LINEAR_A + 8, 0, AccessKind.Read, Privilege.Supervisor, out)).toBe(
        TranslateStatus.Ok,
      );
      expect({ hit: out.tlbHit, references: out.references, host: out.hostPhysical }).toEqual({
        hit: true,
        references: 0,
        host: DATA + 8,
      });
      // A write to the page cached with D=0 goes back to the walker, which sets D (SDM vol. 3A §4.8).
      mmu.translate(LINEAR_A, 0, AccessKind.Write, Privilege.Supervisor, out);
      expect(out.tlbHit).toBe(false);
      mmu.translate(LINEAR_A, 0, AccessKind.Write, Privilege.Supervisor, out);
      expect(out.tlbHit).toBe(true);
    });
  }
});
