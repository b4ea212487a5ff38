import {
  AccessKind,
  CpuState,
  Efer,
  isCanonicalAddress,
  linearFromBigInt,
  linearPageNumber,
  linearPageNumberOfBigInt,
  linearToBigInt,
  loadPdptes,
  movToCr0Fault,
  movToCr3Fault,
  movToCr4Fault,
  PagingMode,
  PhysicalMemory,
  reloadsPdptes,
  WalkStatus,
  type WalkTrace,
} from '@hvsim/cpu-core';
import { DocumentError } from '@hvsim/errors';
import {
  controlRegisterInvalidation,
  type MmuCaches,
  NativeMmu,
  NestedFaultKind,
  NestedMmu,
  type NestedStage,
  TranslateStatus,
  Translation,
} from '@hvsim/mmu-nested';
import { ASID_NONE, type PagingStructureCache, TlbHierarchy, type TlbTargets } from '@hvsim/tlb-tagged';
import { applyTlbControl, invlpga, NptStage } from '@hvsim/vendor-amd';
import {
  decodeEptp,
  EptStage,
  invalidateVpidZero,
  invept,
  inveptDescriptor,
  invvpid,
  invvpidDescriptor,
  type VmxCapabilities,
  type VmxInstructionResult,
} from '@hvsim/vendor-intel';
import { scenarioTlbConfig } from './cache-view.js';
import type {
  AccessName,
  AccessResult,
  MemoryRun,
  OperationStep,
  Scenario,
  ScenarioAccess,
  ScenarioStep,
  StepResult,
} from './types.js';

const ACCESS_KIND: Readonly<Record<AccessName, AccessKind>> = {
  read: AccessKind.Read,
  write: AccessKind.Write,
  execute: AccessKind.Execute,
};

/**
 * Caches a scenario machine runs with: a scenario's own `caches` (spec/scenario.md, "Sequences with
 * caches"), or, for showing what caches save, any the caller builds (as @hvsim/walk-view does).
 */
export interface ScenarioMachineCaches extends MmuCaches {
  /** A walk cache for the second stage's own walk (ignored without a second stage). */
  readonly nestedWalkCache?: PagingStructureCache;
}

/**
 * The default tag the scenario's guest runs under when caches are given: ASID (AMD) or VPID (Intel)
 * 1 for a guest under a second stage (`nested.asid`, `nested.vpid`), 0 (the host's) without one.
 */
export const SCENARIO_GUEST_TAG = 1;

const DONE: StepResult = { outcome: 'done' };
const GP0: AccessResult = { outcome: 'general-protection', errorCode: 0n };
const TWO_32 = 1n << 32n;

/**
 * A scenario's machine, assembled once: host-physical memory loaded with the scenario's runs, the
 * guest's CPU state, and the MMU the scenario describes: a one-stage walk of @hvsim/cpu-core, or the
 * two-dimensional walk of @hvsim/mmu-nested over AMD NPT or Intel EPT. `runScenario` and
 * @hvsim/walk-view both run scenarios on it.
 *
 * The start of a scenario is a MOV to CR3 (and, nested, a VMRUN or VM entry):
 * - one stage, PAE: the PDPTEs are loaded from memory (Intel SDM vol. 3A §4.4.1); a present PDPTE
 *   with a reserved bit makes that MOV raise #GP(0), so no access runs and every result is
 *   `general-protection` with error code 0 (spec/scenario.md), until a step loads them again;
 * - Intel EPT, PAE: the PDPTEs are loaded through EPT (Intel SDM vol. 3C §29.3.2); an EPT violation,
 *   EPT misconfiguration or reserved PDPTE bit there is every access's outcome;
 * - AMD NPT: the guest's PDPTEs are read during each walk (AMD APM vol. 2 §15.25.10).
 * A second stage no VMRUN or VM entry would accept (host paging off, an invalid EPTP) is a
 * `DocumentError` naming `host` or `nested.root`.
 *
 * With caches, translations survive from one access to the next and `step` runs a sequence's
 * operations on them; every invalidation is the one the vendor packages implement (INVLPG, MOV CR3,
 * INVPCID and CR0/CR4 changes in `TranslationCaches`, TLB_CONTROL and INVLPGA in @hvsim/vendor-amd,
 * INVEPT, INVVPID and the untagged VM entry and exit in @hvsim/vendor-intel).
 */
export class ScenarioMachine {
  readonly scenario: Scenario;
  /** Host-physical memory. It persists across accesses: accessed and dirty bits written stay. */
  readonly memory: PhysicalMemory;
  /** The guest's CPU state; `run` sets `cpl` to each access's. */
  readonly state: CpuState;
  /** The MMU; a world switch that changes the ASID, VPID or nested root builds a new one on the same caches. */
  mmu: NativeMmu | NestedMmu;
  /** The outcome every access has because the scenario's start failed (see the class), or null. */
  startFailure: AccessResult | null;
  /** The last access's translation, in full (guest tables, nested fault, references). */
  readonly translation = new Translation();
  /** The caches the machine runs with, or null (every access walks). */
  readonly caches: ScenarioMachineCaches | null;
  /** The hierarchy built from the scenario's `caches` (or the `tlb` given, when it is one), for views. */
  readonly hierarchy: TlbHierarchy | null;
  /** The guest's current ASID (AMD) or VPID (Intel; 0: "enable VPID" is 0); 0 without a second stage. */
  tag: number;
  /** The current nested root (nCR3 or EPTP); null without a second stage. */
  root: bigint | null;

  constructor(scenario: Scenario, caches?: ScenarioMachineCaches) {
    this.scenario = scenario;
    const memory = new PhysicalMemory({ maxPhysicalAddressBits: scenario.cpu.maxPhysicalAddressBits });
    loadRuns(memory, scenario.memory);
    const state = new CpuState();
    state.setControlRegisters(scenario.guest);
    this.memory = memory;
    this.state = state;
    let given = caches ?? null;
    if (given === null && scenario.caches !== undefined) {
      const hierarchy = new TlbHierarchy(scenarioTlbConfig(scenario.vendor, scenario.caches));
      given = {
        tlb: hierarchy,
        ...(hierarchy.walkCache === null ? {} : { walkCache: hierarchy.walkCache }),
        ...(hierarchy.nestedTlb === null ? {} : { nestedTlb: hierarchy.nestedTlb }),
        ...(hierarchy.nestedWalkCache === null ? {} : { nestedWalkCache: hierarchy.nestedWalkCache }),
      };
    }
    this.caches = given;
    this.hierarchy = given?.tlb instanceof TlbHierarchy ? given.tlb : null;
    const nested = scenario.nested;
    this.tag = nested.enabled ? (scenario.vendor === 'amd' ? nested.asid : nested.vpid) : 0;
    this.root = nested.enabled ? nested.root : null;
    this.mmu = this.buildMmu();
    this.startFailure = this.loadPdptes();
  }

  /** The MMU for the current tag and root, on the machine's caches, entered in the current context. */
  private buildMmu(): NativeMmu | NestedMmu {
    const { scenario, memory, state } = this;
    const caches = this.caches;
    const tags = caches?.tlb?.tags ?? caches?.walkCache?.tags ?? caches?.nestedWalkCache?.tags;
    if (this.root === null) {
      const mmu = new NativeMmu(memory, state, caches ?? undefined);
      mmu.caches?.setContext(0, state.pcid);
      return mmu;
    }
    // Intel tags guest-physical mappings by the EPT root alone (SDM vol. 3C §28.4.1); AMD by ASID.
    const eptRoot = this.eptRoot();
    const nestedContext =
      tags === undefined
        ? 0
        : eptRoot === undefined
          ? tags.nestedContext(this.tag)
          : tags.nestedContext(ASID_NONE, eptRoot);
    const stage = nestedStageOf(scenario, memory, this.root, caches?.nestedWalkCache, nestedContext);
    const { nestedWalkCache: _, ...mmuCaches } = caches ?? {};
    const mmu = new NestedMmu(memory, state, stage, caches === null ? undefined : mmuCaches);
    if (mmu.caches !== null) {
      mmu.caches.setContext(this.tag, state.pcid, eptRoot);
      mmu.caches.nestedContext = nestedContext;
    }
    return mmu;
  }

  private eptRoot(): number | undefined {
    return this.scenario.vendor === 'intel' && this.root !== null
      ? Number(this.root & 0xf_ffff_ffff_f000n)
      : undefined;
  }

  /** Enters the current context (tag, PCID, root) after CR3, CR4 or a world switch changed it. */
  private enterContext(): void {
    const caches = this.mmu.caches;
    if (caches === null) return;
    const nestedContext = caches.nestedContext;
    caches.setContext(this.tag, this.state.pcid, this.eptRoot());
    caches.nestedContext = nestedContext;
  }

  /**
   * Loads the PAE PDPTE registers as MOV to CR3 does (one stage, and Intel EPT, through the second
   * stage); the failure every access then has, or null. Nothing to load outside PAE or under NPT.
   */
  private loadPdptes(): AccessResult | null {
    const out = this.translation;
    const mmu = this.mmu;
    if (mmu instanceof NestedMmu)
      return mmu.loadGuestPdptes(out) === TranslateStatus.Ok ? null : resultOf(out);
    const failed =
      this.state.mode === PagingMode.Pae &&
      loadPdptes(this.memory, this.state) === WalkStatus.GeneralProtection;
    return failed ? GP0 : null;
  }

  /**
   * Runs one access: its privilege is its effective CPL (`cpl`, except that real mode runs at CPL 0
   * and virtual-8086 mode at CPL 3, SDM vol. 3A §20.1-20.2). Every memory reference is recorded in
   * `trace` when given, guest and nested stage, with host-physical addresses. A write that completes
   * stores its `value`, when it has one. Returns the result entry without `walk` (and without
   * `cached`: `translation.tlbHit` says whether a TLB served it).
   */
  run(access: ScenarioAccess, trace: WalkTrace | null = null): AccessResult {
    this.translation.tlbHit = false;
    if (this.startFailure !== null) return this.startFailure;
    const state = this.state;
    state.cpl = access.cpl;
    const { lo, hi } = linearFromBigInt(access.address);
    const mmu = this.mmu;
    mmu.trace = trace;
    mmu.translate(lo, hi, ACCESS_KIND[access.access], state.explicitPrivilege, this.translation);
    mmu.trace = null;
    const result = resultOf(this.translation);
    if (result.outcome === 'ok' && access.value !== undefined) this.store(result.hostPhysical, access.value);
    return result;
  }

  /**
   * Runs one step of a sequence (spec/scenario.md, "Sequences with caches"): an access, with
   * `cached: true` when a TLB served it, or an operation, whose result is `done`, the fault it raises
   * (`general-protection`, or the VM exit of a PDPTE load through EPT), or `vmfail`. `index` names the
   * step in the `DocumentError` for a value no instruction of the current mode can take (a 64-bit
   * address outside IA-32e mode).
   */
  step(step: ScenarioStep, index = 0, trace: WalkTrace | null = null): StepResult {
    const at = (field: string) => `steps[${index}].${field}`;
    if (step.step === 'access') {
      this.checkWidth(step.address, at('address'), 'a linear address');
      const result = this.run(step, trace);
      return this.translation.tlbHit ? { ...result, cached: true } : result;
    }
    return this.operation(step, at);
  }

  private operation(step: OperationStep, at: (field: string) => string): StepResult {
    const state = this.state;
    switch (step.step) {
      case 'store':
        this.store(step.address, step.qword);
        return DONE;
      case 'invlpg': {
        this.checkWidth(step.address, at('address'), 'INVLPG’s operand');
        // In 64-bit mode INVLPG of a non-canonical address is a NOP (SDM vol. 2A, INVLPG).
        if (state.lma && !isCanonicalAddress(step.address, state.mode === PagingMode.Level5 ? 57 : 48)) {
          return DONE;
        }
        const { lo, hi } = linearFromBigInt(step.address);
        this.mmu.caches?.invalidatePage(linearPageNumber(lo, hi, state));
        return DONE;
      }
      case 'invpcid':
        return this.invpcid(step.type, step.pcid, step.address);
      case 'mov-cr3':
        this.checkWidth(step.value, at('value'), 'MOV to CR3’s operand');
        return this.movToCr3(step.value);
      case 'mov-cr0':
      case 'mov-cr4':
        this.checkWidth(
          step.value,
          at('value'),
          `MOV to ${step.step === 'mov-cr0' ? 'CR0' : 'CR4'}’s operand`,
        );
        return this.movToCr0Or4(step.step, step.value);
      case 'world-switch':
        return this.worldSwitch(step.tlbControl, step.asid ?? step.vpid, step.root);
      case 'invlpga': {
        // The hypervisor runs it at CPL 0 with EFER.SVME=1, as it must have to run VMRUN (APM vol. 2 §15.4).
        const done = invlpga({ rax: step.address, ecx: step.asid, efer: Efer.SVME, cpl: 0 }, this.targets());
        if (done.kind !== 'done') throw new Error(`internal error: INVLPGA in the host: ${done.kind}`);
        return DONE;
      }
      case 'invept':
        return vmxResult(
          invept(
            step.type,
            inveptDescriptor(step.root ?? 0n),
            { vmxOperation: true },
            this.targets(),
            this.vmxCapabilities(),
          ),
        );
      case 'invvpid':
        return vmxResult(
          invvpid(
            step.type,
            invvpidDescriptor(step.vpid, step.address),
            { vmxOperation: true },
            this.targets(),
            this.vmxCapabilities(),
          ),
        );
    }
  }

  /** The structures the vendors' control operations act on. */
  private targets(): TlbTargets {
    return this.caches ?? {};
  }

  /** The VMX capabilities of the scenario's CPU: everything a step names (spec/scenario.md). */
  private vmxCapabilities(): VmxCapabilities {
    const cpu = this.scenario.cpu;
    return {
      maxPhysicalAddressBits: cpu.maxPhysicalAddressBits,
      accessedDirty: cpu.eptAccessedDirty,
      executeOnly: cpu.eptExecuteOnly,
      modeBasedExecute: cpu.eptModeBasedExecute,
      advancedViolationInfo: cpu.eptAdvancedViolationInfo,
    };
  }

  /**
   * INVPCID at CPL 0 (SDM vol. 2B "INVPCID"): #GP(0) for a type above 3, for types 0 and 1 naming a
   * PCID other than 000H with CR4.PCIDE=0, and for type 0 with a non-canonical address (all 64 bits
   * are used, in every mode); then type 0 removes the address's non-global mappings of the PCID, 1 the
   * PCID's non-global mappings, 2 every mapping and 3 every non-global one, in the current ASID/VPID.
   */
  private invpcid(type: number, pcid: number, address: bigint): StepResult {
    const state = this.state;
    if (type > 3) return GP0;
    if (type <= 1 && !state.pcide && pcid !== 0) return GP0;
    if (type === 0 && !isCanonicalAddress(address, state.mode === PagingMode.Level5 ? 57 : 48)) return GP0;
    const caches = this.mmu.caches;
    if (caches === null) return DONE;
    if (type === 0) caches.invalidatePageInPcid(pcid, linearPageNumberOfBigInt(address));
    else if (type === 1) caches.invalidatePcid(pcid, false);
    else caches.invalidateAddressSpace(type === 2);
    return DONE;
  }

  /**
   * MOV to CR3 (SDM vol. 3A §4.10.4.1, §4.4.1): #GP(0) for reserved bits; in PAE paging the PDPTEs
   * load from the new CR3 (through EPT under Intel; not at all under AMD NPT, APM vol. 2 §15.25.10)
   * and a failed load leaves CR3 as it was; then the new PCID's non-global translations go, unless
   * CR4.PCIDE=1 and bit 63 is set.
   */
  private movToCr3(value: bigint): StepResult {
    const state = this.state;
    if (movToCr3Fault(state, value, this.scenario.cpu.maxPhysicalAddressBits) !== null) return GP0;
    const noFlush = state.pcide && value >> 63n === 1n;
    const old = state.cr3;
    state.cr3 = Number(state.pcide ? value & ~(1n << 63n) : value);
    state.refresh();
    if (state.mode === PagingMode.Pae) {
      const failure = this.loadPdptes();
      if (failure !== null) {
        state.cr3 = old;
        state.refresh();
        return failure;
      }
      this.startFailure = null;
    }
    if (!noFlush) this.mmu.caches?.invalidatePcid(state.pcid);
    this.enterContext();
    return DONE;
  }

  /**
   * MOV to CR0 or CR4: #GP(0) as cpu-core's `movToCr0Fault` / `movToCr4Fault` say; the PDPTEs reload
   * when the write changes how they are used (SDM vol. 3A §4.4.1), and a failed load undoes the write;
   * then the flushes `controlRegisterInvalidation` gives the bits it changes (SDM vol. 3A §4.10.4.1,
   * APM vol. 2 §5.5.2 and §15.16).
   */
  private movToCr0Or4(which: 'mov-cr0' | 'mov-cr4', value: bigint): StepResult {
    const state = this.state;
    const fault = which === 'mov-cr0' ? movToCr0Fault(state, value) : movToCr4Fault(state, value);
    if (fault !== null) return GP0;
    const before = { cr0: state.cr0, cr3: state.cr3, cr4: state.cr4, efer: state.efer & ~Efer.LMA };
    const cr0 = which === 'mov-cr0' ? Number(value) : state.cr0;
    const cr4 = which === 'mov-cr4' ? Number(value) : state.cr4;
    const reload = reloadsPdptes(state, cr0, cr4);
    const flush = controlRegisterInvalidation(state.cr0, state.cr4, cr0, cr4);
    state.setControlRegisters({ ...before, cr0, cr4 });
    if (reload) {
      const failure = this.loadPdptes();
      if (failure !== null) {
        state.setControlRegisters(before);
        return failure;
      }
      this.startFailure = null;
    } else if (state.mode !== PagingMode.Pae) {
      this.startFailure = null;
    }
    this.mmu.caches?.controlRegistersChanged(flush, state.pcid);
    this.enterContext();
    return DONE;
  }

  /**
   * An exit to the hypervisor and back in with the given ASID/VPID and root (those left out keep
   * their values). AMD (APM vol. 2 §15.6, §15.16.1): #VMEXIT flushes nothing, VMRUN applies
   * TLB_CONTROL to the ASID it enters (`applyTlbControl`). Intel (SDM vol. 3C §29.4.3.1): with
   * "enable VPID" 0 the VM exit and the VM entry each invalidate VPID 0000H's linear and combined
   * mappings (`invalidateVpidZero`); with VPIDs nothing is invalidated.
   */
  private worldSwitch(
    tlbControl: number | null,
    tag: number | undefined,
    root: bigint | undefined,
  ): StepResult {
    const targets = this.targets();
    const next = tag ?? this.tag;
    if (this.scenario.vendor === 'amd') {
      applyTlbControl(tlbControl ?? 0, next, targets);
    } else {
      if (this.tag === 0) invalidateVpidZero(targets);
      if (next === 0) invalidateVpidZero(targets);
    }
    if (next !== this.tag || (root !== undefined && root !== this.root)) {
      this.tag = next;
      this.root = root ?? this.root;
      this.mmu = this.buildMmu();
    }
    return DONE;
  }

  /** Writes a qword at a host-physical address (8-byte aligned, or byte by byte). */
  private store(address: bigint, qword: bigint): void {
    const base = Number(address);
    if (base % 8 === 0) {
      this.memory.writeEntry(base, Number(qword & 0xffff_ffffn), Number(qword >> 32n));
      return;
    }
    for (let i = 0; i < 8; i++) this.memory.write8(base + i, Number((qword >> BigInt(8 * i)) & 0xffn));
  }

  /** Outside IA-32e mode linear addresses and control-register operands are 32 bits (SDM vol. 3A §3.3.6). */
  private checkWidth(value: bigint, path: string, what: string): void {
    if (!this.state.lma && value >= TWO_32) {
      throw new DocumentError([
        {
          path,
          message: `0x${value.toString(16)} is wider than 32 bits, and ${what} is 32 bits outside IA-32e mode, where the guest is at this step`,
        },
      ]);
    }
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

/** A VMX instruction's outcome in the hypervisor as a step result: VMsucceed is `done`. */
function vmxResult(result: VmxInstructionResult): StepResult {
  if (result.status === 'succeed') return DONE;
  if (result.status === 'fail-valid') return { outcome: 'vmfail', error: result.error };
  throw new Error(`internal error: a VMX instruction in VMX root operation ended with ${result.status}`);
}

/**
 * The second stage a nested scenario describes: AMD NPT on the host's paging mode with nCR3 `root`,
 * or Intel EPT from the EPTP `root` with the CPU's EPT capabilities, optionally with a walk cache of
 * its own used under `nestedContext`. A setting no VMRUN or VM entry would accept is a DocumentError.
 */
function nestedStageOf(
  scenario: Scenario,
  memory: PhysicalMemory,
  root: bigint,
  walkCache: PagingStructureCache | undefined,
  nestedContext: number,
): NestedStage {
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
