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
export type NestedConfig =
  | { readonly enabled: false; readonly root: bigint | null }
  | { readonly enabled: true; readonly root: bigint };

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
}

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
  readonly accesses: readonly ScenarioAccess[];
}

/** One memory reference of a walk, with its host-physical address and the entry (after any A/D update). */
export interface WalkStep {
  readonly stage: 'guest' | 'nested';
  readonly level: number;
  readonly address: bigint;
  readonly entry: bigint;
}

interface Explained {
  /** The memory references the translation made, in order; only when a walk was asked for. */
  readonly walk?: readonly WalkStep[];
}

/** The access completes at these addresses (equal when there is no second stage). */
export interface OkResult extends Explained {
  readonly outcome: 'ok';
  readonly guestPhysical: bigint;
  readonly hostPhysical: bigint;
}

/** A #PF for the guest: its error code and the address CR2 receives. */
export interface PageFaultResult extends Explained {
  readonly outcome: 'page-fault';
  readonly errorCode: bigint;
  readonly address: bigint;
}

/** A #GP for the guest (a non-canonical address; here also a failed PAE PDPTE load). */
export interface GeneralProtectionResult extends Explained {
  readonly outcome: 'general-protection';
  readonly errorCode: bigint;
}

/** AMD: #VMEXIT(NPF) with EXITINFO1 (error code, bits 32/33) and EXITINFO2 (the guest-physical address). */
export interface NestedPageFaultResult extends Explained {
  readonly outcome: 'nested-page-fault';
  readonly exitInfo1: bigint;
  readonly exitInfo2: bigint;
}

/** Intel: EPT violation (basic exit reason 48); `guestLinear` is null when the qualification marks it invalid. */
export interface EptViolationResult extends Explained {
  readonly outcome: 'ept-violation';
  readonly exitQualification: bigint;
  readonly guestPhysical: bigint;
  readonly guestLinear: bigint | null;
}

/** Intel: EPT misconfiguration (basic exit reason 49). */
export interface EptMisconfigurationResult extends Explained {
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

/** The outcome names of `AccessResult`. */
export type Outcome = AccessResult['outcome'];

/** A parsed `hvsim.result/1` document. */
export interface ScenarioResult {
  /** One entry per access, in order. */
  readonly results: readonly AccessResult[];
  /** The scenario's memory runs with their final contents. */
  readonly memory: readonly MemoryRun[];
}
