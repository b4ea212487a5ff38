/**
 * @hvsim/vendor-intel: Intel VMX for hvsim. EPT as a second stage for @hvsim/mmu-nested
 * (Intel SDM vol. 3C §29.3), and the VMX controls: the VMCS, the VM-entry checks, VPIDs, INVEPT and
 * INVVPID (SDM vol. 3C chapters 25, 27, 29 and 31).
 */

/** The TLB structures VMX control operations act on. */
export type { TlbTargets } from '@hvsim/tlb-tagged';
/** Builds EPT tables in host memory. */
export { EptBuilder, EptFlag, type EptMapOptions } from './ept-builder.js';
/** EPT: the EPTP check, the EPT walk with misconfigurations, violations and their exit qualification. */
export {
  decodeEptp,
  type EptCapabilities,
  type EptPointer,
  EptQualification,
  EptStage,
  type EptStageOptions,
} from './ept-stage.js';
/** INVEPT and INVVPID over the translation caches (SDM vol. 3C §31.3, §29.4.3). */
export {
  type InvalidationDescriptor,
  InveptType,
  InvvpidType,
  invept,
  inveptDescriptor,
  invvpid,
  invvpidDescriptor,
  isCanonical,
  type VmxMode,
} from './invalidation.js';
/** The VM-entry checks on controls and guest state (SDM vol. 3C §27.2.1.1, §27.3.1). */
export {
  effectiveSecondaryControls,
  VmEntryCheck,
  type VmEntryCheckResult,
  vmEntryChecks,
} from './vm-entry-checks.js';
/** The VMCS, addressed by field encodings (SDM vol. 3C §25.11.2, Appendix B). */
export {
  decodeVmcsEncoding,
  Vmcs,
  type VmcsEncoding,
  VmcsField,
  VmcsFieldError,
  type VmcsFieldName,
  VmcsFieldType,
  VmcsFieldWidth,
  type VmreadResult,
  type VmwriteResult,
} from './vmcs.js';
/** VMX capabilities as configuration, and IA32_VMX_EPT_VPID_CAP (SDM vol. 3C Appendix A.10). */
export {
  EptVpidCapBit,
  eptVpidCapMsr,
  RECENT_VMX,
  type ResolvedVmxCapabilities,
  resolveVmxCapabilities,
  type VmxCapabilities,
} from './vmx-capabilities.js';
/** VM-execution and VM-entry control bits (SDM vol. 3C §25.6, §25.8.1). */
export { EntryControl, PinBasedControl, PrimaryControl, SecondaryControl } from './vmx-controls.js';
/** Basic exit reasons (SDM vol. 3C Appendix C). */
export { VM_ENTRY_FAILURE, VmxExitReason, vmxExitReasonName } from './vmx-exit-reason.js';
/** VMX as the hypervisor's extension (EPT, VPIDs, INVEPT/INVVPID, EPT violations), and the exit kinds EPT's faults are counted by. */
export { EPT_EXIT_KINDS, VmxExtension, type VmxExtensionOptions } from './vmx-extension.js';
/** VMsucceed, VMfail and the VM-instruction error numbers (SDM vol. 3C §31.2, §31.4). */
export { VmInstructionError, VmxFault, type VmxInstructionResult, vmfail } from './vmx-result.js';
/** VM entries and exits: the current VPID and EP4TA, and the VPID-0 invalidation without VPIDs. */
export {
  invalidateVpidZero,
  type VmEntryOutcome,
  type VmxGuestTags,
  VmxWorldSwitch,
} from './world-switch.js';
