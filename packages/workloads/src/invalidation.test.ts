import { AccessKind, PagingMode, PteFlag } from '@hvsim/cpu-core';
import { TranslateStatus } from '@hvsim/mmu-nested';
import { NativeMachine } from '@hvsim/platform';
import { skylakeTlb } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { GuestOs, type Process, Prot } from './guest-os.js';
import { Rng } from './rng.js';

/*
 * The invariant every invalidation exists for (SDM vol. 3A §4.10.4): a TLB may serve a translation
 * only while the tables still say the same. Random runs of mmap, munmap, mprotect, fork, exec, exit and
 * context switches on several CPUs with Skylake TLBs (with and without PCIDs, 4 KiB and huge pages)
 * check after each completed access that the address it reached is the one a software walk of the
 * running process's current tables gives, and that a completed store went through a leaf that is
 * writable now. A missing
 * INVLPG, shootdown or flush shows as a stale hit.
 */

const MiB = 2 ** 20;
const REGION = 16 * 4096;

/** The low word of the leaf mapping `address` (a 2 MiB PDE or a PTE) in 4-level tables. */
function leafLow(os: GuestOs, process: Process, address: number): number {
  const pde = process.tables.entryAddress(address, 2) as number;
  const lo = os.memory.readWord(pde);
  if ((lo & PteFlag.PS) !== 0) return lo;
  return os.memory.readWord(process.tables.entryAddress(address, 1) as number);
}

function randomRun(seed: number, cpus: number, pcid: boolean, hugePages: boolean, steps: number): void {
  const rng = new Rng(seed);
  const machine = new NativeMachine({ cpus, caches: { tlb: skylakeTlb.config } });
  const os = new GuestOs({ cpus: machine.cpus, memoryBytes: 64 * MiB, pcid, hugePages });
  const live: Process[] = [];
  const regions = new Map<Process, number[]>();
  const spawn = (p: Process): void => {
    live.push(p);
    regions.set(p, []);
  };
  spawn(os.createProcess());
  const pick = <T>(items: readonly T[]): T => items[rng.below(items.length)] as T;
  for (let step = 0; step < steps; step++) {
    const r = rng.below(100);
    const process = pick(live);
    const mine = regions.get(process) as number[];
    if (r < 60 && mine.length > 0) {
      const cpu = rng.below(cpus);
      os.switchTo(process, cpu);
      const address = pick(mine) + rng.below(REGION / 8) * 8;
      const kind = rng.below(3) === 0 ? AccessKind.Write : AccessKind.Read;
      if (os.touch(cpu, address, kind) === TranslateStatus.Ok) {
        expect(os.lastGuestPhysical, `step ${step}`).toBe(os.translate(process, address));
        if (kind === AccessKind.Write) {
          const vma = process.findVma(Math.floor(address / 4096));
          expect((vma?.prot ?? 0) & Prot.Write, `step ${step}`).toBe(Prot.Write);
          // A store completes only through a writable leaf: R/W set now (a COW page has it clear).
          expect(leafLow(os, process, address) & PteFlag.RW, `step ${step}`).toBe(PteFlag.RW);
        }
      }
    } else if (r < 70) {
      mine.push(os.mmap(process, hugePages && rng.below(2) === 0 ? 4 * MiB : REGION, Prot.Read | Prot.Write));
    } else if (r < 76 && mine.length > 0) {
      const base = pick(mine);
      const vma = process.findVma(base / 4096);
      if (vma === undefined || vma.endPage - vma.startPage > REGION / 4096) continue;
      os.munmap(process, base + rng.below(8) * 4096, 4096 * (1 + rng.below(4)));
    } else if (r < 84 && mine.length > 0) {
      const base = pick(mine);
      const vma = process.findVma(base / 4096);
      if (vma === undefined || vma.endPage - vma.startPage > REGION / 4096) continue;
      os.mprotect(process, vma.startPage * 4096, 4096, pick([Prot.Read, Prot.Read | Prot.Write, Prot.None]));
    } else if (r < 90 && live.length < 6) {
      const child = os.fork(process);
      spawn(child);
      regions.set(child, [...mine]);
    } else if (r < 93 && live.length > 1) {
      os.exit(process);
      live.splice(live.indexOf(process), 1);
    } else if (r < 95) {
      os.exec(process);
      regions.set(process, []);
    } else {
      os.switchTo(process, rng.below(cpus));
    }
  }
}

describe('no stale translation survives a guest-kernel change', () => {
  const configs: Array<[number, boolean, boolean]> = [
    [1, false, false],
    [2, false, false],
    [2, true, false],
    [3, true, true],
    [2, false, true],
  ];
  for (const [cpus, pcid, huge] of configs) {
    it(`${cpus} CPU(s), ${pcid ? 'PCIDs' : 'no PCIDs'}, ${huge ? 'THP' : '4 KiB pages'}: 10 seeds × 1,500 steps`, () => {
      for (let seed = 1; seed <= 10; seed++) randomRun(seed * 97 + cpus, cpus, pcid, huge, 1500);
    });
  }

  it('also under 32-bit paging', () => {
    const machine = new NativeMachine({ cpus: 2, caches: { tlb: skylakeTlb.config } });
    const os = new GuestOs({ cpus: machine.cpus, memoryBytes: 16 * MiB, pagingMode: PagingMode.Legacy32 });
    const a = os.createProcess();
    os.switchTo(a, 0);
    os.switchTo(a, 1);
    const base = os.mmap(a, 4096, Prot.Read | Prot.Write);
    os.touch(0, base, AccessKind.Write);
    os.touch(1, base, AccessKind.Write);
    const b = os.fork(a);
    os.touch(1, base, AccessKind.Write);
    expect(os.counters.cowFaults).toBe(1);
    expect(os.lastGuestPhysical).toBe(os.translate(a, base));
    expect(os.translate(b, base)).not.toBe(os.translate(a, base));
  });
});
