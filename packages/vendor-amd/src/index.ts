/**
 * @hvsim/vendor-amd: AMD SVM for hvsim. Nested paging as a second stage for @hvsim/mmu-nested
 * (AMD APM vol. 2 §15.25).
 */

/** NPT: host-format nested tables in the host's paging mode, and #VMEXIT(NPF). */
export {
  DEFAULT_HOST_PAGING,
  type HostPagingState,
  NpfExitInfo,
  NptStage,
  type NptStageOptions,
  VMEXIT_NPF,
} from './npt-stage.js';
