import { describe, expect, it } from 'vitest';
import { type CostModel, defaultCosts } from './cost-model.js';
import { MachineStats } from './stats.js';

// Costs chosen so that, for the counts below, each part lands in a decimal digit of its own: a part
// charged twice, or to the wrong place, shows in the total.
const costs: CostModel = {
  tlbHit: [1, 20, 300],
  walkReference: 4_000,
  worldSwitch: 10_000,
  exitHandling: 600_000,
  pagePopulate: 7_000_000,
  ipi: 80_000_000,
  shadowFill: 900_000_000,
  emulation: 1_000_000_000,
};

describe('MachineStats', () => {
  it('charges each count to its own part, and cycles is the sum of the parts', () => {
    const stats = new MachineStats(costs);
    stats.countTlbHit(0);
    stats.countTlbHit(0);
    stats.countTranslation({ tlbHit: true, tlbLevel: 1, references: 0 });
    // Deeper than the list: the last given level's cost (CostModel.tlbHit).
    stats.countTlbHit(4);
    stats.countTranslation({ tlbHit: false, tlbLevel: -1, references: 2 });
    stats.countEntry();
    stats.countExit('NPF');
    stats.countExitHandling('NPF');
    stats.countPagePopulation();
    stats.countEntry();
    stats.countExit('external interrupt');
    stats.countIpi();
    stats.countShadowFill();
    stats.countEmulation();
    stats.countEmulation();

    expect(stats.tlbHits).toBe(4);
    expect([...stats.tlbHitsByLevel.slice(0, 5)]).toEqual([2, 1, 0, 0, 1]);
    expect(stats.walks).toBe(1);
    expect(stats.walkReferences).toBe(2);
    expect(stats.entries).toBe(2);
    expect(stats.exits).toBe(2);
    expect(Object.fromEntries(stats.handledExitsByKind)).toEqual({ NPF: 1 });
    expect(stats.pagesPopulatedOnFault).toBe(1);
    expect(stats.ipis).toBe(1);
    expect(stats.shadowFills).toBe(1);
    expect(stats.emulations).toBe(2);
    expect(stats.cyclesBy()).toEqual({
      tlbHits: [2 * 1, 1 * 20, 0, 0, 1 * 300],
      walkReferences: 2 * 4_000,
      // Two entries and two exits, half a round trip each.
      worldSwitches: 4 * 5_000,
      exitHandling: { NPF: 600_000 },
      pagePopulation: 7_000_000,
      ipis: 80_000_000,
      shadowFills: 900_000_000,
      emulation: 2 * 1_000_000_000,
    });
    // Digit by digit from the right: first-level hits 2, second 2(0), deeper 3(00), walk 8, world
    // switches 2, exit handling 6, population 7, IPI 8, shadow fill 9, emulation 2.
    expect(stats.cycles).toBe(2_987_628_322);
    expect(stats.snapshot().cycles).toBe(stats.cycles);
  });

  it('charges the default costs when given none, and starts at zero', () => {
    const stats = new MachineStats();
    expect(stats.costs).toBe(defaultCosts);
    expect(stats.cycles).toBe(0);
    expect(stats.cyclesBy().tlbHits).toEqual([]);
    stats.countTlbHit(1);
    expect(stats.cycles).toBe(defaultCosts.tlbHit[1]);
  });
});
