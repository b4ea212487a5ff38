/**
 * @hvsim/mmu-nested: MMU strategies over @hvsim/cpu-core: native (one stage), the
 * two-dimensional nested walk, whose second stage is a vendor plug-in (AMD NPT in
 * @hvsim/vendor-amd, Intel EPT in @hvsim/vendor-intel), and shadow paging's walk of the
 * hypervisor's shadow tables.
 */

/** @deprecated Import `linearPageNumber` from @hvsim/cpu-core, where the rule now lives; this re-export goes in the next minor release. */
export { linearPageNumber } from '@hvsim/cpu-core';
/** The MMU strategy seam. */
export type { MmuStrategy } from './mmu-strategy.js';
/** One-stage translation. */
export { finishOneStage, NativeMmu, tlbHit } from './native-mmu.js';
/** Two-stage translation: the vendor-neutral two-dimensional walk (AMD APM vol. 2 §15.25, Intel SDM vol. 3C §29.3). */
export { combinePerms, NestedMmu } from './nested-mmu.js';
/** The second-stage plug-in seam and its fault report. */
export { NestedAccess, NestedFault, NestedFaultKind, type NestedStage } from './nested-stage.js';
/** Shadow paging: the CPU walks guest-linear to host-physical shadow tables; a miss is a #PF the hypervisor intercepts. */
export { ShadowMmu } from './shadow-mmu.js';
/** The outcome of a translation. */
export { TranslateStatus, Translation } from './translation.js';
/** The TLB and walk cache in front of a strategy's walk, and the invalidations the CPU makes in its current context (INVLPG, MOV CR3, INVPCID, CR0/CR4 changes). */
export {
  CrInvalidation,
  controlRegisterInvalidation,
  type MmuCaches,
  TranslationCaches,
} from './translation-caches.js';
