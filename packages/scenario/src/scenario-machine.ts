import {
  AccessKind,
  CpuState,
  linearFromBigInt,
  linearToBigInt,
  loadPdptes,
  PagingMode,
  PhysicalMemory,
  WalkStatus,
  type WalkTrace,
} from '@hvsim/cpu-core';
import { DocumentError } from '@hvsim/errors';
import {
  type MmuCaches,
  NativeMmu,
  NestedFaultKind,
  NestedMmu,
  type NestedStage,
  TranslateStatus,
  Translation,
} from '@hvsim/mmu-nested';
import { ASID_NONE, type PagingStructureCache } from '@hvsim/tlb-tagged';
import { NptStage } from '@hvsim/vendor-amd';
import { decodeEptp, EptStage } from '@hvsim/vendor-intel';
import type { AccessName, AccessResult, MemoryRun, Scenario, ScenarioAccess } from './types.js';

const ACCESS_KIND: Readonly<Record<AccessName, AccessKind>> = {
  read: AccessKind.Read,
  write: AccessKind.Write,
  execute: AccessKind.Execute,
};

/**
 * Caches a scenario machine runs with. A scenario itself runs with none (spec/scenario.md, Rules:
 * every access starts with no cached translations); these are for showing what caches save, as
 * @hvsim/walk-view does.
 */
export interface ScenarioMachineCaches extends MmuCaches {
  /** A walk cache for the second stage's own walk (ignored without a second stage). */
  readonly nestedWalkCache?: PagingStructureCache;
}

/**
 * The tag the scenario's guest runs under when caches are given: ASID (AMD) or VPID (Intel) 1 for a
 * guest under a second stage, 0 (the host's) without one.
 */
export const SCENARIO_GUEST_TAG = 1;

/**
 * A scenario's machine, assembled once: host-physical memory loaded with the scenario's runs, the
 * guest's CPU state, and the MMU the scenario describes: a one-stage walk of @hvsim/cpu-core, or the
 * two-dimensional walk of @hvsim/mmu-nested over AMD NPT or Intel EPT. `runScenario` and
 * @hvsim/walk-view both run scenarios on it.
 *
 * The start of a scenario is a MOV to CR3 (and, nested, a VMRUN or VM entry):
 * - one stage, PAE: the PDPTEs are loaded from memory (Intel SDM vol. 3A §4.4.1); a present PDPTE
 *   with a reserved bit makes that MOV raise #GP(0), so no access runs and every result is
 *   `general-protection` with error code 0 (spec/scenario.md);
 * - Intel EPT, PAE: the PDPTEs are loaded through EPT (Intel SDM vol. 3C §29.3.2); an EPT violation,
 *   EPT misconfiguration or reserved PDPTE bit there is every access's outcome;
 * - AMD NPT: the guest's PDPTEs are read during each walk (AMD APM vol. 2 §15.25.10).
 * A second stage no VMRUN or VM entry would accept (host paging off, an invalid EPTP) is a
 * `DocumentError` naming `host` or `nested.root`.
 */
export class ScenarioMachine {
  readonly scenario: Scenario;
  /** Host-physical memory. It persists across accesses: accessed and dirty bits written stay. */
  readonly memory: PhysicalMemory;
  /** The guest's CPU state; `run` sets `cpl` to each access's. */
  readonly state: CpuState;
  readonly mmu: NativeMmu | NestedMmu;
  /** The outcome every access has because the scenario's start failed (see the class), or null. */
  readonly startFailure: AccessResult | null;
  /** The last access's translation, in full (guest tables, nested fault, references). */
  readonly translation = new Translation();

  constructor(scenario: Scenario, caches?: ScenarioMachineCaches) {
    this.scenario = scenario;
    const memory = new PhysicalMemory({ maxPhysicalAddressBits: scenario.cpu.maxPhysicalAddressBits });
    loadRuns(memory, scenario.memory);
    const state = new CpuState();
    state.setControlRegisters(scenario.guest);
    this.memory = memory;
    this.state = state;
    const out = this.translation;
    const tags = caches?.tlb?.tags ?? caches?.walkCache?.tags ?? caches?.nestedWalkCache?.tags;
    if (scenario.nested.enabled) {
      const intel = scenario.vendor === 'intel';
      // Intel tags guest-physical mappings by the EPT root alone (SDM vol. 3C §28.4.1); AMD by ASID.
      const eptRoot = intel ? Number(scenario.nested.root & 0xf_ffff_ffff_f000n) : undefined;
      const nestedContext =
        tags === undefined
          ? 0
          : eptRoot === undefined
            ? tags.nestedContext(SCENARIO_GUEST_TAG)
            : tags.nestedContext(ASID_NONE, eptRoot);
      const stage = nestedStageOf(scenario, memory, caches?.nestedWalkCache, nestedContext);
      const { nestedWalkCache: _, ...mmuCaches } = caches ?? {};
      const mmu = new NestedMmu(memory, state, stage, caches === undefined ? undefined : mmuCaches);
      if (mmu.caches !== null) {
        mmu.caches.setContext(SCENARIO_GUEST_TAG, state.pcid, eptRoot);
        mmu.caches.nestedContext = nestedContext;
      }
      this.mmu = mmu;
      this.startFailure = mmu.loadGuestPdptes(out) === TranslateStatus.Ok ? null : resultOf(out);
    } else {
      const mmu = new NativeMmu(memory, state, caches);
      mmu.caches?.setContext(0, state.pcid);
      this.mmu = mmu;
      const failed =
        state.mode === PagingMode.Pae && loadPdptes(memory, state) === WalkStatus.GeneralProtection;
      this.startFailure = failed ? { outcome: 'general-protection', errorCode: 0n } : null;
    }
  }

  /**
   * Runs one access: its privilege is its effective CPL (`cpl`, except that real mode runs at CPL 0
   * and virtual-8086 mode at CPL 3, SDM vol. 3A §20.1-20.2). Every memory reference is recorded in
   * `trace` when given, guest and nested stage, with host-physical addresses. Returns the result
   * entry without `walk`.
   */
  run(access: ScenarioAccess, trace: WalkTrace | null = null): AccessResult {
    if (this.startFailure !== null) return this.startFailure;
    const state = this.state;
    state.cpl = access.cpl;
    const { lo, hi } = linearFromBigInt(access.address);
    const mmu = this.mmu;
    mmu.trace = trace;
    mmu.translate(lo, hi, ACCESS_KIND[access.access], state.explicitPrivilege, this.translation);
    mmu.trace = null;
    return resultOf(this.translation);
  }

  /** The scenario's memory runs with the memory's current contents. */
  memoryRuns(): MemoryRun[] {
    const memory = this.memory;
    return this.scenario.memory.map((run) => {
      const base = Number(run.address);
      return {
        address: run.address,
        qwords: run.qwords.map((_, i) =>
          linearToBigInt(memory.readWord(base + 8 * i), memory.readWord(base + 8 * i + 4)),
        ),
      };
    });
  }
}

/**
 * The second stage a nested scenario describes: AMD NPT on the host's paging mode with nCR3 as its
 * root, or Intel EPT from the EPTP with the CPU's EPT capabilities, optionally with a walk cache of
 * its own used under `nestedContext`. A setting no VMRUN or VM entry would accept is a DocumentError.
 */
function nestedStageOf(
  scenario: Scenario,
  memory: PhysicalMemory,
  walkCache: PagingStructureCache | undefined,
  nestedContext: number,
): NestedStage {
  if (!scenario.nested.enabled) throw new Error('internal error: the scenario has no second stage');
  const root = scenario.nested.root;
  const cache = walkCache === undefined ? {} : { walkCache, nestedContext };
  if (scenario.vendor === 'amd') {
    try {
      return new NptStage(memory, { nestedCr3: root, host: scenario.host, ...cache });
    } catch (error) {
      throw new DocumentError([{ path: 'host', message: (error as Error).message }]);
    }
  }
  const capabilities = {
    executeOnly: scenario.cpu.eptExecuteOnly,
    accessedDirty: scenario.cpu.eptAccessedDirty,
    modeBasedExecute: scenario.cpu.eptModeBasedExecute,
    advancedViolationInfo: scenario.cpu.eptAdvancedViolationInfo,
  };
  const decoded = decodeEptp(root, scenario.cpu.maxPhysicalAddressBits, capabilities);
  if (typeof decoded === 'string') {
    // VM entry fails with an invalid EPTP (Intel SDM vol. 3C §26.2.1.1): no access ever runs.
    throw new DocumentError([{ path: 'nested.root', message: `invalid EPTP: ${decoded}` }]);
  }
  return new EptStage(memory, { eptp: root, capabilities, ...cache });
}

/** The result entry (without `walk`) of a translation. */
export function resultOf(out: Translation): AccessResult {
  switch (out.status) {
    case TranslateStatus.Ok:
      return {
        outcome: 'ok',
        guestPhysical: BigInt(out.guestPhysical),
        hostPhysical: BigInt(out.hostPhysical),
      };
    case TranslateStatus.PageFault:
      // CR2: the full address in 4- and 5-level paging, the 32-bit linear address otherwise (faultHi 0).
      return {
        outcome: 'page-fault',
        errorCode: BigInt(out.errorCode),
        address: linearToBigInt(out.faultLo, out.faultHi),
      };
    case TranslateStatus.GeneralProtection:
      return { outcome: 'general-protection', errorCode: BigInt(out.errorCode) };
    default: {
      const fault = out.nestedFault;
      switch (fault.kind) {
        case NestedFaultKind.NestedPageFault:
          return {
            outcome: 'nested-page-fault',
            exitInfo1: linearToBigInt(fault.infoLo, fault.infoHi),
            exitInfo2: BigInt(fault.guestPhysical),
          };
        case NestedFaultKind.EptViolation:
          return {
            outcome: 'ept-violation',
            exitQualification: linearToBigInt(fault.infoLo, fault.infoHi),
            guestPhysical: BigInt(fault.guestPhysical),
            guestLinear: fault.linearValid ? linearToBigInt(fault.linearLo, fault.linearHi) : null,
          };
        case NestedFaultKind.EptMisconfiguration:
          return { outcome: 'ept-misconfiguration', guestPhysical: BigInt(fault.guestPhysical) };
        default:
          throw new Error('internal error: a nested fault without a kind');
      }
    }
  }
}

function loadRuns(memory: PhysicalMemory, runs: readonly MemoryRun[]): void {
  for (const run of runs) {
    const base = Number(run.address);
    run.qwords.forEach((word, i) => {
      memory.writeEntry(base + 8 * i, Number(word & 0xffff_ffffn), Number(word >> 32n));
    });
  }
}
