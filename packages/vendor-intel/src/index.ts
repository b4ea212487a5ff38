/**
 * @hvsim/vendor-intel: Intel VMX for hvsim. EPT as a second stage for @hvsim/mmu-nested
 * (Intel SDM vol. 3C §29.3).
 */

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
  VmxExitReason,
} from './ept-stage.js';
