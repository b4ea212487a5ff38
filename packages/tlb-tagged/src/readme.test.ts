import { readmeProblems, undocumentedExports } from '@hvsim/dev-utils';
import { expect, it, vi } from 'vitest';
import * as api from './index.js';
import {
  AccessKind,
  Need,
  PageSize,
  Perm,
  pageSizeName,
  TLB_MISS,
  TLB_PERMISSION_MISS,
  TlbHierarchy,
  WalkEntry,
} from './index.js';

/*
 * The README's code block, verbatim (between the README markers), runs here so that it stays
 * correct. The printed values are worked out by hand: physical address = page base + the page's
 * offset in its page (0x20_0000 + 5 * 0x1000 = 0x205000); a write needs D=1 (SDM vol. 3A §4.8);
 * globals match every PCID of their VPID (SDM vol. 3A §4.10.2.4); MOV CR3 keeps globals and INVLPG
 * drops the PCID's walk-cache entries (§4.10.4.1); INVEPT single-context drops every mapping of its
 * EPT root (SDM vol. 3C §28.4.3.1). Lookups: 9, of which 4 hit (2, 4, 7, 8) and 5 miss (1, 3 (the
 * permission miss), 5, 6, 9).
 */

function readmeExample(): void {
  // README example begin
  // Split L1 TLBs over a unified 12-way second level, and a paging-structure cache for the walker.
  const tlb = new TlbHierarchy({
    name: 'example',
    levels: [
      { name: 'L1 ITLB', caches: [{ entries: 64, ways: 8, pageSizes: [PageSize.Size4K] }] },
      {
        name: 'L1 DTLB',
        caches: [
          { entries: 64, ways: 4, pageSizes: [PageSize.Size4K], policy: 'tree-plru' },
          { entries: 32, ways: 4, pageSizes: [PageSize.Size2M, PageSize.Size4M] },
        ],
      },
      { name: 'STLB', caches: [{ entries: 1536, ways: 12, pageSizes: [PageSize.Size4K, PageSize.Size2M] }] },
    ],
    instructionPath: ['L1 ITLB', 'STLB'],
    dataPath: ['L1 DTLB', 'STLB'],
    inclusion: 'non-inclusive',
    walkCache: { levels: [{ kind: WalkEntry.Pde, entries: 32, ways: 4 }] },
  });

  // Two processes (PCIDs 1 and 2) of a guest with VPID 1 under EPT root 0x5000: intern the tags once.
  const eptRoot = 0x5000;
  const proc1 = tlb.tags.context(1, 1, eptRoot);
  const proc2 = tlb.tags.context(1, 2, eptRoot);

  function show(label: string, result: number): void {
    if (result === TLB_MISS) console.log(`${label}: miss`);
    else if (result === TLB_PERMISSION_MISS) console.log(`${label}: permission miss`);
    else
      console.log(
        `${label}: 0x${result.toString(16)} (${pageSizeName(tlb.hitPageSize)}, level ${tlb.hitLevel})`,
      );
  }

  // Lookups take the page number (linear address bits 56:12) and what the access needs.
  const user = 0x7f00_dead_b000 / 4096;
  show('read', tlb.lookup(proc1, user, AccessKind.Read, Need.Read | Need.User));

  // The walk found a writable user page, not yet dirty: cache what it found.
  tlb.fill(proc1, user, AccessKind.Read, PageSize.Size4K, 0x1_2345_6000, Perm.Write | Perm.User);
  show('read', tlb.lookup(proc1, user, AccessKind.Read, Need.Read | Need.User));
  show('write', tlb.lookup(proc1, user, AccessKind.Write, Need.Write | Need.User));

  // The walker sets D in memory and refills; now the write hits.
  tlb.fill(
    proc1,
    user,
    AccessKind.Write,
    PageSize.Size4K,
    0x1_2345_6000,
    Perm.Write | Perm.User | Perm.Dirty,
  );
  show('write', tlb.lookup(proc1, user, AccessKind.Write, Need.Write | Need.User));
  show('other process', tlb.lookup(proc2, user, AccessKind.Read, Need.Read | Need.User));

  // The walk also cached the PDE that maps the page's 2 MiB region: the next walk starts at the PT.
  const psc = tlb.walkCache!;
  psc.fill(proc1, user, WalkEntry.Pde, 0x9000, Perm.Write | Perm.User);
  console.log(`page table from the walk cache: 0x${psc.lookup(proc1, user + 1).toString(16)}`);

  // INVLPG in PCID 1: the page, and every walk-cache entry of the PCID (SDM vol. 3A §4.10.4.1).
  tlb.flushAddressInPcid(1, 1, user, true);
  show('read after INVLPG', tlb.lookup(proc1, user, AccessKind.Read, Need.Read | Need.User));
  console.log(`walk cache after INVLPG: ${psc.lookup(proc1, user)}`);

  // A global 2 MiB kernel page serves every PCID of the VPID, and survives MOV CR3.
  tlb.fill(proc1, 0x400, AccessKind.Read, PageSize.Size2M, 0x20_0000, Perm.Write | Perm.Dirty | Perm.Global);
  show('kernel, process 2', tlb.lookup(proc2, 0x405, AccessKind.Read, Need.Read));
  tlb.flushPcid(1, 1, false); // MOV CR3 to PCID 1 without the no-flush bit
  show('kernel after MOV CR3', tlb.lookup(proc1, 0x405, AccessKind.Read, Need.Read));

  // INVEPT single-context: every mapping tagged with the EPT root goes.
  tlb.flushNestedRoot(eptRoot);
  show('kernel after INVEPT', tlb.lookup(proc2, 0x405, AccessKind.Read, Need.Read));
  console.log(`${tlb.stats.hits()} hits, ${tlb.stats.misses()} misses`);
  // README example end
}

it('runs the README example and prints what the architecture says', () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    readmeExample();
    expect(log.mock.calls.map((args) => args.join(' '))).toEqual([
      'read: miss',
      'read: 0x123456000 (4K, level 0)',
      'write: permission miss',
      'write: 0x123456000 (4K, level 0)',
      'other process: miss',
      'page table from the walk cache: 0x9000',
      'read after INVLPG: miss',
      'walk cache after INVLPG: -1',
      'kernel, process 2: 0x205000 (2M, level 0)',
      'kernel after MOV CR3: 0x205000 (2M, level 0)',
      'kernel after INVEPT: miss',
      '4 hits, 5 misses',
    ]);
  } finally {
    log.mockRestore();
  }
});

it('README.md opens with exactly the code that runs here', () => {
  expect(readmeProblems(import.meta.url, '@hvsim/tlb-tagged', api)).toEqual([]);
});

it('exports only documented names', () => {
  expect(undocumentedExports(import.meta.url)).toEqual([]);
});
