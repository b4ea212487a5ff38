import { linearToBigInt, RefFlag, Stage, WalkTrace } from '@hvsim/cpu-core';
import { cacheEntries, removedEntries } from './cache-view.js';
import { ScenarioMachine } from './scenario-machine.js';
import type {
  CacheEntryView,
  Scenario,
  ScenarioResult,
  ScenarioStep,
  StepResult,
  WalkStep,
} from './types.js';

/** Options of `runScenario`. */
export interface RunOptions {
  /**
   * Record each access's memory references in its result's `walk`; with caches, also what the
   * translation caches hold after each step (`caches`) and what the step removed from them
   * (`removed`, on every operation and on an access that removed something).
   */
  readonly explain?: boolean;
}

/**
 * Runs a scenario on its `ScenarioMachine` and returns its `hvsim.result/1` result: one entry per
 * access, or per step of a sequence. Memory persists from one access to the next. Without `caches`
 * nothing else is cached (spec/scenario.md, Rules); with them, translations survive from one step to
 * the next as the vendors' manuals allow, an access a TLB served carries `cached: true`, and the
 * operations invalidate what their instructions do (spec/scenario.md, "Sequences with caches").
 * Without a second stage (`nested.enabled: false`) each access is a one-dimensional cpu-core walk and
 * guest-physical equals host-physical; with one, the two-dimensional walk of AMD NPT or Intel EPT.
 * How the scenario's start (the PDPTE load of a PAE guest) and each access's privilege are handled
 * is described at `ScenarioMachine`.
 */
export function runScenario(scenario: Scenario, options: RunOptions = {}): ScenarioResult {
  const machine = new ScenarioMachine(scenario);
  const explain = options.explain === true;
  const trace = explain ? new WalkTrace() : null;
  const hierarchy = explain ? machine.hierarchy : null;
  const steps: readonly ScenarioStep[] =
    scenario.steps ?? scenario.accesses.map((access) => ({ step: 'access', ...access }));
  let held: CacheEntryView[] = hierarchy === null ? [] : cacheEntries(hierarchy, scenario.vendor);
  const results = steps.map((step, i): StepResult => {
    trace?.clear();
    let result = machine.step(step, i, trace);
    if (step.step === 'access') result = explained(result, trace);
    if (hierarchy !== null) {
      const now = cacheEntries(hierarchy, scenario.vendor);
      const removed = removedEntries(held, now);
      held = now;
      result = {
        ...result,
        ...(step.step !== 'access' || removed.length > 0 ? { removed } : {}),
        caches: now,
      };
    }
    return result;
  });
  return { results, memory: machine.memoryRuns() };
}

/** Adds the trace's references to a result entry as its `walk` (references a cache saved are not made). */
function explained(entry: StepResult, trace: WalkTrace | null): StepResult {
  if (trace === null) return entry;
  const walk: WalkStep[] = [];
  for (let i = 0; i < trace.count; i++) {
    if ((trace.flags[i] & RefFlag.Cached) !== 0) continue;
    walk.push({
      stage: trace.stage[i] === Stage.Nested ? 'nested' : 'guest',
      level: trace.level[i],
      address: BigInt(trace.address[i]),
      entry: linearToBigInt(trace.entryLo[i], trace.entryHi[i]),
    });
  }
  return { ...entry, walk };
}
