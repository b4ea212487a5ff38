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
} from '@hvsim/cpu-core';
import { NestedFaultKind, NestedMmu, TranslateStatus, Translation } from '@hvsim/mmu-nested';
import {
  PageSize,
  PagingStructureCache,
  TagTable,
  TlbHierarchy,
  TranslationCache,
  WalkEntry,
} from '@hvsim/tlb-tagged';
import { NptStage } from '@hvsim/vendor-amd';
import { EptBuilder, EptFlag, EptStage } from '@hvsim/vendor-intel';
import { describe, expect, it } from 'vitest';

/*
 * What a second-stage fault invalidates (issue 14, rule 3). Intel SDM vol. 3C §29.4.3.1,
 * "Operations that invalidate cached mappings": an EPT violation invalidates the guest-physical
 * mappings that would be used to translate its guest-physical address and, when that address was
 * the translation of a linear address, the combined mappings for that linear address; an EPT
 * misconfiguration invalidates the guest-physical mappings. AMD: the APM gives #VMEXIT(NPF) no
 * invalidation, and hvsim makes none.
 *
 * Guest: linear A -> gpa DATA (mapped read-only in the second stage), B -> DATA + 0x1000, C -> DATA +
 * 0x2000, all in one guest page table and one nested page table.
 */

const A = 0x7000_0000;
const B = A + 0x1000;
const C = A + 0x2000;
const DATA = 0x40_0000;
const RWX = EptFlag.R | EptFlag.W | EptFlag.X | EptFlag.MEMORY_TYPE_WB;

const levels = (tags: TagTable) =>
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

function build(vendor: 'amd' | 'intel', misconfigureB = false) {
  const memory = new PhysicalMemory();
  const guestFrames = new FrameAllocator(0x10_0000, 0x20_0000);
  const gpt = new PageTableBuilder(memory, PagingMode.Level4, () => guestFrames.allocate());
  gpt.map(A, DATA);
  gpt.map(B, DATA + 0x1000);
  gpt.map(C, DATA + 0x2000);
  const hostFrames = new FrameAllocator(0x1000_0000, 0x1100_0000);
  const tablePages: number[] = [];
  for (let gpa = 0x10_0000; gpa < guestFrames.watermark; gpa += 0x1000) tablePages.push(gpa);
  const tags = new TagTable();
  const caches = {
    tlb: new TlbHierarchy(
      {
        name: 'one level',
        levels: [
          { name: 'L1', caches: [{ name: 'L1', entries: 16, ways: 4, pageSizes: [PageSize.Size4K] }] },
        ],
        instructionPath: ['L1'],
        dataPath: ['L1'],
      },
      tags,
    ),
    walkCache: levels(tags),
    nestedTlb: new TranslationCache(
      { name: 'nested TLB', entries: 16, ways: 4, pageSizes: [PageSize.Size4K] },
      tags,
    ),
  };
  let stage: NptStage | EptStage;
  if (vendor === 'amd') {
    const npt = new PageTableBuilder(memory, PagingMode.Level4, () => hostFrames.allocate());
    for (const gpa of tablePages) npt.map(gpa, gpa, { flags: PteFlag.P | PteFlag.RW | PteFlag.US });
    npt.map(DATA, DATA, { flags: PteFlag.P | PteFlag.US });
    npt.map(DATA + 0x1000, DATA + 0x1000, { flags: PteFlag.P | PteFlag.RW | PteFlag.US });
    npt.map(DATA + 0x2000, DATA + 0x2000, { flags: PteFlag.P | PteFlag.RW | PteFlag.US });
    stage = new NptStage(memory, { nestedCr3: npt.root, walkCache: levels(new TagTable()) });
  } else {
    const ept = new EptBuilder(memory, () => hostFrames.allocate());
    for (const gpa of tablePages) ept.map(gpa, gpa);
    ept.map(DATA, DATA, { flags: EptFlag.R | EptFlag.X | EptFlag.MEMORY_TYPE_WB });
    // Writable but not readable is an EPT misconfiguration (SDM vol. 3C §29.3.3.1).
    ept.map(DATA + 0x1000, DATA + 0x1000, {
      flags: misconfigureB ? EptFlag.W | EptFlag.MEMORY_TYPE_WB : RWX,
    });
    ept.map(DATA + 0x2000, DATA + 0x2000, { flags: RWX });
    stage = new EptStage(memory, { eptp: ept.eptp(false), walkCache: levels(new TagTable()) });
  }
  const guest = new CpuState();
  guest.setControlRegisters({ cr0: Cr0.PE | Cr0.PG, cr3: gpt.root, cr4: Cr4.PAE, efer: Efer.LME });
  return new NestedMmu(memory, guest, stage, caches);
}

function access(mmu: NestedMmu, linear: number, kind: AccessKind): Translation {
  const out = new Translation();
  mmu.translate(linear, 0, kind, Privilege.Supervisor, out);
  return out;
}

describe('what a second-stage fault invalidates', () => {
  it('Intel: an EPT violation of the final address removes the combined mapping for its linear address', () => {
    const mmu = build('intel');
    expect(access(mmu, A, AccessKind.Read).status).toBe(TranslateStatus.Ok);
    expect(access(mmu, A, AccessKind.Read).tlbHit).toBe(true);
    // A write: the cached read-only entry cannot serve it; the walk ends in an EPT violation.
    const write = access(mmu, A, AccessKind.Write);
    expect(write.status).toBe(TranslateStatus.NestedFault);
    expect(write.nestedFault.kind).toBe(NestedFaultKind.EptViolation);
    // The combined mapping for A is gone: the next read walks.
    const again = access(mmu, A, AccessKind.Read);
    expect(again.status).toBe(TranslateStatus.Ok);
    expect(again.tlbHit).toBe(false);
  });

  it('Intel: an EPT misconfiguration removes the EPT paging-structure-cache entries for its address', () => {
    // C after A: the final nested walk of DATA + 0x2000 starts at the cached nested PDE (1 reference).
    const clean = build('intel');
    access(clean, A, AccessKind.Read);
    const warm = access(clean, C, AccessKind.Read);
    expect(warm.status).toBe(TranslateStatus.Ok);
    // With B's nested leaf misconfigured in between, that fault drops the cached nested entries that
    // would translate DATA + 0x1000, which are those DATA + 0x2000 uses too: 3 more references.
    const faulted = build('intel', true);
    access(faulted, A, AccessKind.Read);
    const b = access(faulted, B, AccessKind.Read);
    expect(b.status).toBe(TranslateStatus.NestedFault);
    expect(b.nestedFault.kind).toBe(NestedFaultKind.EptMisconfiguration);
    const cold = access(faulted, C, AccessKind.Read);
    expect(cold.status).toBe(TranslateStatus.Ok);
    expect(cold.references).toBe(warm.references + 3);
  });

  it('AMD: a nested page fault invalidates nothing (the APM gives #VMEXIT(NPF) no invalidation)', () => {
    const mmu = build('amd');
    expect(access(mmu, A, AccessKind.Read).status).toBe(TranslateStatus.Ok);
    const write = access(mmu, A, AccessKind.Write);
    expect(write.status).toBe(TranslateStatus.NestedFault);
    expect(write.nestedFault.kind).toBe(NestedFaultKind.NestedPageFault);
    expect(access(mmu, A, AccessKind.Read).tlbHit).toBe(true);
  });
});
