/*
 * The documents of spec/scenario.md after parsing: every 64-bit quantity is a bigint, every default
 * is filled in, and unknown fields are gone.
 */

/** The `format` of a scenario document. */
export const SCENARIO_FORMAT = 'hvsim.scenario/1';
/** The `format` of a result document. */
export const RESULT_FORMAT = 'hvsim.result/1';

/** Whose virtualization extensions the scenario models: AMD SVM (NPT) or Intel VMX (EPT). */
export type Vendor = 'amd' | 'intel';

/** The kind of an access as the format spells it (`execute` is an instruction fetch). */
export type AccessName = 'read' | 'write' | 'execute';

/** A current privilege level; 3 is user mode. */
export type Cpl = 0 | 1 | 2 | 3;

/** What the CPU reports about itself (`cpu`), defaults filled in. */
export interface CpuConfig {
  /** MAXPHYADDR, 32 to 52 (default 48): decides which table-entry bits are reserved. */
  readonly maxPhysicalAddressBits: number;
  /** Intel: EPT execute-only entries allowed (IA32_VMX_EPT_VPID_CAP bit 0; default true). */
  readonly eptExecuteOnly: boolean;
  /** Intel: EPT accessed and dirty flags supported (IA32_VMX_EPT_VPID_CAP bit 21; default true). */
  readonly eptAccessedDirty: boolean;
  /** Intel: mode-based execute control for EPT (secondary processor-based control; default false). */
  readonly eptModeBasedExecute: boolean;
  /** Intel: advanced VM-exit information for EPT violations (IA32_VMX_EPT_VPID_CAP bit 22; default false). */
  readonly eptAdvancedViolationInfo: boolean;
}

/** The guest's architectural registers (`guest`); `rflags` defaults to 0x2. */
export interface GuestRegisters {
  readonly cr0: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly efer: bigint;
  readonly rflags: bigint;
}

/**
 * AMD: the hypervisor's registers at VMRUN (`host`), which decide the nested paging mode and NXE.
 * Defaults: 4-level long mode with NXE (cr0 0x80000011, cr4 0x20, efer 0xd00). Unused for Intel.
 */
export interface HostRegisters {
  readonly cr0: bigint;
  readonly cr4: bigint;
  readonly efer: bigint;
}

/**
 * The second stage (`nested`). `root` is AMD's nCR3 or Intel's full EPTP; it is required when the
 * second stage is enabled and kept, unused, when it is given for a disabled one.
 */
export type NestedConfig = (
  | { readonly enabled: false; readonly root: bigint | null }
  | { readonly enabled: true; readonly root: bigint }
) & {
  /** AMD: the guest's ASID (VMCB offset 58h), default 1; used only with a second stage. */
  readonly asid: number;
  /** Intel: the guest's VPID, default 1; 0 means "enable VPID" is 0. Used only with a second stage. */
  readonly vpid: number;
};

/** A run of 8-byte words of host-physical memory, starting at an 8-byte-aligned address. */
export interface MemoryRun {
  readonly address: bigint;
  readonly qwords: readonly bigint[];
}

/** One access: a guest-linear address (segments are flat), its kind and the CPL it is made at. */
export interface ScenarioAccess {
  readonly address: bigint;
  readonly access: AccessName;
  readonly cpl: Cpl;
  /** A write's qword, stored at its address (8 bytes) when the write completes; absent: unspecified. */
  readonly value?: bigint;
}

/** The TLB organizations `caches.tlb` may name: the default hierarchy and the presets of @hvsim/tlb-tagged. */
export const SCENARIO_TLB_NAMES = ['default', 'zen', 'skylake', 'none'] as const;

/** A TLB organization a scenario may name. */
export type ScenarioTlbName = (typeof SCENARIO_TLB_NAMES)[number];

/** `caches`: the CPU caches translations (spec/scenario.md, "Sequences with caches"), defaults filled in. */
export interface CacheConfig {
  readonly tlb: ScenarioTlbName;
  /** Paging-structure caches (Intel) / page walk caches (AMD) of both stages; default true. */
  readonly walkCaches: boolean;
  /** Cached guest-physical to host-physical translations; default true. */
  readonly nestedTlb: boolean;
}

/** An access among a sequence's steps. */
export interface AccessStep extends ScenarioAccess {
  readonly step: 'access';
}

/** Writes host-physical memory behind the CPU's back: nothing cached is invalidated. */
export interface StoreStep {
  readonly step: 'store';
  readonly address: bigint;
  readonly qword: bigint;
}

/** The guest executes INVLPG (current PCID and ASID/VPID). */
export interface InvlpgStep {
  readonly step: 'invlpg';
  readonly address: bigint;
}

/** The guest executes INVPCID; `pcid` and `address` default to 0 (the descriptor's fields). */
export interface InvpcidStep {
  readonly step: 'invpcid';
  readonly type: number;
  readonly pcid: number;
  readonly address: bigint;
}

/** The guest writes CR0, CR3 or CR4. */
export interface MovCrStep {
  readonly step: 'mov-cr0' | 'mov-cr3' | 'mov-cr4';
  readonly value: bigint;
}

/**
 * An exit to the hypervisor and back in. AMD: VMRUN with `tlbControl`; Intel: VM entry. A field left
 * out keeps its current value: `asid` (AMD), `vpid` (Intel, 0: "enable VPID" is 0), `root` (nCR3 or EPTP).
 */
export interface WorldSwitchStep {
  readonly step: 'world-switch';
  /** AMD only: TLB_CONTROL (0, 1, 3 or 7); null for Intel. */
  readonly tlbControl: 0 | 1 | 3 | 7 | null;
  readonly asid?: number;
  readonly vpid?: number;
  readonly root?: bigint;
}

/** AMD: the hypervisor executes INVLPGA (rAX = `address`, ECX = `asid`). */
export interface InvlpgaStep {
  readonly step: 'invlpga';
  readonly address: bigint;
  readonly asid: number;
}

/** Intel: the hypervisor executes INVEPT; type 1 names the EPTP, type 2 takes none. */
export interface InveptStep {
  readonly step: 'invept';
  readonly type: number;
  readonly root?: bigint;
}

/** Intel: the hypervisor executes INVVPID; `vpid` and `address` default to 0 (the descriptor's fields). */
export interface InvvpidStep {
  readonly step: 'invvpid';
  readonly type: number;
  readonly vpid: number;
  readonly address: bigint;
}

/** An operation of a sequence (every step but an access). */
export type OperationStep =
  | StoreStep
  | InvlpgStep
  | InvpcidStep
  | MovCrStep
  | WorldSwitchStep
  | InvlpgaStep
  | InveptStep
  | InvvpidStep;

/** One step of a sequence: an access or an operation. */
export type ScenarioStep = AccessStep | OperationStep;

/** The operation names of `step`. */
export type OperationName = OperationStep['step'];

/** A parsed `hvsim.scenario/1` document. */
export interface Scenario {
  readonly format: typeof SCENARIO_FORMAT;
  /** Free text, when the document has one. */
  readonly name?: string;
  readonly vendor: Vendor;
  readonly cpu: CpuConfig;
  readonly guest: GuestRegisters;
  readonly host: HostRegisters;
  readonly nested: NestedConfig;
  /** The initial contents of host-physical memory; everything else reads as zero. */
  readonly memory: readonly MemoryRun[];
  /** The accesses; empty in a document that has `steps` instead. */
  readonly accesses: readonly ScenarioAccess[];
  /** The CPU caches translations across accesses and steps; absent: nothing is cached. */
  readonly caches?: CacheConfig;
  /** Accesses and operations in order, when the document has them instead of `accesses`. */
  readonly steps?: readonly ScenarioStep[];
}

/** One memory reference of a walk, with its host-physical address and the entry (after any A/D update). */
export interface WalkStep {
  readonly stage: 'guest' | 'nested';
  readonly level: number;
  readonly address: bigint;
  readonly entry: bigint;
}

/** One entry a translation cache holds, as an explanation shows it (`hvsim translate --explain`). */
export interface CacheEntryView {
  /** The structure: `L1 DTLB`, `guest walk cache: PDE`, `nested TLB`. */
  readonly structure: string;
  /** What it is looked up by: the linear (or guest-physical) range it covers, `0x…-0x…`. */
  readonly covers: string;
  /** Page size (`4 KiB`), or what a walk-cache entry spans. */
  readonly size: string;
  /** What it gives: the host-physical page, or the next table's address. */
  readonly maps: string;
  /** The tag: `ASID 1, PCID 0`, `VPID 1, PCID 0, EP4TA 0x…`, `ASID 1, any PCID`. */
  readonly tag: string;
  /** Cached permissions: W (writable), U (user), X (executable), D (dirty), G (global). */
  readonly perms: string;
}

interface Explained {
  /** The memory references the translation made, in order; only when a walk was asked for. */
  readonly walk?: readonly WalkStep[];
  /** With caches, when explained: what the translation caches hold after the step. */
  readonly caches?: readonly CacheEntryView[];
  /** With caches, when explained: what the step removed from them. */
  readonly removed?: readonly CacheEntryView[];
}

/** Access results: served by a TLB without a walk (`walk` then lists no references); never compared. */
interface Cacheable extends Explained {
  readonly cached?: boolean;
}

/** The access completes at these addresses (equal when there is no second stage). */
export interface OkResult extends Cacheable {
  readonly outcome: 'ok';
  readonly guestPhysical: bigint;
  readonly hostPhysical: bigint;
}

/** A #PF for the guest: its error code and the address CR2 receives. */
export interface PageFaultResult extends Cacheable {
  readonly outcome: 'page-fault';
  readonly errorCode: bigint;
  readonly address: bigint;
}

/** A #GP for the guest (a non-canonical address; here also a failed PAE PDPTE load). */
export interface GeneralProtectionResult extends Cacheable {
  readonly outcome: 'general-protection';
  readonly errorCode: bigint;
}

/** AMD: #VMEXIT(NPF) with EXITINFO1 (error code, bits 32/33) and EXITINFO2 (the guest-physical address). */
export interface NestedPageFaultResult extends Cacheable {
  readonly outcome: 'nested-page-fault';
  readonly exitInfo1: bigint;
  readonly exitInfo2: bigint;
}

/** Intel: EPT violation (basic exit reason 48); `guestLinear` is null when the qualification marks it invalid. */
export interface EptViolationResult extends Cacheable {
  readonly outcome: 'ept-violation';
  readonly exitQualification: bigint;
  readonly guestPhysical: bigint;
  readonly guestLinear: bigint | null;
}

/** Intel: EPT misconfiguration (basic exit reason 49). */
export interface EptMisconfigurationResult extends Cacheable {
  readonly outcome: 'ept-misconfiguration';
  readonly guestPhysical: bigint;
}

/** What the hardware does for one access: one entry of a result's `results`. */
export type AccessResult =
  | OkResult
  | PageFaultResult
  | GeneralProtectionResult
  | NestedPageFaultResult
  | EptViolationResult
  | EptMisconfigurationResult;

/** An operation completed: `{ "outcome": "done" }`. */
export interface DoneResult extends Explained {
  readonly outcome: 'done';
}

/** Intel: a VMX instruction failed with this VM-instruction error number (28: invalid INVEPT/INVVPID operand). */
export interface VmfailResult extends Explained {
  readonly outcome: 'vmfail';
  readonly error: number;
}

/**
 * What one step does: an access's result, or an operation's (`done`, `vmfail`, or the fault or exit
 * it raises, in the vocabulary of access results: `general-protection`, `ept-violation`…).
 */
export type StepResult = AccessResult | DoneResult | VmfailResult;

/** The outcome names of `StepResult`. */
export type Outcome = StepResult['outcome'];

/** A parsed `hvsim.result/1` document. */
export interface ScenarioResult {
  /** One entry per access (or step), in order. */
  readonly results: readonly StepResult[];
  /** The scenario's memory runs with their final contents. */
  readonly memory: readonly MemoryRun[];
}
