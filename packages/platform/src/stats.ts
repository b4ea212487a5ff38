import { type CostModel, defaultCosts, TLB_HIT_LEVELS, tlbHitCyclesByLevel } from './cost-model.js';

/**
 * Estimated cycles by what they were spent on, as `MachineStats.cyclesBy` gives them: each part is
 * what the cost model charged for one kind of event, counted where it was charged, and `cycles` is
 * their sum.
 */
export interface CycleBreakdown {
  /** TLB hits, by the position in the access's path of the level that served them (0 = first level). */
  readonly tlbHits: readonly number[];
  /** Memory references of page walks (both stages). */
  readonly walkReferences: number;
  /** World switches: half a round trip on each entry and on each exit. */
  readonly worldSwitches: number;
  /** The hypervisor's handling of exits, by exit kind (the kinds it handles: not timer or IPI-kick exits). */
  readonly exitHandling: Readonly<Record<string, number>>;
  /** Backing pages allocated and mapped on nested faults (not those filled up front). */
  readonly pagePopulation: number;
  /** Inter-processor interrupts of TLB shootdowns and kicks. */
  readonly ipis: number;
  /** Shadow paging: shadow entries filled on hidden page faults. */
  readonly shadowFills: number;
  /** Shadow paging: trapped accesses and guest page-table writes emulated. */
  readonly emulation: number;
}

/**
 * What a run did, counted, natively or under a hypervisor: the figures a report explains a
 * configuration's cost with. Natively the world-switch and exit counters stay 0.
 *
 * Cycles are charged by the cost model the counters were made with, by the method that counts the
 * event (`countTranslation`, `countEntry`, `countExit`, `countExitHandling`, `countPagePopulation`,
 * `countIpi`, `countShadowFill`, `countEmulation`), each into its own part of `cyclesBy()`; `cycles`
 * is the sum of the parts, so the breakdown adds up to it by construction.
 */
export class MachineStats {
  /** The cost model every count is charged by. */
  readonly costs: CostModel;
  /** Guest memory accesses. */
  accesses = 0;
  /**
   * Accesses served by a TLB hit, by the position in the access's path of the level that hit (0 =
   * first level): a typed array, so the hit path's count is one indexed increment.
   */
  readonly tlbHitsByLevel = new Float64Array(TLB_HIT_LEVELS);
  /** Translations that walked. */
  walks = 0;
  /** Memory references made by walks (both stages). */
  walkReferences = 0;
  /** World switches into a guest (VMRUN / VM entry). */
  entries = 0;
  /** World switches back to the host (#VMEXIT / VM exit). */
  exits = 0;
  /** Exits by name ("NPF", "EPT violation", "INVLPG"…). */
  readonly exitsByKind = new Map<string, number>();
  /** Exits the hypervisor handled (and was charged `exitHandling` for), by name. */
  readonly handledExitsByKind = new Map<string, number>();
  /** Guest page faults delivered to the guest (not intercepted under nested paging). */
  guestPageFaults = 0;
  /** Backing pages allocated and mapped on nested faults or up front. */
  pagesPopulated = 0;
  /** Of `pagesPopulated`, those allocated on a nested fault (each charged `pagePopulate`). */
  pagesPopulatedOnFault = 0;
  /** Flushes done on world switches (tagging off, id rollover, migration, pending invalidation). */
  entryFlushes = 0;
  /** Id pool rollovers (each flushes every guest translation of a CPU). */
  idRollovers = 0;
  /** vCPU moves from one physical CPU to another. */
  migrations = 0;
  /** TLB shootdowns and the IPIs they sent (each IPI charged `ipi`). */
  shootdowns = 0;
  ipis = 0;
  /** Shadow paging: shadow entries filled on hidden page faults (each charged `shadowFill`). */
  shadowFills = 0;
  /** Shadow paging: accesses and page-table writes emulated (each charged `emulation`). */
  emulations = 0;

  /** Cycles of a TLB hit by level (`tlbHitCyclesByLevel` of `costs`). */
  private readonly hitCycles: Float64Array;
  private walkReferenceCycles = 0;
  private worldSwitchCycles = 0;
  private readonly exitHandlingCycles = new Map<string, number>();
  private pagePopulationCycles = 0;
  private ipiCycles = 0;
  private shadowFillCycles = 0;
  private emulationCycles = 0;

  /** Counters that charge by `costs` (default `defaultCosts`). */
  constructor(costs: CostModel = defaultCosts) {
    this.costs = costs;
    this.hitCycles = tlbHitCyclesByLevel(costs);
  }

  /** Accesses served by a TLB hit, at any level. */
  get tlbHits(): number {
    let n = 0;
    for (let i = 0; i < TLB_HIT_LEVELS; i++) n += this.tlbHitsByLevel[i];
    return n;
  }

  /**
   * Counts one translation and charges it: a TLB hit at the latency of the level that served it
   * (`costs.tlbHit[level]`, the last given level for deeper ones), a walk at `walkReference` per
   * memory reference.
   */
  countTranslation(t: {
    readonly tlbHit: boolean;
    readonly tlbLevel: number;
    readonly references: number;
  }): void {
    if (t.tlbHit) {
      this.tlbHitsByLevel[t.tlbLevel]++;
    } else {
      this.walks++;
      this.walkReferences += t.references;
      this.walkReferenceCycles += t.references * this.costs.walkReference;
    }
  }

  /**
   * Counts a TLB hit at path position `level` (0 to 15): `countTranslation`'s hit half, for a hit
   * path. One indexed increment: its cycles are the level's count times its cost, summed when read.
   */
  countTlbHit(level: number): void {
    this.tlbHitsByLevel[level]++;
  }

  /** Counts a world switch into a guest, charged half a round trip (`worldSwitch / 2`). */
  countEntry(): void {
    this.entries++;
    this.worldSwitchCycles += this.costs.worldSwitch / 2;
  }

  /** Counts an exit of `kind`, charged the other half of the round trip (`worldSwitch / 2`). */
  countExit(kind: string): void {
    this.exits++;
    this.exitsByKind.set(kind, (this.exitsByKind.get(kind) ?? 0) + 1);
    this.worldSwitchCycles += this.costs.worldSwitch / 2;
  }

  /** Counts the hypervisor's handling of an exit of `kind`, charged `exitHandling`. */
  countExitHandling(kind: string): void {
    this.handledExitsByKind.set(kind, (this.handledExitsByKind.get(kind) ?? 0) + 1);
    this.exitHandlingCycles.set(kind, (this.exitHandlingCycles.get(kind) ?? 0) + this.costs.exitHandling);
  }

  /** Counts a backing page allocated on a nested fault, charged `pagePopulate` (`pagesPopulated` counts it already). */
  countPagePopulation(): void {
    this.pagesPopulatedOnFault++;
    this.pagePopulationCycles += this.costs.pagePopulate;
  }

  /** Counts an inter-processor interrupt, charged `ipi`. */
  countIpi(): void {
    this.ipis++;
    this.ipiCycles += this.costs.ipi;
  }

  /** Counts a shadow entry filled on a hidden page fault, charged `shadowFill`. */
  countShadowFill(): void {
    this.shadowFills++;
    this.shadowFillCycles += this.costs.shadowFill;
  }

  /** Counts an emulated access or guest page-table write, charged `emulation`. */
  countEmulation(): void {
    this.emulations++;
    this.emulationCycles += this.costs.emulation;
  }

  /** Estimated cycles, by the cost model: the sum of `cyclesBy()`, in its order. */
  get cycles(): number {
    const by = this.cyclesBy();
    let total = 0;
    for (const c of by.tlbHits) total += c;
    total += by.walkReferences + by.worldSwitches;
    for (const c of Object.values(by.exitHandling)) total += c;
    return total + by.pagePopulation + by.ipis + by.shadowFills + by.emulation;
  }

  /** The cycles by component; TLB hits by level up to the deepest level that hit, exit handling by kind sorted. */
  cyclesBy(): CycleBreakdown {
    let depth = TLB_HIT_LEVELS;
    while (depth > 0 && this.tlbHitsByLevel[depth - 1] === 0) depth--;
    const tlbHits: number[] = [];
    for (let i = 0; i < depth; i++) tlbHits.push(this.tlbHitsByLevel[i] * this.hitCycles[i]);
    return {
      tlbHits,
      walkReferences: this.walkReferenceCycles,
      worldSwitches: this.worldSwitchCycles,
      exitHandling: sortedRecord(this.exitHandlingCycles),
      pagePopulation: this.pagePopulationCycles,
      ipis: this.ipiCycles,
      shadowFills: this.shadowFillCycles,
      emulation: this.emulationCycles,
    };
  }

  /** A plain-object copy, for reports. */
  snapshot(): Record<string, number | Record<string, number>> {
    return {
      accesses: this.accesses,
      tlbHits: this.tlbHits,
      walks: this.walks,
      walkReferences: this.walkReferences,
      entries: this.entries,
      exits: this.exits,
      exitsByKind: sortedRecord(this.exitsByKind),
      handledExitsByKind: sortedRecord(this.handledExitsByKind),
      guestPageFaults: this.guestPageFaults,
      pagesPopulated: this.pagesPopulated,
      pagesPopulatedOnFault: this.pagesPopulatedOnFault,
      entryFlushes: this.entryFlushes,
      idRollovers: this.idRollovers,
      migrations: this.migrations,
      shootdowns: this.shootdowns,
      ipis: this.ipis,
      shadowFills: this.shadowFills,
      emulations: this.emulations,
      cycles: this.cycles,
    };
  }
}

function sortedRecord(map: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
