/*
 * How VMX instructions end (Intel SDM vol. 3C §31.2, "Conventions"; §31.4, "VM Instruction Error
 * Numbers", Table 31-1; §30.2 and §30.4 in the 2016 edition): VMsucceed, VMfailInvalid (no current
 * VMCS), VMfailValid with an error number written to the VM-instruction error field (4400h), an
 * exception, or a VM exit when the instruction runs in VMX non-root operation.
 */

/** VM-instruction error numbers (SDM vol. 3C Table 31-1). */
export const VmInstructionError = {
  VmcallInRoot: 1,
  VmclearInvalidAddress: 2,
  VmclearVmxonPointer: 3,
  VmlaunchNonClearVmcs: 4,
  VmresumeNonLaunchedVmcs: 5,
  VmresumeAfterVmxoff: 6,
  /** VM entry with invalid control field(s) (§27.2.1). */
  EntryInvalidControlFields: 7,
  /** VM entry with invalid host-state field(s) (§27.2.2). */
  EntryInvalidHostState: 8,
  VmptrldInvalidAddress: 9,
  VmptrldVmxonPointer: 10,
  VmptrldIncorrectRevision: 11,
  /** VMREAD/VMWRITE from/to an unsupported VMCS component. */
  UnsupportedVmcsComponent: 12,
  /** VMWRITE to a read-only VMCS component. */
  VmwriteReadOnlyComponent: 13,
  VmxonInRoot: 15,
  EntryInvalidExecutiveVmcsPointer: 16,
  EntryNonLaunchedExecutiveVmcs: 17,
  EntryExecutiveVmcsNotVmxonPointer: 18,
  VmcallNonClearVmcs: 19,
  VmcallInvalidExitControls: 20,
  VmcallIncorrectMsegRevision: 22,
  VmxoffUnderDualMonitor: 23,
  VmcallInvalidSmmFeatures: 24,
  EntryInvalidExecutiveControls: 25,
  EntryEventsBlockedByMovSs: 26,
  /** Invalid operand to INVEPT/INVVPID. */
  InvalidInveptInvvpidOperand: 28,
} as const;

/** Exception vectors VMX instructions raise. */
export const VmxFault = {
  /** #UD: outside VMX operation, CR0.PE=0, virtual-8086 or compatibility mode, or unsupported. */
  UD: 6,
  /** #GP(0): CPL > 0. */
  GP: 13,
} as const;

/** The outcome of a VMX instruction that changes no register but the flags. */
export type VmxInstructionResult =
  /** VMsucceed; `removed` counts the translation-cache entries it invalidated. */
  | { readonly status: 'succeed'; readonly removed: number }
  /** VMfailInvalid: there is no current VMCS to hold an error number. */
  | { readonly status: 'fail-invalid'; readonly reason: string }
  /** VMfailValid with its VM-instruction error number. */
  | { readonly status: 'fail-valid'; readonly error: number; readonly reason: string }
  /** An exception (#GP with error code 0; #UD has none). */
  | { readonly status: 'fault'; readonly vector: number; readonly errorCode: number | null }
  /** A VM exit with this basic exit reason (the instruction ran in VMX non-root operation). */
  | { readonly status: 'vm-exit'; readonly exitReason: number };

/** VMfail(error): VMfailValid with a current VMCS, VMfailInvalid without (SDM vol. 3C §31.2). */
export function vmfail(error: number, reason: string, currentVmcs: boolean): VmxInstructionResult {
  return currentVmcs ? { status: 'fail-valid', error, reason } : { status: 'fail-invalid', reason };
}
