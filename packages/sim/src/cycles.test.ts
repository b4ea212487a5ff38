import { fileURLToPath } from 'node:url';
import { type CostModel, defaultCosts } from '@hvsim/platform';
import { parseReport, type ReportDocument, type RunReport, renderJson, sumCyclesBy } from '@hvsim/report';
import { tlbPresets } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { compare } from './compare.js';
import { checkConfig, type SimConfig } from './config.js';
import { assemble } from './machine.js';
import { defaultComparison, loadPreset } from './presets.js';
import type { WorkloadSpec } from './run.js';

/*
 * A report's cycles, recomputed here from its counts and the cost model alone, by the rules the cost
 * model documents (@hvsim/platform's CostModel), not from `cyclesBy`:
 *
 * - a TLB hit costs `tlbHit[p]` for the position p of its level in the access's path (the last given
 *   cost for deeper ones), the positions read off the TLB preset's paths here;
 * - a walk reference costs `walkReference`;
 * - a world switch round trip costs `worldSwitch`, half on each entry and half on each exit;
 * - every exit but an external interrupt (the timer, descheduling) or an IPI kick is handled, at
 *   `exitHandling`;
 * - in these runs every nested fault (NPF, EPT violation) backs a page, at `pagePopulate` (the guest
 *   touches nothing outside its memory), every hidden page fault fills a shadow entry, at
 *   `shadowFill`, and every page-table write or emulated-access exit is emulated, at `emulation`
 *   (no exit handler is registered to decide otherwise);
 * - an IPI costs `ipi`.
 *
 * Then the report must give that total exactly, and its `cyclesBy` must add up to it exactly.
 */

type TlbPresetName = keyof typeof tlbPresets;

/** Costs unlike the defaults and unlike each other, so a count charged at another's cost shows. */
const oddCosts: CostModel = {
  tlbHit: [1, 7, 13],
  walkReference: 11,
  worldSwitch: 1002,
  exitHandling: 301,
  pagePopulate: 4999,
  ipi: 1703,
  shadowFill: 907,
  emulation: 2311,
};

/** The cost of a hit in TLB level `name` of preset `tlb`, from its position in the paths. */
function levelCost(tlb: TlbPresetName, name: string, costs: CostModel): number {
  const { instructionPath, dataPath } = tlbPresets[tlb].config;
  const positions = [instructionPath.indexOf(name), dataPath.indexOf(name)].filter((p) => p >= 0);
  expect(positions.length, `level ${name} is on a path of ${tlb}`).toBeGreaterThan(0);
  const [position] = positions;
  return costs.tlbHit[Math.min(position, costs.tlbHit.length - 1)];
}

function recomputed(config: SimConfig, run: RunReport, costs: CostModel): number {
  const exits = (kind: string) => run.exitsByKind[kind] ?? 0;
  const tlb = config.tlb as TlbPresetName;
  let cycles = 0;
  for (const level of run.tlbLevels) cycles += level.hits * levelCost(tlb, level.name, costs);
  cycles += run.walkReferences * costs.walkReference;
  cycles += (run.worldSwitches + run.exits) * (costs.worldSwitch / 2);
  cycles += (run.exits - exits('external interrupt') - exits('IPI kick')) * costs.exitHandling;
  cycles += (exits('NPF') + exits('EPT violation')) * costs.pagePopulate;
  cycles += exits('hidden page fault') * costs.shadowFill;
  cycles += (exits('page-table write') + exits('emulated access')) * costs.emulation;
  cycles += run.ipis * costs.ipi;
  return cycles;
}

function checkReport(report: ReportDocument, configs: readonly SimConfig[], costs: CostModel): void {
  // What a script reading the JSON gets: the reader checks the breakdown too.
  const read = parseReport(renderJson(report), 'report.json');
  expect(read.runs.map((r) => r.config)).toEqual(configs.map((c) => c.name));
  read.runs.forEach((run, i) => {
    const config = configs[i];
    const where = `${run.config}`;
    const exits = (kind: string) => run.exitsByKind[kind] ?? 0;
    // The counts behind each part, against the exits that cause them.
    expect(run.pagesPopulatedOnFault, where).toBe(exits('NPF') + exits('EPT violation'));
    expect(run.shadowFills, where).toBe(exits('hidden page fault'));
    expect(run.emulations, where).toBe(exits('page-table write') + exits('emulated access'));
    // Each access ends with at most one TLB hit, at one level.
    expect(
      run.tlbLevels.reduce((sum, l) => sum + l.hits, 0),
      where,
    ).toBe(run.tlbHits);
    // The cost model as used, TLB-hit costs by level.
    expect(run.costs.tlbHit, where).toEqual(
      run.tlbLevels.map((l) => levelCost(config.tlb as TlbPresetName, l.name, costs)),
    );
    expect({ ...run.costs, tlbHit: costs.tlbHit }, where).toEqual(costs);
    const total = recomputed(config, run, costs);
    expect(total, where).toBeGreaterThan(0);
    expect(run.cycles, where).toBe(total);
    expect(sumCyclesBy(run.cyclesBy), where).toBe(total);
    expect(run.cyclesPerAccess, where).toBe(total / run.workloadAccesses);
  });
}

const withCosts = (config: SimConfig, costs: Partial<CostModel>): SimConfig =>
  checkConfig({ ...config, costs }, `${config.name} with costs`);

// Enough accesses for the timer (every 10,000) to fire, and for every phase of the mixed workload.
const mixed: WorkloadSpec = { kind: 'workload', name: 'mixed', accesses: 12_000 };
const trace: WorkloadSpec = {
  kind: 'trace',
  path: fileURLToPath(new URL('../../traces/fixtures/sort-small.lackey.gz', import.meta.url)),
};

describe("a report's cycles equal the sum of counts times costs", () => {
  const presets = defaultComparison.map((name) => loadPreset(name));

  it('for every configuration hvsim compare runs, at the default costs', async () => {
    const report = await compare(presets, mixed, { seed: 1, workers: 2 });
    checkReport(report, presets, defaultCosts);
    // The second-level TLB hits are there to be charged once (the bug this guards against charged them twice).
    const native = report.runs[0];
    expect(native.tlbLevels.find((l) => l.name === 'STLB')?.hits).toBeGreaterThan(0);
    // Every part but the IPIs (one vCPU: no shootdowns) occurs somewhere in the comparison.
    for (const part of [
      'walkReferences',
      'worldSwitches',
      'pagePopulation',
      'shadowFills',
      'emulation',
    ] as const)
      expect(Math.max(...report.runs.map((r) => r.cyclesBy[part])), part).toBeGreaterThan(0);
  }, 60_000);

  it('for every configuration hvsim compare runs, at costs unlike the defaults', async () => {
    const configs = presets.map((c) => withCosts(c, oddCosts));
    checkReport(await compare(configs, mixed, { seed: 1, workers: 2 }), configs, oddCosts);
  }, 60_000);

  it('for a trace of a real program (lackey, sort)', async () => {
    const configs = presets.map((c) => withCosts(c, oddCosts));
    const report = await compare(configs, trace, { seed: 1, workers: 2 });
    expect(report.runs[0].workloadAccesses).toBeGreaterThan(0);
    checkReport(report, configs, oddCosts);
  }, 60_000);
});

describe('a TLB level has one hit cost', () => {
  it('or the configuration is refused, naming the level and the two costs', () => {
    // A shared STLB behind one instruction level but two data levels: position 1 of the instruction
    // path, 2 of the data path; with three costs given, those positions cost 9 and 20.
    const shared = checkConfig(
      {
        ...loadPreset('native'),
        tlb: {
          name: 'odd',
          levels: [
            { name: 'L1 ITLB', caches: [{ name: 'L1 ITLB', entries: 8, ways: 2, pageSizes: ['4K'] }] },
            { name: 'L1 DTLB', caches: [{ name: 'L1 DTLB', entries: 8, ways: 2, pageSizes: ['4K'] }] },
            { name: 'L2 DTLB', caches: [{ name: 'L2 DTLB', entries: 16, ways: 4, pageSizes: ['4K'] }] },
            { name: 'STLB', caches: [{ name: 'STLB', entries: 64, ways: 4, pageSizes: ['4K'] }] },
          ],
          instructionPath: ['L1 ITLB', 'STLB'],
          dataPath: ['L1 DTLB', 'L2 DTLB', 'STLB'],
        },
      },
      'odd.yaml',
    );
    expect(() => assemble(withCosts(shared, { tlbHit: [0, 9, 20] }))).toThrow(
      /^odd: TLB level STLB is at position 1 of the instruction path and 2 of the data path, whose hit costs differ \(costs\.tlbHit: 9 and 20 cycles\)/,
    );
    // With two costs given, every level past the first costs the second: no conflict.
    const machine = assemble(withCosts(shared, { tlbHit: [0, 9] }));
    expect(machine.stats.costs.tlbHit).toEqual([0, 9]);
  });
});
