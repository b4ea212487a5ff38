/**
 * Cycle costs the hypervisor charges, each default taken from a public measurement where one exists
 * (the source is named beside it) and marked as an assumption where none was found. Every value can
 * be overridden: `{ ...defaultCosts, worldSwitch: 800 }`.
 */
export interface CostModel {
  /**
   * Cycles of a TLB hit by hierarchy level position (0 = first level). A first-level hit costs
   * nothing beyond the load itself. Second level: 9 cycles (assumption: no public latency was found;
   * override for your part).
   */
  readonly tlbHit: readonly number[];
  /**
   * Cycles per memory reference of a page walk. Default 12: a reference served by the L2 cache on
   * Skylake client (Intel Optimization Reference Manual, Skylake cache parameters table: L1D 4, L2 12,
   * L3 44 cycles). Page-table entries mostly hit in the caches; a cache model would refine this.
   */
  readonly walkReference: number;
  /**
   * Cycles of a world-switch round trip (VMRUN to #VMEXIT, or VM entry to VM exit) with nothing else
   * done: 1360, measured on AMD EPYC around KVM's VMRUN (LKML, "KVM: SVM: use vmsave/vmload for
   * saving/restoring additional host state", Dec. 2020: post-vmrun minus pre-vmrun, 1344-1376 cycles).
   */
  readonly worldSwitch: number;
  /**
   * Cycles the hypervisor spends handling an exit besides the switch itself: 1152, KVM's run loop
   * around a trivial exit in the same LKML samples (576 cycles before VMRUN and 576 after). Charged
   * on each exit the hypervisor handles (nested faults, hidden and guest page faults, page-table
   * writes, INVLPG, CR writes, hypercalls); an external-interrupt exit (the timer, a vCPU
   * descheduled) and an IPI kick are charged the world switch only (assumption: the host's interrupt
   * path is not modelled).
   */
  readonly exitHandling: number;
  /** Extra cycles to allocate, zero and map a backing page on a nested fault (assumption: 2000). */
  readonly pagePopulate: number;
  /** Cycles to send an inter-processor interrupt for a TLB shootdown and take it (assumption: 2000). */
  readonly ipi: number;
  /**
   * Shadow paging: cycles the hypervisor spends, beyond the exit, walking the guest's tables in
   * software and writing the shadow entry (assumption: 1000; no public per-fill figure was found).
   */
  readonly shadowFill: number;
  /**
   * Shadow paging: cycles to decode and emulate a trapped instruction (a guest page-table write),
   * beyond the exit (assumption: 2500; no public figure was found).
   */
  readonly emulation: number;
}

/** The default cost model (see each field for its source). */
export const defaultCosts: CostModel = {
  tlbHit: [0, 9],
  walkReference: 12,
  worldSwitch: 1360,
  exitHandling: 1152,
  pagePopulate: 2000,
  ipi: 2000,
  shadowFill: 1000,
  emulation: 2500,
};

/** Cycles of a TLB hit served at hierarchy `level`: `costs.tlbHit[level]`, the last given level's for deeper ones, 0 when none is given. */
export function tlbHitCycles(costs: CostModel, level: number): number {
  const hit = costs.tlbHit;
  return hit.length === 0 ? 0 : hit[Math.min(level, hit.length - 1)];
}

/** How many levels a TLB hit can name (positions 0 to 15 of an access's path): the size of the by-level arrays. */
export const TLB_HIT_LEVELS = 16;

/** `tlbHitCycles` of every level a TLB hit can name (0 to 15), for a hit path that indexes rather than computes. */
export function tlbHitCyclesByLevel(costs: CostModel): Float64Array {
  return Float64Array.from({ length: TLB_HIT_LEVELS }, (_, level) => tlbHitCycles(costs, level));
}

/** Checks a cost model: every value a finite, non-negative number. Throws naming the bad field. */
export function checkCosts(costs: CostModel): CostModel {
  const fields: Array<[string, number]> = [
    ['walkReference', costs.walkReference],
    ['worldSwitch', costs.worldSwitch],
    ['exitHandling', costs.exitHandling],
    ['pagePopulate', costs.pagePopulate],
    ['ipi', costs.ipi],
    ['shadowFill', costs.shadowFill],
    ['emulation', costs.emulation],
    ...costs.tlbHit.map((v, i): [string, number] => [`tlbHit[${i}]`, v]),
  ];
  for (const [name, value] of fields) {
    if (!Number.isFinite(value) || value < 0)
      throw new RangeError(`costs.${name} must be a non-negative number, got ${value}`);
  }
  return costs;
}
