import {
  AccessKind,
  CpuState,
  linearFromBigInt,
  linearToBigInt,
  loadPdptes,
  PageWalker,
  PagingMode,
  PhysicalMemory,
  privilegeOfCpl,
  Stage,
  WalkResult,
  WalkStatus,
  WalkTrace,
} from '@hvsim/cpu-core';
import { nestedRunner } from './nested-runner.js';
import type {
  AccessName,
  AccessResult,
  MemoryRun,
  Scenario,
  ScenarioAccess,
  ScenarioResult,
  WalkStep,
} from './types.js';

/** What `NestedRunner.start` is given: the scenario, its memory and the guest's CPU state. */
export interface NestedSetup {
  readonly scenario: Scenario;
  /**
   * Host-physical memory, loaded with the scenario's runs. It persists across accesses: accessed and
   * dirty bits the runner writes are seen by later accesses and end up in the result's `memory`.
   */
  readonly memory: PhysicalMemory;
  /**
   * The guest's CPU state with `scenario.guest`'s registers set. The PAE PDPTEs are not loaded:
   * how they are (through the nested stage, or on demand as AMD nested paging does) is the runner's
   * business. `runScenario` sets `state.cpl` to each access's `cpl` before running it.
   */
  readonly state: CpuState;
}

/**
 * Runs one access of a nested scenario. `trace` is set when a walk was asked for (`explain`),
 * cleared before each access: record every memory reference there, guest (`Stage.Guest`) and
 * nested (`Stage.Nested`), with host-physical addresses. Return the entry without `walk`;
 * `runScenario` adds it from the trace.
 */
export type NestedAccessRunner = (
  access: ScenarioAccess,
  index: number,
  trace: WalkTrace | null,
) => AccessResult;

/**
 * The seam through which `runScenario` runs scenarios whose `nested.enabled` is true: the
 * two-dimensional walk, nested page faults and EPT exits live in @hvsim/mmu-nested, which provides
 * the implementation. `start` is called once per scenario, before the first access (the place for
 * the PAE PDPTE load of spec/scenario.md), and returns the function that runs each access in order.
 * Every access starts with no cached translations (spec/scenario.md, Rules).
 */
export interface NestedRunner {
  start(setup: NestedSetup): NestedAccessRunner;
}

/** Options of `runScenario`. */
export interface RunOptions {
  /** Record each access's memory references in its result's `walk`. */
  readonly explain?: boolean;
  /** Runs the accesses of nested scenarios (default: `nestedRunner`, the AMD NPT and Intel EPT walk of @hvsim/mmu-nested). */
  readonly nested?: NestedRunner;
}

const ACCESS_KIND: Readonly<Record<AccessName, AccessKind>> = {
  read: AccessKind.Read,
  write: AccessKind.Write,
  execute: AccessKind.Execute,
};

/**
 * Runs a scenario's accesses in order and returns its `hvsim.result/1` result. Memory persists from
 * one access to the next; nothing else is cached (spec/scenario.md, Rules).
 *
 * Without a second stage (`nested.enabled: false`) each access is a one-dimensional cpu-core walk
 * and guest-physical equals host-physical. The PAE PDPTEs are loaded once at the start, as a MOV to
 * CR3 would (Intel SDM vol. 3A §4.4.1); if that load fails (a present PDPTE with a reserved bit),
 * the MOV to CR3 would have raised #GP(0), so every access's result is `general-protection` with
 * error code 0. The privilege of an access is its `cpl`, except that real mode (CR0.PE=0, paged or
 * not) runs at CPL 0 and virtual-8086 mode (RFLAGS.VM=1) at CPL 3 (SDM vol. 3A §20.1, §20.2).
 *
 * Nested scenarios run on `options.nested`, by default the two-dimensional walk of @hvsim/mmu-nested.
 */
export function runScenario(scenario: Scenario, options: RunOptions = {}): ScenarioResult {
  const memory = new PhysicalMemory({ maxPhysicalAddressBits: scenario.cpu.maxPhysicalAddressBits });
  loadMemory(memory, scenario.memory);
  const state = new CpuState();
  state.setControlRegisters(scenario.guest);
  const trace = options.explain === true ? new WalkTrace() : null;

  const results: AccessResult[] = [];
  if (scenario.nested.enabled) {
    const runAccess = (options.nested ?? nestedRunner).start({ scenario, memory, state });
    scenario.accesses.forEach((access, index) => {
      state.cpl = access.cpl;
      trace?.clear();
      results.push(explained(runAccess(access, index, trace), trace));
    });
  } else {
    const walker = new PageWalker(memory, state);
    walker.trace = trace;
    const pdpteLoadFailed =
      state.mode === PagingMode.Pae && loadPdptes(memory, state) === WalkStatus.GeneralProtection;
    const out = new WalkResult();
    for (const access of scenario.accesses) {
      state.cpl = access.cpl;
      trace?.clear();
      const entry = pdpteLoadFailed
        ? ({ outcome: 'general-protection', errorCode: 0n } as const)
        : walkOne(walker, access, out);
      results.push(explained(entry, trace));
    }
  }
  return { results, memory: readRuns(memory, scenario.memory) };
}

function walkOne(walker: PageWalker, access: ScenarioAccess, out: WalkResult): AccessResult {
  const { lo, hi } = linearFromBigInt(access.address);
  const privilege = privilegeOfCpl(walker.state.effectiveCpl);
  const status = walker.walk(lo, hi, ACCESS_KIND[access.access], privilege, out);
  switch (status) {
    case WalkStatus.Ok: {
      const physical = BigInt(out.physical);
      return { outcome: 'ok', guestPhysical: physical, hostPhysical: physical };
    }
    case WalkStatus.PageFault:
      // The walker reports the 32-bit linear address outside 4- and 5-level paging (faultHi = 0).
      return {
        outcome: 'page-fault',
        errorCode: BigInt(out.errorCode),
        address: linearToBigInt(out.faultLo, out.faultHi),
      };
    case WalkStatus.GeneralProtection:
      return { outcome: 'general-protection', errorCode: BigInt(out.errorCode) };
    default:
      throw new Error(`internal error: a one-stage walk ended with status ${status}`);
  }
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

function loadMemory(memory: PhysicalMemory, runs: readonly MemoryRun[]): void {
  for (const run of runs) {
    const base = Number(run.address);
    run.qwords.forEach((word, i) => {
      memory.writeEntry(base + 8 * i, Number(word & 0xffff_ffffn), Number(word >> 32n));
    });
  }
}

/** The scenario's runs with the memory's current contents. */
function readRuns(memory: PhysicalMemory, runs: readonly MemoryRun[]): MemoryRun[] {
  return runs.map((run) => {
    const base = Number(run.address);
    return {
      address: run.address,
      qwords: run.qwords.map((_, i) =>
        linearToBigInt(memory.readWord(base + 8 * i), memory.readWord(base + 8 * i + 4)),
      ),
    };
  });
}
