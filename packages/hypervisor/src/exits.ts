import type { ExitReport } from '@hvsim/platform';

/**
 * Why a vCPU left guest mode, vendor-neutral: the key `MachineStats.exitsByKind` counts exits by.
 * Second-stage faults are counted by the vendor's name instead ("NPF", "EPT violation", "EPT
 * misconfiguration"), as before.
 */
export const ExitKind = {
  /** Shadow paging: a #PF on a shadow entry not yet filled (or still read-only for a clean page), resolved by a fill. */
  HiddenPageFault: 'hidden page fault',
  /** Shadow paging: a #PF the guest's own tables raise, reflected into the guest with its error code and CR2. */
  GuestPageFault: 'guest page fault',
  /** Shadow paging: a store to a write-protected guest page-table page, emulated. */
  PageTableWrite: 'page-table write',
  /** Shadow paging: an access the shadow entry cannot allow but the guest's tables do (a supervisor write with CR0.WP=0), emulated. */
  EmulatedAccess: 'emulated access',
  /** An intercepted MOV to CR3 (shadow paging). */
  Cr3Write: 'CR3 write',
  /** An intercepted CR0/CR4 write (shadow paging: the shadow context is rebuilt). */
  CrWrite: 'CR0/CR4 write',
  /** An intercepted INVLPG (shadow paging). */
  Invlpg: 'INVLPG',
  /** A hypercall (VMMCALL / VMCALL). */
  Hypercall: 'hypercall',
  /** The vCPU is descheduled. */
  ExternalInterrupt: 'external interrupt',
  /** An IPI sent to a running vCPU to make it flush. */
  IpiKick: 'IPI kick',
} as const;
export type ExitKind = (typeof ExitKind)[keyof typeof ExitKind];

/** What an exit handler decided. */
export const ExitAction = {
  /** Let the next handler, or the hypervisor's default handling, decide. */
  Default: 0,
  /** The handler dealt with it: the hypervisor does nothing more and resumes the guest (an access is retried). */
  Resume: 1,
  /** Report it to the caller: the guest access ends with status NestedFault (a second-stage fault) or Exit. */
  Surface: 2,
} as const;
export type ExitAction = (typeof ExitAction)[keyof typeof ExitAction];

/** One exit as handlers see it. */
export class VmExit {
  /** The vendor-neutral kind (a second-stage fault's is the vendor's name). */
  readonly kind: string;
  /** The vendor's exit code and information. */
  readonly report: ExitReport;
  /** Hypercall only: the number (rAX) and arguments. */
  readonly args: readonly number[];
  /** What the handlers decided (Default when none did). */
  action: ExitAction = ExitAction.Default;
  /** Hypercall only: the value returned to the guest in rAX (default -1000, KVM's -KVM_ENOSYS for an unknown hypercall). */
  result = -1000;

  constructor(kind: string, report: ExitReport, args: readonly number[] = []) {
    this.kind = kind;
    this.report = report;
    this.args = args;
  }
}
