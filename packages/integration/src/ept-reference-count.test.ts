import {
  AccessKind,
  CpuState,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  PageSize,
  PageTableBuilder,
  PagingMode,
  PhysicalMemory,
  Privilege,
} from '@hvsim/cpu-core';
import { NestedMmu, TranslateStatus, Translation } from '@hvsim/mmu-nested';
import { EptBuilder, EptStage } from '@hvsim/vendor-intel';
import { describe, expect, it } from 'vitest';

/*
 * The reference count (n+1)(m+1)-1 under Intel EPT (../shared/reference §3.1) for every guest depth
 * over 4- and 5-level EPT with 4 KiB, 2 MiB and 1 GiB EPT pages. Under EPT a PAE guest's PDPTEs are
 * registers loaded at MOV CR3 through EPT (SDM vol. 3C §29.3.2), so its walk reads n = 2 entries.
 */

const LINEAR = 0x4000_0000;
const DATA = 0x4000_0000;

const guests = [
  { name: 'unpaged', mode: PagingMode.None, cr4: 0, efer: 0, size: PageSize.Size4K, n: 0 },
  { name: '32-bit 4K', mode: PagingMode.Legacy32, cr4: 0, efer: 0, size: PageSize.Size4K, n: 2 },
  { name: '32-bit 4M', mode: PagingMode.Legacy32, cr4: Cr4.PSE, efer: 0, size: PageSize.Size4M, n: 1 },
  { name: 'PAE 4K', mode: PagingMode.Pae, cr4: Cr4.PAE, efer: 0, size: PageSize.Size4K, n: 2 },
  { name: 'PAE 2M', mode: PagingMode.Pae, cr4: Cr4.PAE, efer: 0, size: PageSize.Size2M, n: 1 },
  { name: '4-level 4K', mode: PagingMode.Level4, cr4: Cr4.PAE, efer: Efer.LME, size: PageSize.Size4K, n: 4 },
  { name: '4-level 1G', mode: PagingMode.Level4, cr4: Cr4.PAE, efer: Efer.LME, size: PageSize.Size1G, n: 2 },
  {
    name: '5-level 4K',
    mode: PagingMode.Level5,
    cr4: Cr4.PAE | Cr4.LA57,
    efer: Efer.LME,
    size: PageSize.Size4K,
    n: 5,
  },
  {
    name: '5-level 2M',
    mode: PagingMode.Level5,
    cr4: Cr4.PAE | Cr4.LA57,
    efer: Efer.LME,
    size: PageSize.Size2M,
    n: 4,
  },
] as const;

const epts = [
  { name: '4-level EPT 4K', levels: 4, size: 0x1000, m: 4 },
  { name: '4-level EPT 2M', levels: 4, size: 0x20_0000, m: 3 },
  { name: '4-level EPT 1G', levels: 4, size: 0x4000_0000, m: 2 },
  { name: '5-level EPT 4K', levels: 5, size: 0x1000, m: 5 },
  { name: '5-level EPT 2M', levels: 5, size: 0x20_0000, m: 4 },
] as const;

describe('two-dimensional reference count (n+1)(m+1)-1 under Intel EPT', () => {
  for (const g of guests) {
    for (const e of epts) {
      it(`guest ${g.name} (n=${g.n}) over ${e.name} (m=${e.m}): ${(g.n + 1) * (e.m + 1) - 1}`, () => {
        const memory = new PhysicalMemory();
        const guestFrames = new FrameAllocator(0x10_0000, 0x20_0000);
        let cr3 = 0;
        if (g.mode !== PagingMode.None) {
          const gpt = new PageTableBuilder(memory, g.mode, () => guestFrames.allocate());
          gpt.map(LINEAR, DATA, { size: g.size });
          cr3 = gpt.root;
        }
        const hostFrames = new FrameAllocator(0x8000_0000, 0x8100_0000);
        const ept = new EptBuilder(memory, () => hostFrames.allocate(), e.levels);
        const cover = (from: number, to: number) => {
          for (let gpa = from - (from % e.size); gpa < to; gpa += e.size) ept.map(gpa, gpa, { size: e.size });
        };
        cover(0x10_0000, guestFrames.watermark);
        cover(DATA, DATA + 0x1000);
        const guest = new CpuState();
        guest.setControlRegisters({
          cr0: Cr0.PE | (g.mode === PagingMode.None ? 0 : Cr0.PG),
          cr3,
          cr4: g.cr4,
          efer: g.efer,
        });
        const mmu = new NestedMmu(memory, guest, new EptStage(memory, { eptp: ept.eptp(true) }));
        const out = new Translation();
        expect(mmu.loadGuestPdptes(out)).toBe(TranslateStatus.Ok);
        expect(mmu.translate(LINEAR + 0x123, 0, AccessKind.Read, Privilege.Supervisor, out)).toBe(
          TranslateStatus.Ok,
        );
        expect(out.hostPhysical).toBe(DATA + 0x123);
        expect(out.references).toBe((g.n + 1) * (e.m + 1) - 1);
      });
    }
  }
});
