import { linearToBigInt, Stage, WalkTrace } from '@hvsim/cpu-core';
import { ScenarioMachine } from './scenario-machine.js';
import type { AccessResult, Scenario, ScenarioResult, WalkStep } from './types.js';

/** Options of `runScenario`. */
export interface RunOptions {
  /** Record each access's memory references in its result's `walk`. */
  readonly explain?: boolean;
}

/**
 * Runs a scenario's accesses in order on its `ScenarioMachine` and returns its `hvsim.result/1`
 * result. Memory persists from one access to the next; nothing else is cached (spec/scenario.md,
 * Rules). Without a second stage (`nested.enabled: false`) each access is a one-dimensional cpu-core
 * walk and guest-physical equals host-physical; with one, the two-dimensional walk of AMD NPT or
 * Intel EPT. How the scenario's start (the PDPTE load of a PAE guest) and each access's privilege
 * are handled is described at `ScenarioMachine`.
 */
export function runScenario(scenario: Scenario, options: RunOptions = {}): ScenarioResult {
  const machine = new ScenarioMachine(scenario);
  const trace = options.explain === true ? new WalkTrace() : null;
  const results: AccessResult[] = [];
  for (const access of scenario.accesses) {
    trace?.clear();
    results.push(explained(machine.run(access, trace), trace));
  }
  return { results, memory: machine.memoryRuns() };
}

/** Adds the trace's references to a result entry as its `walk`. */
function explained(entry: AccessResult, trace: WalkTrace | null): AccessResult {
  if (trace === null) return entry;
  const walk: WalkStep[] = [];
  for (let i = 0; i < trace.count; i++) {
    walk.push({
      stage: trace.stage[i] === Stage.Nested ? 'nested' : 'guest',
      level: trace.level[i],
      address: BigInt(trace.address[i]),
      entry: linearToBigInt(trace.entryLo[i], trace.entryHi[i]),
    });
  }
  return { ...entry, walk };
}
