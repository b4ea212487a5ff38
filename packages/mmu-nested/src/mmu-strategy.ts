import type { AccessKind, Privilege, WalkTrace } from '@hvsim/cpu-core';
import type { TranslateStatus, Translation } from './translation.js';

/**
 * The MMU strategy seam: translate a linear address for an access into a host-physical address or a
 * fault. Implementations: `NativeMmu` (one stage), `NestedMmu` (two stages: AMD NPT, Intel EPT) and,
 * with the hypervisor, shadow paging. Every implementation passes the same contract suite, as the
 * guest sees it through the CPU that runs it (`describeMmuContract` of @hvsim/test-utils, run by
 * @hvsim/integration against bare metal, AMD NPT, Intel EPT and shadow paging under SVM and VMX):
 * the guest-physical address of each access, accessed and dirty bits, #PF error codes and CR2, #GP
 * for non-canonical addresses, and INVLPG and MOV to CR3 dropping what the caches hold.
 */
export interface MmuStrategy {
  /** A short name for reports ("native", "nested"…). */
  readonly name: string;
  /** Where every memory reference of a walk is recorded, or null. */
  trace: WalkTrace | null;
  /**
   * Translates the linear address (lo, hi halves) for an access made with `privilege`, writing the
   * outcome into `out` (caller-owned, reused). Returns the status, also left in `out.status`.
   */
  translate(
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    out: Translation,
  ): TranslateStatus;
}
