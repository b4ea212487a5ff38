import {
  AccessKind,
  CpuState,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  PageTableBuilder,
  PagingMode,
  PfError,
  PhysicalMemory,
  Privilege,
  PteFlag,
  Rflags,
} from '@hvsim/cpu-core';
import { PageSize, TagTable, TranslationCache } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { ShadowMmu } from './shadow-mmu.js';
import { TranslateStatus, Translation } from './translation.js';

/*
 * The CPU's side of shadow paging: it walks the shadow tables with CR0.WP forced on and the guest's
 * SMEP/SMAP, RFLAGS.AC and PKRU (SDM vol. 3A §4.6), and a 32-bit guest's linear addresses index the
 * shadow tables with bits 63:32 clear.
 */

function setup(guestRegs: { cr0: number; cr4: number; efer: number; rflags?: number }, withTlb = false) {
  const memory = new PhysicalMemory();
  const frames = new FrameAllocator(0x1000_0000, 0x1010_0000);
  const shadow = new PageTableBuilder(memory, PagingMode.Level4, () => frames.allocate());
  const A_D = PteFlag.A | PteFlag.D;
  shadow.map(0x40_0000, 0x8000_0000, { flags: PteFlag.P | PteFlag.US | A_D }); // user, read-only
  shadow.map(0x50_0000, 0x8100_0000, { flags: PteFlag.P | PteFlag.RW | A_D }); // supervisor, writable
  const guest = new CpuState();
  guest.setControlRegisters({ cr3: 0x1000, ...guestRegs });
  const tlb = withTlb
    ? new TranslationCache(
        { name: 'tlb', entries: 16, ways: 4, pageSizes: [PageSize.Size4K] },
        new TagTable(),
      )
    : undefined;
  const mmu = new ShadowMmu(memory, guest, tlb === undefined ? undefined : { tlb });
  mmu.load(shadow.root, 4);
  return { guest, mmu, out: new Translation() };
}

describe('ShadowMmu', () => {
  it('indexes a 32-bit guest address with bits 63:32 clear', () => {
    const { mmu, out } = setup({ cr0: Cr0.PE | Cr0.PG, cr4: 0, efer: 0 });
    expect(mmu.translate(0x40_0123, 0xdead, AccessKind.Read, Privilege.User, out)).toBe(TranslateStatus.Ok);
    expect(out.hostPhysical).toBe(0x8000_0123);
    expect(out.references).toBe(4);
  });

  it("keeps CR0.WP on whatever the guest's is, so write-protected shadow entries trap supervisor writes", () => {
    const { mmu, out } = setup({ cr0: Cr0.PE | Cr0.PG, cr4: 0, efer: 0 });
    expect(mmu.translate(0x40_0000, 0, AccessKind.Write, Privilege.Supervisor, out)).toBe(
      TranslateStatus.PageFault,
    );
    expect(out.errorCode).toBe(PfError.P | PfError.W);
  });

  it("applies the guest's SMAP with its RFLAGS.AC, read at each access", () => {
    const { guest, mmu, out } = setup({ cr0: Cr0.PE | Cr0.PG, cr4: Cr4.SMAP | Cr4.PAE, efer: Efer.LME });
    expect(mmu.translate(0x40_0000, 0, AccessKind.Read, Privilege.Supervisor, out)).toBe(
      TranslateStatus.PageFault,
    );
    guest.rflags |= Rflags.AC;
    expect(mmu.translate(0x40_0000, 0, AccessKind.Read, Privilege.Supervisor, out)).toBe(TranslateStatus.Ok);
  });

  it('caches in the TLB; a hit keeps no guest-physical address', () => {
    const { mmu, out } = setup({ cr0: Cr0.PE | Cr0.PG, cr4: Cr4.PAE, efer: Efer.LME }, true);
    mmu.translate(0x50_0010, 0, AccessKind.Write, Privilege.Supervisor, out);
    expect(mmu.translate(0x50_0020, 0, AccessKind.Write, Privilege.Supervisor, out)).toBe(TranslateStatus.Ok);
    expect(out.tlbHit).toBe(true);
    expect(out.hostPhysical).toBe(0x8100_0020);
    expect(out.guestPhysical).toBeNaN();
  });
});
