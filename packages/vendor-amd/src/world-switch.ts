import { flushTargets, type TlbTargets } from '@hvsim/tlb-tagged';
import { DEFAULT_HOST_PAGING, type HostPagingState } from './npt-stage.js';
import {
  type ResolvedSvmCapabilities,
  resolveSvmCapabilities,
  type SvmCapabilities,
} from './svm-capabilities.js';
import { applyTlbControl, TlbControlAction, type TlbControlOutcome } from './tlb-control.js';
import type { Vmcb } from './vmcb.js';
import { VMEXIT_INVALID } from './vmexit-code.js';
import { type VmrunCheck, vmrunChecks } from './vmrun-checks.js';

/** The outcome of a VMRUN. */
export type VmrunOutcome =
  /** The guest runs under `asid`; `tlb` says what TLB_CONTROL (or the lack of ASID tags) flushed. */
  | { readonly entered: true; readonly asid: number; readonly tlb: TlbControlOutcome }
  /** A consistency check failed: #VMEXIT(VMEXIT_INVALID), nothing flushed, still in the host. */
  | {
      readonly entered: false;
      readonly exitCode: typeof VMEXIT_INVALID;
      readonly check: VmrunCheck;
      readonly reason: string;
    };

/**
 * The TLB side of SVM world switches on one CPU (AMD APM vol. 2 §15.5.1, §15.6, §15.16):
 * - VMRUN makes the guest's ASID current and applies TLB_CONTROL; loading the guest's CR0, CR3, CR4
 *   and EFER does not flush ("since address spaces are switched", §15.5.1);
 * - #VMEXIT resets the current ASID to 0, the host's (§15.6), and flushes nothing: with ASIDs every
 *   guest's and the host's translations survive the round trip;
 * - a CPU configured without ASID tags (`asidTagging: false`) has to flush its whole TLB on every
 *   VMRUN and #VMEXIT instead, as pre-SVM hypervisors did on each world switch.
 * The current ASID is what an MMU must tag lookups and fills with (e.g. `TranslationCaches.setContext`
 * of `@hvsim/mmu-nested`); this class only tracks it.
 */
export class SvmWorldSwitch {
  readonly capabilities: ResolvedSvmCapabilities;
  readonly targets: TlbTargets;
  /** The current ASID: 0 in the host (APM vol. 2 §15.16.1), the guest's between VMRUN and #VMEXIT. */
  asid = 0;
  /** The VMCB of the running guest, null in the host. */
  vmcb: Vmcb | null = null;

  constructor(targets: TlbTargets, capabilities: SvmCapabilities = {}) {
    this.targets = targets;
    this.capabilities = resolveSvmCapabilities(capabilities);
  }

  /** Whether a guest is running. */
  get inGuest(): boolean {
    return this.vmcb !== null;
  }

  /**
   * VMRUN `vmcb` from the host, whose paging registers are `host`. Runs the consistency checks; on a
   * failure writes EXITCODE = VMEXIT_INVALID to the VMCB and stays in the host. Otherwise applies
   * TLB_CONTROL (or flushes everything without ASID tags) and enters the guest's ASID.
   */
  vmrun(vmcb: Vmcb, host: HostPagingState = DEFAULT_HOST_PAGING): VmrunOutcome {
    if (this.vmcb !== null) throw new Error('VMRUN while a guest is running: #VMEXIT first');
    const checked = vmrunChecks(vmcb, host, this.capabilities);
    if (!checked.ok) {
      vmcb.exitCode = VMEXIT_INVALID;
      return { entered: false, exitCode: VMEXIT_INVALID, check: checked.check, reason: checked.reason };
    }
    const tlb = this.capabilities.asidTagging
      ? applyTlbControl(vmcb.tlbControl, vmcb.asid, this.targets, this.capabilities)
      : {
          action: TlbControlAction.FlushAll,
          defined: true,
          removed: flushTargets(this.targets, true, (t) => t.flushAll()),
        };
    this.vmcb = vmcb;
    this.asid = vmcb.asid;
    return { entered: true, asid: this.asid, tlb };
  }

  /**
   * #VMEXIT with `exitCode` and its information: writes EXITCODE, EXITINFO1 and EXITINFO2 to the
   * guest's VMCB, returns to the host's ASID 0, and, without ASID tags, flushes everything. Returns the
   * number of entries flushed.
   */
  vmexit(exitCode: number, exitInfo1 = 0n, exitInfo2 = 0n): number {
    const vmcb = this.vmcb;
    if (vmcb === null) throw new Error('#VMEXIT with no guest running');
    vmcb.exitCode = exitCode;
    vmcb.set('exitInfo1', exitInfo1);
    vmcb.set('exitInfo2', exitInfo2);
    this.vmcb = null;
    this.asid = 0;
    return this.capabilities.asidTagging ? 0 : flushTargets(this.targets, true, (t) => t.flushAll());
  }
}
