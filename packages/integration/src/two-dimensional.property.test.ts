import {
  AccessKind,
  CpuState,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  loadPdptes,
  PageSize,
  PageTableBuilder,
  PageWalker,
  PagingMode,
  PhysicalMemory,
  Privilege,
  type TablePort,
  WalkResult,
  WalkStatus,
} from '@hvsim/cpu-core';
import { NestedAccess, NestedMmu, type NestedStage, TranslateStatus, Translation } from '@hvsim/mmu-nested';
import {
  PagingStructureCache,
  skylakeTlb,
  TlbHierarchy,
  PageSize as TlbPageSize,
  TranslationCache,
  WalkEntry,
} from '@hvsim/tlb-tagged';
import { NptStage } from '@hvsim/vendor-amd';
import { EptBuilder, EptStage } from '@hvsim/vendor-intel';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/*
 * Property (issue: mmu-nested "Done means"): for random guest and nested tables, the two-dimensional
 * walk gives the same outcome as a guest walk over a memory in which every guest-physical read is
 * first translated by a separate nested walk, then the final address by one more. The reference is
 * composed here from the parts (cpu-core's walker with a port of its own, a separate stage instance
 * over a separate copy of memory) and both runs must agree on every outcome and on the final memory.
 */

const GUEST_TABLES = 0x10_0000;
const DATA = 0x100_0000;
const HOST_TABLES = 0x4000_0000;

interface World {
  memory: PhysicalMemory;
  guestEntries: number[]; // addresses of guest entries (guest-physical = host-physical here)
  nestedEntries: number[];
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
  linear: number[];
  vendor: 'amd' | 'intel';
  nestedRoot: bigint;
  accessedDirty: boolean;
}

const guestModes = [
  PagingMode.None,
  PagingMode.Legacy32,
  PagingMode.Pae,
  PagingMode.Level4,
  PagingMode.Level5,
] as const;

function entriesOf(memory: PhysicalMemory, from: number, to: number, bytes: 4 | 8): number[] {
  const out: number[] = [];
  for (let page = from; page < to; page += 0x1000) {
    for (let offset = 0; offset < 0x1000; offset += bytes) {
      if ((memory.readWord(page + offset) & 7) !== 0) out.push(page + offset);
    }
  }
  return out;
}

function build(
  mode: PagingMode,
  vendor: 'amd' | 'intel',
  accessedDirty: boolean,
  largeGuest: boolean,
): World {
  const memory = new PhysicalMemory({ maxPhysicalAddressBits: 40 });
  const guestFrames = new FrameAllocator(GUEST_TABLES, GUEST_TABLES + 0x10_0000);
  const linear: number[] = [];
  let cr3 = 0;
  let cr4 = 0;
  let efer = Efer.NXE;
  if (mode !== PagingMode.None) {
    const gpt = new PageTableBuilder(memory, mode, () => guestFrames.allocate());
    for (let i = 0; i < 6; i++) {
      const lin = 0x4000_0000 + i * 0x40_0000 + (i % 2) * 0x1000;
      gpt.map(lin, DATA + i * 0x1000, { flags: 0x7 });
      linear.push(lin);
    }
    if (largeGuest) {
      const size = mode === PagingMode.Legacy32 ? PageSize.Size4M : PageSize.Size2M;
      gpt.map(0x8000_0000, DATA + 0x40_0000, { size, flags: 0x7 });
      linear.push(0x8000_0000 + 0x2345);
    }
    cr3 = gpt.root;
    cr4 = mode === PagingMode.Legacy32 ? Cr4.PSE : mode === PagingMode.Level5 ? Cr4.PAE | Cr4.LA57 : Cr4.PAE;
    if (mode === PagingMode.Level4 || mode === PagingMode.Level5) efer |= Efer.LME;
  } else {
    for (let i = 0; i < 6; i++) linear.push(DATA + i * 0x1000 + 0x10);
  }
  const guestEntries = entriesOf(
    memory,
    GUEST_TABLES,
    guestFrames.watermark,
    mode === PagingMode.Legacy32 ? 4 : 8,
  );
  const gpas: number[] = [];
  for (let gpa = GUEST_TABLES; gpa < guestFrames.watermark; gpa += 0x1000) gpas.push(gpa);
  for (let gpa = DATA; gpa < DATA + 0x60_0000; gpa += 0x1000) gpas.push(gpa);
  const hostFrames = new FrameAllocator(HOST_TABLES, HOST_TABLES + 0x100_0000);
  let nestedRoot: bigint;
  if (vendor === 'amd') {
    const npt = new PageTableBuilder(memory, PagingMode.Level4, () => hostFrames.allocate());
    for (const gpa of gpas) npt.map(gpa, gpa + 0x2000_0000, { flags: 0x7 });
    nestedRoot = BigInt(npt.root);
  } else {
    const ept = new EptBuilder(memory, () => hostFrames.allocate());
    for (const gpa of gpas) ept.map(gpa, gpa + 0x2000_0000);
    nestedRoot = ept.eptp(accessedDirty);
  }
  // Guest tables are read at their host-physical address: copy them 512 MiB up where the nested
  // tables put them.
  for (let page = GUEST_TABLES; page < guestFrames.watermark; page += 0x1000) {
    for (let offset = 0; offset < 0x1000; offset += 4) {
      const word = memory.readWord(page + offset);
      if (word !== 0) memory.writeWord(page + offset + 0x2000_0000, word);
    }
  }
  const nestedEntries = entriesOf(memory, HOST_TABLES, hostFrames.watermark, 8);
  return {
    memory,
    guestEntries: guestEntries.map((a) => a + 0x2000_0000),
    nestedEntries,
    cr0: Cr0.PE | (mode === PagingMode.None ? 0 : Cr0.PG) | Cr0.WP,
    cr3,
    cr4,
    efer,
    linear,
    vendor,
    nestedRoot,
    accessedDirty,
  };
}

function copyMemory(from: PhysicalMemory): PhysicalMemory {
  const to = new PhysicalMemory({ maxPhysicalAddressBits: from.maxPhysicalAddressBits });
  for (const frame of from.touchedFrameNumbers()) {
    for (let offset = 0; offset < 0x1000; offset += 4) {
      const word = from.readWord(frame * 0x1000 + offset);
      if (word !== 0) to.writeWord(frame * 0x1000 + offset, word);
    }
  }
  return to;
}

function stageFor(world: World, memory: PhysicalMemory, walkCache?: PagingStructureCache): NestedStage {
  const cache = walkCache === undefined ? {} : { walkCache };
  return world.vendor === 'amd'
    ? new NptStage(memory, { nestedCr3: world.nestedRoot, ...cache })
    : new EptStage(memory, { eptp: world.nestedRoot, capabilities: { executeOnly: true }, ...cache });
}

function guestState(world: World): CpuState {
  const state = new CpuState();
  state.setControlRegisters({ cr0: world.cr0, cr3: world.cr3, cr4: world.cr4, efer: world.efer });
  return state;
}

/** The reference: a plain guest walk whose port asks a separate nested stage, then one more translation. */
function reference(world: World, memory: PhysicalMemory) {
  const state = guestState(world);
  const stage = stageFor(world, memory);
  let why: NestedAccess = NestedAccess.GuestTable;
  const port: TablePort = {
    locate: (gpa) => stage.translate(gpa, why, AccessKind.Read, 0),
    locateForUpdate: (gpa) => stage.translateForUpdate(gpa),
  };
  const walker = new PageWalker(memory, state, { port });
  walker.pdptesOnDemand = stage.guestPdptesOnDemand;
  let start = 'ok';
  if (state.mode === PagingMode.Pae && !stage.guestPdptesOnDemand) {
    why = NestedAccess.PdpteLoad;
    stage.begin(0, 0);
    const status = loadPdptes(memory, state, port);
    why = NestedAccess.GuestTable;
    if (status === WalkStatus.PortFault)
      start = `nested ${stage.fault.kind} ${stage.fault.infoLo} ${stage.fault.guestPhysical}`;
    else if (status !== WalkStatus.Ok) start = 'gp';
  }
  const out = new WalkResult();
  return (lin: number, access: AccessKind, privilege: Privilege): string => {
    if (start !== 'ok') return start;
    stage.begin(lin, 0);
    const status = walker.walk(lin, 0, access, privilege, out);
    if (status === WalkStatus.PageFault) return `pf ${out.errorCode} ${out.faultLo}`;
    if (status === WalkStatus.GeneralProtection) return 'gp';
    if (status === WalkStatus.PortFault) {
      const f = stage.fault;
      return `nested ${f.kind} ${f.infoLo} ${f.infoHi} ${f.guestPhysical}`;
    }
    const hpa = stage.translate(out.physical, NestedAccess.Final, access, out.perms);
    if (hpa < 0) {
      const f = stage.fault;
      return `nested ${f.kind} ${f.infoLo} ${f.infoHi} ${f.guestPhysical}`;
    }
    return `ok ${out.physical} ${hpa}`;
  };
}

/** A TLB hierarchy (Skylake-class), a walk cache for every kind of upper-level entry, and a nested TLB. */
function caches() {
  const tlb = new TlbHierarchy(skylakeTlb.config);
  const walkCache = new PagingStructureCache(
    {
      levels: [
        { kind: WalkEntry.Pde32, entries: 16, ways: 4 },
        { kind: WalkEntry.Pde, entries: 32, ways: 4 },
        { kind: WalkEntry.Pdpte, entries: 4, ways: 4 },
        { kind: WalkEntry.Pml4e, entries: 2, ways: 2 },
        { kind: WalkEntry.Pml5e, entries: 2, ways: 2 },
      ],
    },
    tlb.tags,
  );
  const nestedTlb = new TranslationCache(
    {
      name: 'nested TLB',
      entries: 16,
      ways: 4,
      pageSizes: [TlbPageSize.Size4K, TlbPageSize.Size2M, TlbPageSize.Size1G],
    },
    tlb.tags,
  );
  const nestedWalkCache = new PagingStructureCache(
    {
      levels: [
        { kind: WalkEntry.Pde, entries: 16, ways: 4 },
        { kind: WalkEntry.Pdpte, entries: 4, ways: 4 },
        { kind: WalkEntry.Pml4e, entries: 2, ways: 2 },
      ],
    },
    tlb.tags,
  );
  return { tlb, walkCache, nestedTlb, nestedWalkCache };
}

/** The outcome without the guest-physical address, which a TLB hit does not know. */
function hostOnly(outcome: string): string {
  const parts = outcome.split(' ');
  return parts[0] === 'ok' ? `ok ${parts[2]}` : outcome;
}

/** How often the cached runs hit the TLB or resumed from the walk cache (the property must not be vacuous). */
const cacheUse = { tlbHits: 0, walkCacheHits: 0 };

function subject(world: World, memory: PhysicalMemory, cached = false) {
  const mmu = new NestedMmu(
    memory,
    guestState(world),
    stageFor(world, memory),
    cached ? caches() : undefined,
  );
  const out = new Translation();
  const startStatus = mmu.loadGuestPdptes(out);
  const start =
    startStatus === TranslateStatus.Ok
      ? 'ok'
      : startStatus === TranslateStatus.NestedFault
        ? `nested ${out.nestedFault.kind} ${out.nestedFault.infoLo} ${out.nestedFault.guestPhysical}`
        : 'gp';
  let walkHitsSeen = 0;
  return (lin: number, access: AccessKind, privilege: Privilege): string => {
    if (start !== 'ok') return start;
    const status = mmu.translate(lin, 0, access, privilege, out);
    if (out.tlbHit) cacheUse.tlbHits++;
    cacheUse.walkCacheHits += (mmu.caches?.walkCacheHits ?? 0) - walkHitsSeen;
    walkHitsSeen = mmu.caches?.walkCacheHits ?? 0;
    switch (status) {
      case TranslateStatus.Ok:
        return `ok ${out.guestPhysical} ${out.hostPhysical}`;
      case TranslateStatus.PageFault:
        return `pf ${out.errorCode} ${out.faultLo}`;
      case TranslateStatus.GeneralProtection:
        return 'gp';
      default: {
        const f = out.nestedFault;
        return `nested ${f.kind} ${f.infoLo} ${f.infoHi} ${f.guestPhysical}`;
      }
    }
  };
}

// Bits a mutation may flip: P, R/W, U/S, A, D, PS, G, an address bit, XD, a reserved bit (bit 45 with MAXPHYADDR 40).
const LO_BITS = [0, 1, 2, 5, 6, 7, 8, 3, 4, 12, 13, 21];
const HI_BITS = [31, 13, 8];

describe('two-dimensional walk = guest walk over nested-translated reads (fast-check)', () => {
  it('agrees on every outcome and on the final memory, for random tables and accesses', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...guestModes),
        fc.constantFrom('amd' as const, 'intel' as const),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.tuple(fc.boolean(), fc.nat(), fc.boolean(), fc.nat()), { maxLength: 6 }),
        fc.array(
          fc.tuple(
            fc.nat(),
            fc.constantFrom(AccessKind.Read, AccessKind.Write, AccessKind.Execute),
            fc.boolean(),
          ),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        (mode, vendor, accessedDirty, largeGuest, mutations, accesses) => {
          const world = build(mode, vendor, accessedDirty, largeGuest);
          for (const [nested, which, high, bit] of mutations) {
            const list = nested ? world.nestedEntries : world.guestEntries;
            if (list.length === 0) continue;
            const address = list[which % list.length];
            const wide = nested || mode !== PagingMode.Legacy32;
            if (high && wide) {
              const b = HI_BITS[bit % HI_BITS.length];
              world.memory.writeWord(address + 4, (world.memory.readWord(address + 4) ^ (1 << b)) >>> 0);
            } else {
              const b = LO_BITS[bit % LO_BITS.length];
              world.memory.writeWord(address, (world.memory.readWord(address) ^ (1 << b)) >>> 0);
            }
          }
          const refMemory = copyMemory(world.memory);
          const cachedMemory = copyMemory(world.memory);
          const run = subject(world, world.memory);
          const cachedRun = subject(world, cachedMemory, true);
          const ref = reference(world, refMemory);
          for (const [which, access, user] of accesses) {
            const lin = world.linear[which % world.linear.length];
            const privilege = user ? Privilege.User : Privilege.Supervisor;
            const expected = ref(lin, access, privilege);
            expect(run(lin, access, privilege)).toBe(expected);
            // Walk caches and TLBs change the reference count, never an outcome: the second run of the
            // same access may hit, and must agree with the reference's second walk.
            expect(hostOnly(cachedRun(lin, access, privilege))).toBe(hostOnly(expected));
            const again = ref(lin, access, privilege);
            expect(hostOnly(cachedRun(lin, access, privilege))).toBe(hostOnly(again));
            expect(run(lin, access, privilege)).toBe(again);
          }
          for (const other of [world.memory, cachedMemory]) {
            for (const frame of refMemory.touchedFrameNumbers()) {
              for (let offset = 0; offset < 0x1000; offset += 4) {
                const address = frame * 0x1000 + offset;
                if (other.readWord(address) !== refMemory.readWord(address)) {
                  expect(`0x${address.toString(16)}: ${other.readWord(address)}`).toBe(
                    `0x${address.toString(16)}: ${refMemory.readWord(address)}`,
                  );
                }
              }
            }
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(cacheUse.tlbHits).toBeGreaterThan(100);
    expect(cacheUse.walkCacheHits).toBeGreaterThan(10);
  });
});
