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
import { describe, expect, it } from 'vitest';
import { NptStage } from './npt-stage.js';

/*
 * The two-dimensional walk's reference count (../shared/reference §3.1): each of the n guest entries
 * needs an m-step nested walk of its address plus the entry itself, and the final address one more
 * nested walk: n(m+1) + m = (n+1)(m+1) - 1. With large pages n and m are the entries actually read.
 * Under AMD NPT the guest's PAE PDPTE is read during the walk (n = 3, APM vol. 2 §15.25.10), and the
 * nested depth follows the host's mode: 2 (32-bit), 3 (PAE, PDPTE read every walk), 4 or 5.
 */

const LINEAR = 0x4000_0000;
const DATA = 0x4000_0000;

interface GuestCase {
  name: string;
  mode: PagingMode;
  cr4: number;
  efer: number;
  size: PageSize;
  entries: number; // n: guest entries read
}

interface HostCase {
  name: string;
  mode: PagingMode;
  cr4: number;
  efer: number;
  size: PageSize;
  entries: number; // m: nested entries read per nested walk
}

const guests: GuestCase[] = [
  { name: 'unpaged', mode: PagingMode.None, cr4: 0, efer: 0, size: PageSize.Size4K, entries: 0 },
  { name: '32-bit 4K', mode: PagingMode.Legacy32, cr4: 0, efer: 0, size: PageSize.Size4K, entries: 2 },
  { name: '32-bit 4M', mode: PagingMode.Legacy32, cr4: Cr4.PSE, efer: 0, size: PageSize.Size4M, entries: 1 },
  { name: 'PAE 4K', mode: PagingMode.Pae, cr4: Cr4.PAE, efer: 0, size: PageSize.Size4K, entries: 3 },
  { name: 'PAE 2M', mode: PagingMode.Pae, cr4: Cr4.PAE, efer: 0, size: PageSize.Size2M, entries: 2 },
  {
    name: '4-level 4K',
    mode: PagingMode.Level4,
    cr4: Cr4.PAE,
    efer: Efer.LME,
    size: PageSize.Size4K,
    entries: 4,
  },
  {
    name: '4-level 2M',
    mode: PagingMode.Level4,
    cr4: Cr4.PAE,
    efer: Efer.LME,
    size: PageSize.Size2M,
    entries: 3,
  },
  {
    name: '4-level 1G',
    mode: PagingMode.Level4,
    cr4: Cr4.PAE,
    efer: Efer.LME,
    size: PageSize.Size1G,
    entries: 2,
  },
  {
    name: '5-level 4K',
    mode: PagingMode.Level5,
    cr4: Cr4.PAE | Cr4.LA57,
    efer: Efer.LME,
    size: PageSize.Size4K,
    entries: 5,
  },
];

const hosts: HostCase[] = [
  { name: '32-bit 4K', mode: PagingMode.Legacy32, cr4: 0, efer: 0, size: PageSize.Size4K, entries: 2 },
  { name: '32-bit 4M', mode: PagingMode.Legacy32, cr4: Cr4.PSE, efer: 0, size: PageSize.Size4M, entries: 1 },
  { name: 'PAE 4K', mode: PagingMode.Pae, cr4: Cr4.PAE, efer: 0, size: PageSize.Size4K, entries: 3 },
  { name: 'PAE 2M', mode: PagingMode.Pae, cr4: Cr4.PAE, efer: 0, size: PageSize.Size2M, entries: 2 },
  {
    name: '4-level 4K',
    mode: PagingMode.Level4,
    cr4: Cr4.PAE,
    efer: Efer.LME | Efer.NXE,
    size: PageSize.Size4K,
    entries: 4,
  },
  {
    name: '4-level 2M',
    mode: PagingMode.Level4,
    cr4: Cr4.PAE,
    efer: Efer.LME | Efer.NXE,
    size: PageSize.Size2M,
    entries: 3,
  },
  {
    name: '4-level 1G',
    mode: PagingMode.Level4,
    cr4: Cr4.PAE,
    efer: Efer.LME | Efer.NXE,
    size: PageSize.Size1G,
    entries: 2,
  },
  {
    name: '5-level 4K',
    mode: PagingMode.Level5,
    cr4: Cr4.PAE | Cr4.LA57,
    efer: Efer.LME,
    size: PageSize.Size4K,
    entries: 5,
  },
];

function run(
  g: GuestCase,
  h: HostCase,
): { status: TranslateStatus; references: number; hostPhysical: number } {
  const memory = new PhysicalMemory();
  const guestFrames = new FrameAllocator(0x10_0000, 0x20_0000);
  const guest = new CpuState();
  let cr3 = 0;
  if (g.mode !== PagingMode.None) {
    const gpt = new PageTableBuilder(memory, g.mode, () => guestFrames.allocate());
    gpt.map(LINEAR, DATA, { size: g.size });
    cr3 = gpt.root;
  }
  guest.setControlRegisters({
    cr0: Cr0.PE | (g.mode === PagingMode.None ? 0 : Cr0.PG),
    cr3,
    cr4: g.cr4,
    efer: g.efer,
  });
  // Nested tables map guest-physical memory 1:1: the guest-table region and the data page.
  const hostFrames = new FrameAllocator(0x8000_0000, 0x8100_0000);
  const npt = new PageTableBuilder(memory, h.mode, () => hostFrames.allocate());
  const cover = (from: number, to: number) => {
    for (let gpa = from - (from % h.size); gpa < to; gpa += h.size) npt.map(gpa, gpa, { size: h.size });
  };
  cover(0x10_0000, guestFrames.watermark);
  cover(DATA, DATA + 0x1000);
  const stage = new NptStage(memory, {
    nestedCr3: npt.root,
    host: { cr0: Cr0.PE | Cr0.PG, cr4: h.cr4, efer: h.efer },
  });
  const mmu = new NestedMmu(memory, guest, stage);
  const out = new Translation();
  mmu.translate(LINEAR + 0x123, 0, AccessKind.Read, Privilege.Supervisor, out);
  return { status: out.status, references: out.references, hostPhysical: out.hostPhysical };
}

describe('two-dimensional reference count (n+1)(m+1)-1 under AMD NPT, every guest and host depth', () => {
  for (const g of guests) {
    for (const h of hosts) {
      const n = g.entries;
      const m = h.entries;
      it(`guest ${g.name} (n=${n}) over host ${h.name} (m=${m}): ${(n + 1) * (m + 1) - 1} references`, () => {
        const result = run(g, h);
        expect(result.status).toBe(TranslateStatus.Ok);
        expect(result.hostPhysical).toBe(DATA + 0x123);
        expect(result.references).toBe((n + 1) * (m + 1) - 1);
      });
    }
  }

  it('names the published figures: 24 for 4x4, 35 for 5x5, 29 for 4x5, 19 for PAE over 4-level', () => {
    const by = (gn: string, hn: string) =>
      run(guests.find((g) => g.name === gn)!, hosts.find((h) => h.name === hn)!).references;
    expect(by('4-level 4K', '4-level 4K')).toBe(24);
    expect(by('5-level 4K', '5-level 4K')).toBe(35);
    expect(by('4-level 4K', '5-level 4K')).toBe(29);
    expect(by('PAE 4K', '4-level 4K')).toBe(19);
    expect(by('unpaged', '4-level 4K')).toBe(4);
  });
});
