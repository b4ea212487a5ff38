import { AccessKind, PagingMode, PfError, PteFlag } from '@hvsim/cpu-core';
import { TranslateStatus } from '@hvsim/mmu-nested';
import { NativeMachine } from '@hvsim/platform';
import { skylakeTlb } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { GuestOs, type GuestOsOptions, Prot } from './guest-os.js';
import { SoftBit } from './page-tables.js';

const MiB = 2 ** 20;
const RW = Prot.Read | Prot.Write;

function setup(options: Partial<Omit<GuestOsOptions, 'cpus'>> & { cpus?: number } = {}) {
  const machine = new NativeMachine({ cpus: options.cpus ?? 1, caches: { tlb: skylakeTlb.config } });
  const { cpus: _cpus, ...rest } = options;
  const os = new GuestOs({ cpus: machine.cpus, memoryBytes: 64 * MiB, ...rest });
  return { machine, os };
}

/** The low word of the leaf entry mapping `address` in the process (through the builder's own lookup). */
function pte(os: GuestOs, process: ReturnType<GuestOs['createProcess']>, address: number, level = 1): number {
  const entry = process.tables.entryAddress(address, level);
  if (entry === null) throw new Error('no entry');
  return os.memory.readWord(entry);
}

describe('GuestOs demand paging', () => {
  it('maps a page on its first touch only, with A and D set by the write (SDM vol. 3A §4.8)', () => {
    const { os } = setup();
    const p = os.createProcess();
    os.switchTo(p);
    const before = os.counters.framesInUse;
    const base = os.mmap(p, 4 * 4096, RW);
    expect(os.counters.framesInUse).toBe(before); // nothing mapped until touched
    expect(os.touch(0, base + 0x10, AccessKind.Write)).toBe(TranslateStatus.Ok);
    expect(os.counters.pageFaults).toBe(1);
    expect(os.counters.demandZeroFaults).toBe(1);
    const gpa = os.lastGuestPhysical;
    expect(gpa % 4096).toBe(0x10);
    expect(os.translate(p, base + 0x10)).toBe(gpa);
    // A 4-level mapping in an empty tree needs a PDPT, a PD and a PT, plus the data frame.
    expect(os.counters.framesInUse - before).toBe(4);
    expect(os.touch(0, base + 0x800, AccessKind.Read)).toBe(TranslateStatus.Ok);
    expect(os.lastGuestPhysical).toBe(gpa - 0x10 + 0x800);
    expect(os.counters.pageFaults).toBe(1);
    const flags = PteFlag.P | PteFlag.RW | PteFlag.US | PteFlag.A | PteFlag.D;
    expect(pte(os, p, base) & 0xfff & flags).toBe(flags);
  });

  it('counts an access outside every VMA as a segfault with the #PF error code the CPU gave', () => {
    const { os, machine } = setup();
    const p = os.createProcess();
    os.switchTo(p);
    expect(os.touch(0, 0x1234_5000, AccessKind.Write)).toBe(TranslateStatus.PageFault);
    expect(os.counters.segfaults).toBe(1);
    // Not present (P=0), a write, from user mode: W | U (SDM vol. 3A §4.7).
    expect(machine.cpus[0]?.state.cr2Lo).toBe(0x1234_5000);
    expect(os.counters.pageFaults).toBe(1);
    expect(PfError.W | PfError.U).toBe(6);
  });

  it('maps an aligned block of a THP region with one 2 MiB page on first touch', () => {
    const { os } = setup({ hugePages: true });
    const p = os.createProcess();
    os.switchTo(p);
    const base = os.mmap(p, 4 * MiB, RW);
    expect(base % (2 * MiB)).toBe(0);
    os.touch(0, base + 0x1234, AccessKind.Read);
    expect(os.counters.hugePageFaults).toBe(1);
    const frame = os.lastGuestPhysical - 0x1234;
    expect(frame % (2 * MiB)).toBe(0);
    os.touch(0, base + 0x1f_f000, AccessKind.Write);
    expect(os.lastGuestPhysical).toBe(frame + 0x1f_f000);
    expect(os.counters.pageFaults).toBe(1);
    expect(pte(os, p, base, 2) & PteFlag.PS).toBe(PteFlag.PS);
  });

  it('refuses to split a mapped huge page, and unmaps a whole one with one invalidation', () => {
    const { os } = setup({ hugePages: true });
    const p = os.createProcess();
    os.switchTo(p);
    const base = os.mmap(p, 4 * MiB, RW);
    os.touch(0, base, AccessKind.Write);
    expect(() => os.munmap(p, base, 4096)).toThrow(/would split the huge page at 0x/);
    expect(() => os.mprotect(p, base + 4096, 2 * MiB, Prot.Read)).toThrow(/would split/);
    const frames = os.counters.framesInUse;
    os.munmap(p, base, 2 * MiB);
    expect(os.counters.framesInUse).toBe(frames - 512);
    expect(os.counters.invlpgs).toBe(1);
    expect(os.touch(0, base + 0x1000, AccessKind.Read)).toBe(TranslateStatus.PageFault);
    // The second block is untouched and still a THP candidate.
    os.touch(0, base + 2 * MiB, AccessKind.Read);
    expect(os.counters.hugePageFaults).toBe(2);
  });

  it('refuses overlapping and misaligned mappings, naming the address', () => {
    const { os } = setup();
    const p = os.createProcess();
    os.mmap(p, 8192, RW, { address: 0x40_0000 });
    expect(() => os.mmap(p, 4096, RW, { address: 0x40_1000 })).toThrow(
      /mmap at 0x401000 \(1 pages\) overlaps/,
    );
    expect(() => os.mmap(p, 4096, RW, { address: 0x40_0010 })).toThrow(
      /0x400010 is not a page-aligned address/,
    );
    expect(() => os.munmap(p, 0x40_0000, 0)).toThrow(/length must be a positive integer/);
  });

  it('falls back to 4 KiB pages where a huge block does not fit the VMA', () => {
    const { os } = setup({ hugePages: true });
    const p = os.createProcess();
    os.switchTo(p);
    const base = os.mmap(p, 64 * 1024, RW);
    os.touch(0, base, AccessKind.Read);
    expect(os.counters.hugePageFaults).toBe(0);
    expect(os.counters.demandZeroFaults).toBe(1);
  });
});

describe('GuestOs fork (copy-on-write)', () => {
  it('shares frames read-only, copies on the first write only, and each side keeps its own frame', () => {
    const { os } = setup();
    const parent = os.createProcess();
    os.switchTo(parent);
    const base = os.mmap(parent, 2 * 4096, RW);
    os.touch(0, base, AccessKind.Write);
    const shared = os.lastGuestPhysical;
    const child = os.fork(parent);
    // Both entries lost R/W and carry the COW bit.
    expect(pte(os, parent, base) & (PteFlag.RW | SoftBit.Cow)).toBe(SoftBit.Cow);
    expect(pte(os, child, base) & (PteFlag.RW | SoftBit.Cow)).toBe(SoftBit.Cow);
    os.switchTo(child);
    expect(os.touch(0, base, AccessKind.Read)).toBe(TranslateStatus.Ok);
    expect(os.lastGuestPhysical).toBe(shared);
    expect(os.counters.pageFaults).toBe(1); // only the parent's first touch so far
    os.touch(0, base + 8, AccessKind.Write);
    expect(os.counters.cowFaults).toBe(1);
    expect(os.counters.cowCopies).toBe(1);
    const childFrame = os.lastGuestPhysical - 8;
    expect(childFrame).not.toBe(shared);
    os.touch(0, base + 16, AccessKind.Write);
    expect(os.counters.cowFaults).toBe(1); // the second write does not fault
    os.switchTo(parent);
    expect(os.touch(0, base, AccessKind.Read)).toBe(TranslateStatus.Ok);
    expect(os.lastGuestPhysical).toBe(shared);
    // The parent is now the frame's only user: its write fault keeps the frame, copying nothing.
    os.touch(0, base, AccessKind.Write);
    expect(os.counters.cowFaults).toBe(2);
    expect(os.counters.cowCopies).toBe(1);
    expect(os.lastGuestPhysical).toBe(shared);
    expect(os.translate(child, base)).toBe(childFrame);
  });

  it('flushes the running parent so a cached writable translation cannot skip the copy', () => {
    const { os } = setup();
    const parent = os.createProcess();
    os.switchTo(parent);
    const base = os.mmap(parent, 4096, RW);
    os.touch(0, base, AccessKind.Write); // the TLB now holds a writable, dirty translation
    const child = os.fork(parent);
    expect(os.counters.tlbFlushes).toBe(1);
    os.touch(0, base, AccessKind.Write);
    expect(os.counters.cowFaults).toBe(1);
    expect(os.lastGuestPhysical - os.translate(child, base)).not.toBe(0);
  });
});

describe('GuestOs munmap, mprotect, exec, exit', () => {
  it('munmap invalidates, so the next access faults even with the translation in the TLB', () => {
    const { os, machine } = setup();
    const p = os.createProcess();
    os.switchTo(p);
    const base = os.mmap(p, 2 * 4096, RW);
    os.touch(0, base, AccessKind.Read);
    os.touch(0, base, AccessKind.Read);
    expect(machine.stats.tlbHits).toBeGreaterThan(0);
    const frames = os.counters.framesInUse;
    os.munmap(p, base, 4096);
    expect(os.counters.invlpgs).toBe(1);
    expect(os.counters.framesInUse).toBe(frames - 1);
    expect(os.touch(0, base, AccessKind.Read)).toBe(TranslateStatus.PageFault);
    expect(os.counters.segfaults).toBe(1);
    // The other page is still in the VMA.
    expect(os.touch(0, base + 4096, AccessKind.Read)).toBe(TranslateStatus.Ok);
  });

  it('mprotect read-only turns writes into segfaults (a protection #PF, P|W|U) while reads go on', () => {
    const { os, machine } = setup();
    const p = os.createProcess();
    os.switchTo(p);
    const base = os.mmap(p, 4096, RW);
    os.touch(0, base, AccessKind.Write);
    const gpa = os.lastGuestPhysical;
    os.mprotect(p, base, 4096, Prot.Read);
    expect(os.touch(0, base, AccessKind.Write)).toBe(TranslateStatus.PageFault);
    expect(os.counters.segfaults).toBe(1);
    expect(machine.cpus[0]?.state.cr2Lo).toBe(base % 2 ** 32);
    expect(os.touch(0, base, AccessKind.Read)).toBe(TranslateStatus.Ok);
    expect(os.lastGuestPhysical).toBe(gpa);
    os.mprotect(p, base, 4096, RW);
    expect(os.touch(0, base, AccessKind.Write)).toBe(TranslateStatus.Ok);
    expect(os.counters.segfaults).toBe(1);
    expect(() => os.mprotect(p, base + 4096, 4096, Prot.Read)).toThrow(/not mapped/);
  });

  it('PROT_NONE keeps the frame with P=0, and restoring the protection brings the same frame back', () => {
    const { os } = setup();
    const p = os.createProcess();
    os.switchTo(p);
    const base = os.mmap(p, 4096, RW);
    os.touch(0, base, AccessKind.Write);
    const gpa = os.lastGuestPhysical;
    os.mprotect(p, base, 4096, Prot.None);
    expect(pte(os, p, base) & PteFlag.P).toBe(0);
    expect(os.touch(0, base, AccessKind.Read)).toBe(TranslateStatus.PageFault);
    expect(os.counters.segfaults).toBe(1);
    os.mprotect(p, base, 4096, Prot.Read);
    expect(os.touch(0, base, AccessKind.Read)).toBe(TranslateStatus.Ok);
    expect(os.lastGuestPhysical).toBe(gpa);
  });

  it('exec gives a fresh address space and exit frees every frame and table', () => {
    const { os } = setup();
    const before = os.counters.framesInUse;
    const p = os.createProcess();
    os.switchTo(p);
    const base = os.mmap(p, 16 * 4096, RW);
    for (let i = 0; i < 16; i++) os.touch(0, base + i * 4096, AccessKind.Write);
    os.exec(p);
    expect(os.touch(0, base, AccessKind.Read)).toBe(TranslateStatus.PageFault);
    expect(os.counters.segfaults).toBe(1);
    // After exec only the new root is left.
    expect(os.counters.framesInUse).toBe(before + 1);
    const child = os.fork(p);
    const heap = os.mmap(p, 4096, RW);
    os.touch(0, heap, AccessKind.Write);
    os.exit(child);
    os.exit(p);
    expect(os.counters.framesInUse).toBe(before);
    expect(os.currentProcess(0)).toBeNull();
    // Freed table frames were zeroed: reused as tables, they hold no stale entries.
    const q = os.createProcess();
    os.switchTo(q);
    expect(os.touch(0, base, AccessKind.Read)).toBe(TranslateStatus.PageFault);
  });
});

describe('GuestOs context switches and invalidation across CPUs', () => {
  function walksOnReturn(pcid: boolean) {
    const { os, machine } = setup({ pcid });
    const a = os.createProcess();
    const b = os.createProcess();
    os.switchTo(a);
    const pa = os.mmap(a, 4096, RW);
    os.touch(0, pa, AccessKind.Read);
    os.switchTo(b);
    const pb = os.mmap(b, 4096, RW);
    os.touch(0, pb, AccessKind.Read);
    os.switchTo(a);
    const walks = machine.stats.walks;
    os.touch(0, pa, AccessKind.Read);
    return { walks: machine.stats.walks - walks, os };
  }

  it('with PCIDs a switch back sets the no-flush bit and the translation survives (SDM vol. 3A §4.10.4.1)', () => {
    const { walks, os } = walksOnReturn(true);
    expect(walks).toBe(0);
    expect(os.counters.noFlushSwitches).toBe(1);
    expect(os.counters.contextSwitches).toBe(3);
  });

  it('without PCIDs every MOV CR3 flushes, so the switch back walks again', () => {
    const { walks, os } = walksOnReturn(false);
    expect(walks).toBe(1);
    expect(os.counters.noFlushSwitches).toBe(0);
  });

  it('a process changed while switched out is flushed on its return rather than kept by no-flush', () => {
    const { os } = setup({ pcid: true });
    const a = os.createProcess();
    const b = os.createProcess();
    os.switchTo(a);
    const pa = os.mmap(a, 2 * 4096, RW);
    os.touch(0, pa, AccessKind.Read);
    os.switchTo(b);
    // a is not running: nothing to INVLPG now, so its PCID's cached entries must go at the switch back.
    os.munmap(a, pa, 4096);
    expect(os.counters.invlpgs).toBe(0);
    os.switchTo(a);
    expect(os.counters.noFlushSwitches).toBe(0);
    expect(os.touch(0, pa, AccessKind.Read)).toBe(TranslateStatus.PageFault);
  });

  it('shoots a page down when the process runs on two CPUs, and both then see the change', () => {
    const { os, machine } = setup({ cpus: 2 });
    const p = os.createProcess();
    os.switchTo(p, 0);
    os.switchTo(p, 1);
    const base = os.mmap(p, 4096, RW);
    os.touch(0, base, AccessKind.Write);
    os.touch(1, base, AccessKind.Write);
    os.mprotect(p, base, 4096, Prot.Read);
    expect(os.counters.shootdowns).toBe(1);
    expect(machine.stats.ipis).toBe(1);
    expect(os.touch(0, base, AccessKind.Write)).toBe(TranslateStatus.PageFault);
    expect(os.touch(1, base, AccessKind.Write)).toBe(TranslateStatus.PageFault);
    expect(os.counters.segfaults).toBe(2);
  });
});

describe('GuestOs paging modes', () => {
  const modes: Array<[string, PagingMode, number]> = [
    ['32-bit', PagingMode.Legacy32, 0x8000_0000],
    ['PAE', PagingMode.Pae, 0x8000_0000],
    ['4-level', PagingMode.Level4, 0x7f00_0000_0000],
    ['5-level', PagingMode.Level5, 2 ** 52],
  ];
  for (const [name, mode, address] of modes) {
    it(`demand-pages, forks and exits under ${name} paging`, () => {
      const { os } = setup({ pagingMode: mode, hugePages: true });
      const before = os.counters.framesInUse;
      const p = os.createProcess();
      os.switchTo(p);
      const base = os.mmap(p, 8 * MiB, RW, { address });
      const hi = Math.floor((base + 0x5123) / 2 ** 32);
      const lo = base + 0x5123 - hi * 2 ** 32;
      expect(os.access(0, lo, hi, AccessKind.Write)).toBe(TranslateStatus.Ok);
      expect(os.counters.hugePageFaults).toBe(1);
      expect(os.lastGuestPhysical).toBe(os.translate(p, base + 0x5123));
      const hugeSize = mode === PagingMode.Legacy32 ? 4 * MiB : 2 * MiB;
      expect((os.lastGuestPhysical - 0x5123) % hugeSize).toBe(0);
      const child = os.fork(p);
      os.switchTo(child);
      os.access(0, lo, hi, AccessKind.Write);
      expect(os.counters.cowCopies).toBe(1);
      os.exit(child);
      os.exit(p);
      expect(os.counters.framesInUse).toBe(before);
    });
  }

  it('refuses what a mode does not have', () => {
    const machine = new NativeMachine();
    expect(() => new GuestOs({ cpus: machine.cpus, pagingMode: PagingMode.Pae, pcid: true })).toThrow(/PCID/);
    expect(() => new GuestOs({ cpus: machine.cpus }).createProcess({ v86: true })).toThrow(/long mode/);
    expect(() => new GuestOs({ cpus: [] })).toThrow(/1 to 32 CPUs/);
  });
});
