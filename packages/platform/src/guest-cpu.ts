import {
  type AccessKind,
  type ControlRegisters,
  type CpuState,
  linearToBigInt,
  type Privilege,
  type Segment,
} from '@hvsim/cpu-core';
import { TranslateStatus, Translation } from '@hvsim/mmu-nested';

/** A VM exit as the vendor reports it: the exit code (AMD EXITCODE, Intel basic exit reason) and its information. */
export interface ExitReport {
  /** AMD: #VMEXIT code (0x400 NPF…); Intel: basic exit reason (48 EPT violation…). */
  readonly code: number;
  /** A short name for counters and reports ("NPF", "EPT violation"…). */
  readonly name: string;
  /** AMD EXITINFO1 / Intel exit qualification. */
  readonly info1: bigint;
  /** AMD EXITINFO2 / Intel guest-physical address (0 where the exit has none). */
  readonly info2: bigint;
  /** Whether the hypervisor can resolve it by backing the guest-physical page (a not-present nested entry). */
  readonly missingMapping: boolean;
  /**
   * Intel only, for an exception exit: the VM-exit interruption-information field (vector in bits 7:0,
   * type in 10:8, error code valid bit 11, valid bit 31; SDM vol. 3C §25.9.2) and the interruption
   * error code. AMD reports the error code in EXITINFO1 instead (APM vol. 2 §15.12).
   */
  readonly interruptionInfo?: number;
  readonly interruptionErrorCode?: number;
}

/**
 * An `ExitReport` that holds its two 64-bit fields as 32-bit halves and makes the BigInts `info1` and
 * `info2` only when they are read (to print or compare an exit): taking an exit allocates no BigInt.
 * What the vendor extensions return.
 */
export class ExitRecord implements ExitReport {
  readonly code: number;
  readonly name: string;
  /** `info1`, bits 31:0 and 63:32. */
  readonly info1Lo: number;
  readonly info1Hi: number;
  /** `info2`, bits 31:0 and 63:32. */
  readonly info2Lo: number;
  readonly info2Hi: number;
  readonly missingMapping: boolean;
  readonly interruptionInfo?: number;
  readonly interruptionErrorCode?: number;

  /**
   * `info1` and `info2` as halves (each half an unsigned or signed 32-bit value), or `info2Lo` a
   * number up to 2^53 with `info2Hi` 0 (a guest-physical address).
   */
  constructor(
    code: number,
    name: string,
    info1Lo: number,
    info1Hi: number,
    info2Lo: number,
    info2Hi: number,
    missingMapping: boolean,
    interruption?: { readonly info: number; readonly errorCode: number },
  ) {
    this.code = code;
    this.name = name;
    this.info1Lo = info1Lo;
    this.info1Hi = info1Hi;
    this.info2Lo = info2Lo;
    this.info2Hi = info2Hi;
    this.missingMapping = missingMapping;
    if (interruption !== undefined) {
      this.interruptionInfo = interruption.info;
      this.interruptionErrorCode = interruption.errorCode;
    }
  }

  get info1(): bigint {
    return halvesToBigInt(this.info1Lo, this.info1Hi);
  }

  get info2(): bigint {
    return halvesToBigInt(this.info2Lo, this.info2Hi);
  }
}

function halvesToBigInt(lo: number, hi: number): bigint {
  if (hi === 0 && lo >= 0) return BigInt(lo); // includes a number up to 2^53 in lo alone
  return linearToBigInt(lo >>> 0, hi >>> 0);
}

/** The outcome of a guest access, written into a caller-owned object. */
export class GuestAccess {
  /**
   * Ok, PageFault / GeneralProtection (delivered to the guest), NestedFault (a second-stage fault the
   * hypervisor could not resolve or a handler surfaced), or Exit (another exit a handler surfaced).
   */
  status: TranslateStatus = TranslateStatus.Ok;
  /** The translation of the last attempt (host-physical address, #PF error code, nested fault). */
  readonly translation = new Translation();
  /** The exit the access ended on, when status is NestedFault or Exit. */
  exit: ExitReport | null = null;
  /** Exits taken on the way (nested faults the hypervisor resolved by backing the page). */
  resolvedExits = 0;
}

/**
 * A CPU as a guest kernel sees it: the seam between a guest (an operating-system model, a workload,
 * a trace) and the platform it runs on. Every platform implements it: `NativeCpu` (the guest on bare
 * metal, its physical memory the host's), and `VirtualCpu` under nested paging (AMD NPT, Intel EPT)
 * or shadow paging. A guest written against it gives the same guest-visible results on each (every
 * access's outcome, its page tables with their accessed and dirty bits); what differs is the cost,
 * counted in the platform's statistics.
 *
 * The guest kernel's own stores to its page tables go through `writePhysical`, at guest-physical
 * addresses: the kernel is assumed to reach them through a direct map that the TLB holds, so the
 * store is not translated, but a platform that write-protects guest page tables (shadow paging) sees
 * and handles it.
 */
export interface GuestCpu {
  /** The guest's architectural registers. Change control registers through `setControlRegisters` and `writeCr3` only. */
  readonly state: CpuState;
  /**
   * A guest access at guest-linear `linear` (bits 31:0 and, in `linearHi`, bits 63:32; or a number
   * up to 2^53 with `linearHi` omitted), at the guest's CPL unless `privilege` says otherwise. The
   * outcome is written into `out` (caller-owned, reused): on Ok, `out.translation.guestPhysical`;
   * on PageFault, the error code and the faulting address the guest's #PF handler sees.
   */
  access(
    linear: number,
    access: AccessKind,
    out: GuestAccess,
    privilege?: Privilege,
    linearHi?: number,
  ): TranslateStatus;
  /** Reads the 32-bit word at guest-physical `gpa` (4-byte aligned). */
  readPhysical(gpa: number): number;
  /** Stores the 32-bit word `value` at guest-physical `gpa` (4-byte aligned), as the guest kernel does to its page tables. */
  writePhysical(gpa: number, value: number): void;
  /** MOV to CR3 (SDM vol. 3A §4.10.4.1: flushes the current PCID's non-global translations unless CR4.PCIDE=1 and bit 63 set, `noFlush`). */
  writeCr3(value: number, noFlush?: boolean): TranslateStatus;
  /**
   * Loads CR0, CR3, CR4, EFER (and RFLAGS) together: a mode switch (entering protected, long or
   * virtual-8086 mode). Both return Ok, or GeneralProtection when PAE paging's PDPTE load fails (a
   * present PDPTE with a reserved bit, SDM vol. 3A §4.4.1), leaving the registers unchanged.
   */
  setControlRegisters(regs: ControlRegisters): TranslateStatus;
  /** INVLPG of guest-linear `linear` (bits 63:32 in `linearHi` when given) on this CPU (SDM vol. 3A §4.10.4.1). */
  invlpg(linear: number, linearHi?: number): void;
  /**
   * A TLB shootdown of guest-linear `linear` started by this CPU: INVLPG here, and an IPI to each other
   * CPU of the same guest that may cache it, which invalidates there (the IPIs are counted).
   */
  shootdown(linear: number, linearHi?: number): void;
}

/**
 * An access by segment and offset, as real-mode and virtual-8086 code addresses memory: the linear
 * address is the segment base (selector × 16, loaded with `state.loadSegmentReal`) plus the offset
 * (`CpuState.linearAddress`), made at the guest's effective CPL (3 in virtual-8086 mode, SDM vol. 3A
 * §20.2), then translated as any access; with the A20 gate off the physical address has bit 20 clear
 * (SDM vol. 3A §20.1.1).
 */
export function accessSegmented(
  cpu: GuestCpu,
  segment: Segment,
  offset: number,
  access: AccessKind,
  out: GuestAccess,
): TranslateStatus {
  return cpu.access(cpu.state.linearAddress(segment, offset), access, out);
}
