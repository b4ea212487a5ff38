import { Efer, linearPageNumberOfBigInt } from '@hvsim/cpu-core';
import { flushTargets, type TlbTargets } from '@hvsim/tlb-tagged';
import { SvmIntercept, type Vmcb } from './vmcb.js';
import { VmExitCode } from './vmexit-code.js';

/*
 * INVLPGA, "invalidate page, alternate ASID" (AMD APM vol. 2 §15.16.2; vol. 3 "INVLPGA"): rAX holds a
 * linear address (sized by the effective address size), ECX an ASID; the TLB mappings of that page in
 * that ASID are invalidated. The address is always a guest-virtual one: there is no way to invalidate
 * a nested translation by guest-physical address.
 */

/** Exception vectors an SVM instruction can raise. */
export const SvmFault = {
  /** #UD: EFER.SVME=0, or not in protected mode (APM vol. 2 §15.4, §15.5.1). */
  UD: 6,
  /** #GP(0): CPL is not 0. */
  GP: 13,
} as const;

/** The outcome of an SVM instruction. */
export type SvmInstructionResult =
  /** It ran; `removed` entries were invalidated. */
  | { readonly kind: 'done'; readonly removed: number }
  /** It raised an exception (#GP with error code 0; #UD has none). */
  | { readonly kind: 'fault'; readonly vector: number; readonly errorCode: number | null }
  /** A guest ran it with the intercept set: #VMEXIT with this code and information. */
  | {
      readonly kind: 'vmexit';
      readonly exitCode: number;
      readonly exitInfo1: bigint;
      readonly exitInfo2: bigint;
    };

/** The CPU state an SVM instruction checks before it runs. */
export interface SvmModeState {
  /** The current EFER (SVME is bit 12). */
  readonly efer: number | bigint;
  /** Current privilege level. */
  readonly cpl: number;
  /** CR0.PE (default true). */
  readonly protectedMode?: boolean;
  /** RFLAGS.VM (default false). */
  readonly virtual8086?: boolean;
}

/**
 * The exception an SVM instruction (VMRUN, VMLOAD, VMSAVE, CLGI, INVLPGA) raises before anything else,
 * or null: #UD when EFER.SVME=0 (APM vol. 2 §15.4) or outside protected mode, virtual-8086 mode
 * included (§15.5.1, §15.5.2: "only valid in protected mode"), then #GP(0) when CPL is not 0.
 */
export function svmInstructionFault(mode: SvmModeState): SvmInstructionResult | null {
  const svme = (BigInt(mode.efer) & BigInt(Efer.SVME)) !== 0n;
  if (!svme || mode.protectedMode === false || mode.virtual8086 === true) {
    return { kind: 'fault', vector: SvmFault.UD, errorCode: null };
  }
  if (mode.cpl !== 0) return { kind: 'fault', vector: SvmFault.GP, errorCode: 0 };
  return null;
}

/** The operands and state of one INVLPGA. */
export interface InvlpgaOperands extends SvmModeState {
  /** rAX: the linear address. */
  readonly rax: number | bigint;
  /** ECX: the ASID. */
  readonly ecx: number;
  /** Effective address size, which sizes rAX (default 64). */
  readonly addressSize?: 16 | 32 | 64;
  /**
   * When a guest runs INVLPGA (nested SVM), the VMCB it runs under: its INVLPGA intercept is checked
   * after the exceptions (APM vol. 2 Table 15-7: "Checks all exceptions (#GP) before the intercept").
   */
  readonly guestVmcb?: Vmcb;
}

/**
 * Runs INVLPGA: #UD or #GP(0) as `svmInstructionFault` says, then #VMEXIT(INVLPGA, 7Ah) if a guest
 * runs it with the intercept set (EXITINFO1 and EXITINFO2 are not used: the address is in the guest's
 * rAX, APM vol. 2 §15.8.3), else removes the TLB and walk-cache entries of the page in ASID ECX, every
 * page size that covers it, global or not, whatever the PCID (§15.16.2). The nested TLB is not
 * touched: INVLPGA takes no guest-physical address. Another ASID's entries for the same address stay.
 */
export function invlpga(operands: InvlpgaOperands, targets: TlbTargets): SvmInstructionResult {
  const fault = svmInstructionFault(operands);
  if (fault !== null) return fault;
  if (operands.guestVmcb?.intercepted(SvmIntercept.INVLPGA)) {
    return { kind: 'vmexit', exitCode: VmExitCode.INVLPGA, exitInfo1: 0n, exitInfo2: 0n };
  }
  const asid = operands.ecx;
  if (!Number.isInteger(asid) || asid < 0 || asid > 0xffffffff) {
    throw new RangeError(`ECX holds a 32-bit ASID, got ${asid}`);
  }
  const size = operands.addressSize ?? 64;
  const address = BigInt.asUintN(size, BigInt(operands.rax));
  const vpn = linearPageNumberOfBigInt(address);
  return { kind: 'done', removed: flushTargets(targets, false, (t) => t.flushAddress(asid, vpn)) };
}
