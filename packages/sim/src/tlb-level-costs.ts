import { type CostModel, tlbHitCycles } from '@hvsim/platform';
import type { TlbHierarchy } from '@hvsim/tlb-tagged';

/**
 * The cost of a hit in each level of `tlb`, by level name: `costs.tlbHit` of the level's position in
 * the paths that look it up (`tlbHitCycles`). A level on no path is never hit, and costs the first
 * level's. Throws when a level sits at positions of different costs on the instruction and data
 * paths, since then no one cost per level says what its hits were charged.
 */
export function tlbLevelCosts(tlb: TlbHierarchy, costs: CostModel): Map<string, number> {
  const out = new Map<string, number>();
  for (const level of tlb.levels) {
    const i = tlb.instructionPath.indexOf(level);
    const d = tlb.dataPath.indexOf(level);
    const fetch = i < 0 ? null : tlbHitCycles(costs, i);
    const data = d < 0 ? null : tlbHitCycles(costs, d);
    if (fetch !== null && data !== null && fetch !== data) {
      throw new RangeError(
        `${tlb.name}: TLB level ${level.name} is at position ${i} of the instruction path and ${d} of the data path, ` +
          `whose hit costs differ (costs.tlbHit: ${fetch} and ${data} cycles); give costs that agree for both positions`,
      );
    }
    out.set(level.name, fetch ?? data ?? tlbHitCycles(costs, 0));
  }
  return out;
}
