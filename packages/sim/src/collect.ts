import {
  type CyclesBy,
  type RunCosts,
  type RunReport,
  sumCyclesBy,
  type TlbLevelReport,
} from '@hvsim/report';
import { InvalidationKind, TlbHierarchy } from '@hvsim/tlb-tagged';
import type { Machine } from './machine.js';
import { tlbLevelCosts } from './tlb-level-costs.js';

/**
 * A run's figures from the machine's counters: `MachineStats` for accesses, walks, exits and world
 * switches and the cycles of each; each CPU's TLB hierarchy for hits by level and the context-wide
 * flushes it received (whoever asked: the hypervisor, or the hardware itself); each CPU's
 * paging-structure cache for walks that started below the root; the guest OS's own counters as
 * given. `overheadVsNative` is filled in by the comparison that holds a native run.
 *
 * Cycles: `cyclesBy` is `MachineStats.cyclesBy()` with the TLB-hit part by level name (each level's
 * hits times its cost, `tlbLevelCosts`), and `cycles` is its sum. `MachineStats` already charges
 * each hit at its own level's cost: nothing is added on top.
 */
export function collectRun(machine: Machine, guest: Readonly<Record<string, number>>): RunReport {
  const { config, stats, costs } = machine;
  const levelHits = new Map<string, number>();
  const levelCosts = new Map<string, number>();
  for (const tlb of machine.tlbs) {
    if (!(tlb instanceof TlbHierarchy)) continue;
    for (const [name, cost] of tlbLevelCosts(tlb, costs)) levelCosts.set(name, cost);
    for (const level of tlb.levels) {
      let hits = 0;
      for (const cache of level.caches) hits += cache.stats.hits();
      levelHits.set(level.name, (levelHits.get(level.name) ?? 0) + hits);
    }
  }
  // Each access ends with at most one TLB hit (a lookup retried after an exit misses first), so the
  // levels' hits add up to the machine's, and over the same count of accesses their rates add up to
  // the overall rate. (Over the hierarchy's lookups, which count retries, they would not.)
  const tlbLevels: TlbLevelReport[] = [...levelHits].map(([name, hits]) => ({
    name,
    hits,
    hitRate: stats.accesses === 0 ? 0 : hits / stats.accesses,
  }));
  let tlbFlushes = 0;
  for (const tlb of machine.tlbs) {
    // Every operation reaches every structure of the hierarchy: count it once, on the first.
    const first = tlb instanceof TlbHierarchy ? tlb.structures[0] : undefined;
    if (first === undefined) continue;
    const counts = first.stats.invalidationCounts;
    tlbFlushes +=
      counts[InvalidationKind.All] +
      counts[InvalidationKind.AddressSpace] +
      counts[InvalidationKind.AddressSpaceNonGlobal] +
      counts[InvalidationKind.Guests];
  }
  let walkCacheHits = 0;
  for (const cache of machine.walkCaches) {
    if (cache === null) continue;
    for (const level of cache.levels) walkCacheHits += level.stats.hits();
  }
  const by = stats.cyclesBy();
  const cyclesBy: CyclesBy = {
    tlbHits: Object.fromEntries(
      [...levelHits].map(([name, hits]) => [name, hits * (levelCosts.get(name) as number)]),
    ),
    walkReferences: by.walkReferences,
    worldSwitches: by.worldSwitches,
    exitHandling: by.exitHandling,
    pagePopulation: by.pagePopulation,
    ipis: by.ipis,
    shadowFills: by.shadowFills,
    emulation: by.emulation,
  };
  const runCosts: RunCosts = {
    tlbHit: [...levelHits.keys()].map((name) => levelCosts.get(name) as number),
    walkReference: costs.walkReference,
    worldSwitch: costs.worldSwitch,
    exitHandling: costs.exitHandling,
    pagePopulate: costs.pagePopulate,
    ipi: costs.ipi,
    shadowFill: costs.shadowFill,
    emulation: costs.emulation,
  };
  const cycles = sumCyclesBy(cyclesBy);
  // The workload's own count (the guest kernel counts each access once, retried or not); a machine
  // without a guest kernel's counters has only the platform's.
  const workloadAccesses = guest.accesses ?? stats.accesses;
  const exitsByKind = Object.fromEntries(
    [...stats.exitsByKind].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  const tlbName = machine.tlbs.find((t) => t instanceof TlbHierarchy)?.name ?? 'none';
  return {
    config: config.name,
    description: config.description,
    mmu: config.mmu,
    vendor: config.mmu === 'native' ? 'none' : (config.vendor ?? 'none'),
    tagged: config.mmu !== 'native' && config.tagging,
    backing: config.mmu === 'native' ? '-' : config.backing,
    tlb: tlbName,
    accesses: stats.accesses,
    workloadAccesses,
    tlbHits: stats.tlbHits,
    tlbHitRate: stats.accesses === 0 ? 0 : stats.tlbHits / stats.accesses,
    tlbLevels,
    walks: stats.walks,
    walkReferences: stats.walkReferences,
    referencesPerWalk: stats.walks === 0 ? 0 : stats.walkReferences / stats.walks,
    walkCacheHits,
    exits: stats.exits,
    exitsByKind,
    worldSwitches: stats.entries,
    entryFlushes: stats.entryFlushes,
    tlbFlushes,
    guestPageFaults: stats.guestPageFaults,
    pagesPopulatedOnFault: stats.pagesPopulatedOnFault,
    ipis: stats.ipis,
    shadowFills: stats.shadowFills,
    emulations: stats.emulations,
    costs: runCosts,
    cyclesBy,
    cycles,
    cyclesPerAccess: workloadAccesses === 0 ? 0 : cycles / workloadAccesses,
    overheadVsNative: null,
    guest: Object.fromEntries(Object.entries(guest).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  };
}

/** Fills in each run's overhead against the first native run among them (none: all null). */
export function withOverheads(runs: readonly RunReport[]): RunReport[] {
  const native = runs.find((r) => r.mmu === 'native');
  return runs.map((r) => ({
    ...r,
    overheadVsNative:
      native === undefined || native.cyclesPerAccess === 0
        ? null
        : r.cyclesPerAccess / native.cyclesPerAccess,
  }));
}
