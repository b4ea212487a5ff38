import { type CostModel, tlbHitCycles } from './cost-model.js';

/**
 * What a run did, counted, natively or under a hypervisor: the figures a report explains a
 * configuration's cost with. Natively the world-switch and exit counters stay 0.
 */
export class MachineStats {
  /** Guest memory accesses. */
  accesses = 0;
  /** Accesses served by a TLB hit. */
  tlbHits = 0;
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
  /** Guest page faults delivered to the guest (not intercepted under nested paging). */
  guestPageFaults = 0;
  /** Backing pages allocated and mapped on nested faults or up front. */
  pagesPopulated = 0;
  /** Flushes done on world switches (tagging off, id rollover, migration, pending invalidation). */
  entryFlushes = 0;
  /** Id pool rollovers (each flushes every guest translation of a CPU). */
  idRollovers = 0;
  /** vCPU moves from one physical CPU to another. */
  migrations = 0;
  /** TLB shootdowns and the IPIs they sent. */
  shootdowns = 0;
  ipis = 0;
  /** Estimated cycles, by the cost model. */
  cycles = 0;

  /**
   * Counts one translation and charges it: a TLB hit at the latency of the level that served it
   * (`costs.tlbHit[level]`, the last given level for deeper ones), a walk at `walkReference` per
   * memory reference.
   */
  countTranslation(
    t: { readonly tlbHit: boolean; readonly tlbLevel: number; readonly references: number },
    costs: CostModel,
  ): void {
    if (t.tlbHit) {
      this.tlbHits++;
      this.cycles += tlbHitCycles(costs, t.tlbLevel);
    } else {
      this.walks++;
      this.walkReferences += t.references;
      this.cycles += t.references * costs.walkReference;
    }
  }

  /** Counts a TLB hit that costs `cycles` (`tlbHitCyclesByLevel`): `countTranslation`'s hit half, for a hit path. */
  countTlbHit(cycles: number): void {
    this.tlbHits++;
    this.cycles += cycles;
  }

  /** Counts an exit of `kind`. */
  countExit(kind: string): void {
    this.exits++;
    this.exitsByKind.set(kind, (this.exitsByKind.get(kind) ?? 0) + 1);
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
      exitsByKind: Object.fromEntries([...this.exitsByKind].sort(([a], [b]) => a.localeCompare(b))),
      guestPageFaults: this.guestPageFaults,
      pagesPopulated: this.pagesPopulated,
      entryFlushes: this.entryFlushes,
      idRollovers: this.idRollovers,
      migrations: this.migrations,
      shootdowns: this.shootdowns,
      ipis: this.ipis,
      cycles: this.cycles,
    };
  }
}
