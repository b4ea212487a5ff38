/**
 * @hvsim/vendor-amd: AMD SVM for hvsim. Nested paging as a second stage for @hvsim/mmu-nested
 * (AMD APM vol. 2 §15.25), and the SVM controls: the VMCB, the VMRUN checks, ASIDs, TLB_CONTROL and
 * INVLPGA (APM vol. 2 §15.5, §15.16).
 */

/** The TLB structures SVM control operations act on. */
export type { TlbTargets } from '@hvsim/tlb-tagged';
/** INVLPGA and the exceptions SVM instructions raise (APM vol. 2 §15.16.2, §15.4). */
export {
  type InvlpgaOperands,
  invlpga,
  SvmFault,
  type SvmInstructionResult,
  type SvmModeState,
  svmInstructionFault,
} from './invlpga.js';
/** NPT: host-format nested tables in the host's paging mode, and #VMEXIT(NPF). */
export {
  DEFAULT_HOST_PAGING,
  type HostPagingState,
  NpfExitInfo,
  NptStage,
  type NptStageOptions,
  VMEXIT_NPF,
} from './npt-stage.js';
/** SVM capabilities as configuration, and CPUID Fn8000_000A (APM vol. 3 Appendix E). */
export {
  type CpuidRegisters,
  hasSvmFeature,
  RECENT_SVM,
  type ResolvedSvmCapabilities,
  resolveSvmCapabilities,
  type SvmCapabilities,
  SvmFeature,
  type SvmFeatureName,
  svmCpuid,
} from './svm-capabilities.js';
/** SVM as the hypervisor's extension (NPT, ASIDs, TLB_CONTROL, INVLPGA, #VMEXIT(NPF)), and the exit kind NPF is counted by. */
export { NPT_EXIT_KINDS, SvmExtension, type SvmExtensionOptions } from './svm-extension.js';
/** TLB_CONTROL on VMRUN (APM vol. 2 §15.16.1, Table 15-9). */
export {
  applyTlbControl,
  TlbControl,
  TlbControlAction,
  type TlbControlDecision,
  type TlbControlOutcome,
  tlbControlAction,
} from './tlb-control.js';
/** The VMCB at the byte offsets of APM vol. 2 Appendix B. */
export {
  crReadIntercept,
  crWriteIntercept,
  crWriteTrapIntercept,
  drReadIntercept,
  drWriteIntercept,
  exceptionIntercept,
  NestedControl,
  SvmIntercept,
  VMCB_LAYOUT,
  VMCB_SIZE,
  Vmcb,
  VmcbClean,
  type VmcbField,
  type VmcbFieldSpec,
  type VmcbValue,
} from './vmcb.js';
/** #VMEXIT codes (APM vol. 2 Appendix C). */
export {
  crReadExitCode,
  crWriteExitCode,
  crWriteTrapExitCode,
  drReadExitCode,
  drWriteExitCode,
  exceptionExitCode,
  VMEXIT_INVALID,
  VmExitCode,
  vmExitCodeName,
} from './vmexit-code.js';
/** The VMRUN consistency checks (APM vol. 2 §15.5.1, §15.25.3-4). */
export { isValidPat, VmrunCheck, type VmrunCheckResult, vmrunChecks } from './vmrun-checks.js';
/** World switches: the current ASID and the TLB effects of VMRUN and #VMEXIT (APM vol. 2 §15.5.1, §15.6). */
export { SvmWorldSwitch, type VmrunOutcome } from './world-switch.js';
