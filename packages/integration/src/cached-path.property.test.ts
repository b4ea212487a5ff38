import {
  AccessKind,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  PageTableBuilder,
  PagingMode,
  Privilege,
  PteFlag,
} from '@hvsim/cpu-core';
import { HostMachine } from '@hvsim/hypervisor';
import { TranslateStatus } from '@hvsim/mmu-nested';
import { GuestAccess, type GuestCpu, NativeMachine } from '@hvsim/platform';
import { type CpuCacheConfig, PageSize, skylakeTlb, WalkEntry } from '@hvsim/tlb-tagged';
import { SvmExtension } from '@hvsim/vendor-amd';
import { VmxExtension } from '@hvsim/vendor-intel';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/*
 * Property (issue 14, "Done means"): random sequences of accesses, stores to paging-structure
 * entries and invalidations, run twice on identical machines, once with every cache on (TLB
 * hierarchy, walk caches, nested TLB) and once with none.
 * 1. Each access whose translation the manuals require to be fresh gives exactly the uncached
 *    result on the memory as it is at that step. Fresh: no entry was stored since the last
 *    invalidation that covers the page. INVLPG of the page removes its TLB entries and every
 *    paging-structure-cache entry of the PCID; MOV to CR3 (PCIDs and global pages off) removes
 *    every non-global translation; a #PF removes the page's TLB entries and the walk-cache entries
 *    for its address (SDM vol. 3A §4.10.4.1). Anything else may keep serving what it cached.
 * 2. Where no entry was changed behind the caches' back, the cached run gives every access the same
 *    outcome as the uncached one, makes no more memory references, and leaves the same memory (a
 *    hit sets no accessed or dirty bit, but every bit a hit skips was set by the walk that filled it).
 * On bare metal, under AMD NPT and under Intel EPT (guest stores and the guest's INVLPG and MOV to
 * CR3, neither of which exits under nested paging).
 */

const caches: CpuCacheConfig = {
  tlb: skylakeTlb.config,
  walkCache: {
    levels: [
      { kind: WalkEntry.Pde, entries: 8, ways: 4 },
      { kind: WalkEntry.Pdpte, entries: 4, ways: 4 },
      { kind: WalkEntry.Pml4e, entries: 2, ways: 2 },
    ],
  },
  nestedTlb: { name: 'nested TLB', entries: 16, ways: 4, pageSizes: [PageSize.Size4K, PageSize.Size2M] },
};

type Platform = 'native' | 'amd' | 'intel';

function cpuOf(platform: Platform, cached: boolean): GuestCpu {
  const options = cached ? { caches } : {};
  if (platform === 'native') return new NativeMachine(options).cpus[0];
  const host = new HostMachine({
    extension: platform === 'amd' ? new SvmExtension() : new VmxExtension(),
    ...options,
  });
  const vcpu = host.createVm({ memorySize: 0x200_0000, paging: 'nested' }).createVcpu();
  vcpu.run(host.cpus[0]);
  return vcpu;
}

/** 16 linear pages: two PML4 slots, two PDPT slots, two PD slots, two PT slots each. */
const PAGES: number[] = [];
for (const i of [0, 1])
  for (const j of [0, 3])
    for (const k of [0, 5])
      for (const l of [0, 7]) PAGES.push(i * 2 ** 39 + j * 2 ** 30 + k * 2 ** 21 + l * 2 ** 12);
const DATA = 0x80_0000;

interface Machine {
  readonly cpu: GuestCpu;
  readonly root: number;
  /** Each page's paging-structure entries, guest-physical addresses by level (index 1 = PTE). */
  readonly entries: readonly (readonly number[])[];
}

function machine(platform: Platform, cached: boolean, wp: boolean): Machine {
  const cpu = cpuOf(platform, cached);
  const memory = {
    readWord: (a: number) => cpu.readPhysical(a),
    writeWord: (a: number, v: number) => cpu.writePhysical(a, v),
  };
  const frames = new FrameAllocator(0x10_0000, 0x40_0000);
  const tables = new PageTableBuilder(memory, PagingMode.Level4, () => frames.allocate());
  PAGES.forEach((linear, n) => {
    tables.map(linear, DATA + n * 0x1000, { flags: PteFlag.P | PteFlag.RW | PteFlag.US });
  });
  const status = cpu.setControlRegisters({
    cr0: Cr0.PE | Cr0.PG | (wp ? Cr0.WP : 0),
    cr3: tables.root,
    cr4: Cr4.PAE,
    efer: Efer.LME | Efer.NXE,
  });
  expect(status).toBe(TranslateStatus.Ok);
  const entries = PAGES.map((linear) => {
    const byLevel = [0, 0, 0, 0, 0];
    let table = tables.root;
    for (let level = 4; level >= 1; level--) {
      byLevel[level] = table + (Math.floor(linear / 2 ** (12 + 9 * (level - 1))) % 512) * 8;
      table = (memory.readWord(byLevel[level]) & 0xffff_f000) >>> 0;
    }
    return byLevel;
  });
  return { cpu, root: tables.root, entries };
}

type Op =
  | { readonly op: 'access'; readonly page: number; readonly kind: AccessKind; readonly user: boolean }
  | {
      readonly op: 'store';
      readonly page: number;
      readonly level: number;
      readonly flags: number;
      readonly xd: boolean;
      readonly frame: number;
    }
  | { readonly op: 'invlpg'; readonly page: number }
  | { readonly op: 'mov-cr3' };

/** A page, most often one of the first four (so that accesses, stores and INVLPGs meet on one). */
const page = fc.oneof(fc.nat(3), fc.nat(3), fc.nat(PAGES.length - 1));
const access = fc.record({
  op: fc.constant('access' as const),
  page,
  kind: fc.constantFrom(AccessKind.Read, AccessKind.Write, AccessKind.Execute),
  user: fc.boolean(),
});
const store = fc.record({
  op: fc.constant('store' as const),
  page,
  // The PTE half the time, else an upper-level entry of the page.
  level: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 4 })),
  // P, R/W and U/S of the new entry; present nine times in ten.
  flags: fc
    .tuple(fc.nat(9), fc.boolean(), fc.boolean())
    .map(([p, rw, us]) => (p > 0 ? PteFlag.P : 0) | (rw ? PteFlag.RW : 0) | (us ? PteFlag.US : 0)),
  xd: fc.boolean(),
  frame: fc.nat(PAGES.length - 1),
});
const invlpg = fc.record({ op: fc.constant('invlpg' as const), page });
const movCr3 = fc.constant({ op: 'mov-cr3' as const });

/** What an access's outcome is, as the guest sees it. */
function outcome(cpu: GuestCpu, op: Extract<Op, { op: 'access' }>, out: GuestAccess): string {
  const status = cpu.access(
    PAGES[op.page] + 0x18,
    op.kind,
    out,
    op.user ? Privilege.User : Privilege.Supervisor,
  );
  const t = out.translation;
  if (status === TranslateStatus.Ok) return `ok ${t.guestPhysical.toString(16)}`;
  if (status === TranslateStatus.PageFault) return `#PF ${t.errorCode.toString(16)}`;
  return `status ${status}`;
}

/** Writes a new entry of the page at the level: the same table below (non-leaf) or data frame `frame` (leaf), with `flags`, A and D clear. */
function storeEntry(m: Machine, op: Extract<Op, { op: 'store' }>): void {
  const level = op.level;
  const address = m.entries[op.page][level];
  const old = m.cpu.readPhysical(address);
  const frame = level === 1 ? DATA + op.frame * 0x1000 : (old & 0xffff_f000) >>> 0;
  m.cpu.writePhysical(address, (frame | op.flags) >>> 0);
  m.cpu.writePhysical(address + 4, op.xd ? 0x8000_0000 : 0);
}

function run(platform: Platform, wp: boolean, ops: readonly Op[]) {
  const cached = machine(platform, true, wp);
  const uncached = machine(platform, false, wp);
  const stale = new Set<number>();
  const outC = new GuestAccess();
  const outU = new GuestAccess();
  let unchanged = true;
  for (const [step, op] of ops.entries()) {
    if (op.op === 'access') {
      const c = outcome(cached.cpu, op, outC);
      const u = outcome(uncached.cpu, op, outU);
      if (!stale.has(op.page)) {
        expect({ step, page: op.page, outcome: c }).toEqual({ step, page: op.page, outcome: u });
        expect(outC.translation.references).toBeLessThanOrEqual(outU.translation.references);
      }
      // A #PF came from a walk, which then removed what was cached for the page (SDM §4.10.4.1).
      if (c.startsWith('#PF')) stale.delete(op.page);
    } else if (op.op === 'store') {
      storeEntry(cached, op);
      storeEntry(uncached, op);
      // Any page may translate through the stored entry: none is fresh until invalidated.
      for (let p = 0; p < PAGES.length; p++) stale.add(p);
      unchanged = false;
    } else if (op.op === 'invlpg') {
      cached.cpu.invlpg(PAGES[op.page]);
      uncached.cpu.invlpg(PAGES[op.page]);
      stale.delete(op.page);
    } else {
      expect(cached.cpu.writeCr3(cached.root)).toBe(TranslateStatus.Ok);
      expect(uncached.cpu.writeCr3(uncached.root)).toBe(TranslateStatus.Ok);
      stale.clear();
    }
  }
  if (unchanged) {
    for (const address of cached.entries.flat()) {
      if (address === 0) continue;
      expect([address, cached.cpu.readPhysical(address)]).toEqual([
        address,
        uncached.cpu.readPhysical(address),
      ]);
    }
  }
}

describe('the cached path gives the uncached result wherever the manuals require a fresh translation', () => {
  for (const platform of ['native', 'amd', 'intel'] as const) {
    it(`${platform}: with stores and invalidations, every fresh access as uncached`, () => {
      fc.assert(
        fc.property(
          fc.boolean(),
          fc.array(fc.oneof(access, access, access, store, invlpg, movCr3), {
            minLength: 8,
            maxLength: 40,
            size: 'max',
          }),
          (wp, ops) => {
            run(platform, wp, ops);
          },
        ),
        { numRuns: 400 },
      );
    });

    it(`${platform}: with nothing changed behind the caches' back, the same outcomes and memory, fewer references`, () => {
      fc.assert(
        fc.property(
          fc.boolean(),
          fc.array(fc.oneof(access, access, access, invlpg, movCr3), {
            minLength: 8,
            maxLength: 40,
            size: 'max',
          }),
          (wp, ops) => {
            run(platform, wp, ops);
          },
        ),
        { numRuns: 40 },
      );
    });
  }
});
