import { isCanonicalAddress, linearPageNumberOfBigInt } from '@hvsim/cpu-core';
import { flushTargets, type TlbTargets } from '@hvsim/tlb-tagged';
import { decodeEptp } from './ept-stage.js';
import { resolveVmxCapabilities, type VmxCapabilities } from './vmx-capabilities.js';
import { VmxExitReason } from './vmx-exit-reason.js';
import { VmInstructionError, VmxFault, type VmxInstructionResult, vmfail } from './vmx-result.js';

/*
 * INVEPT and INVVPID (Intel SDM vol. 3C §31.3, "VMX Instructions"; §30.3 in the 2016 edition; their
 * effect on cached mappings in §29.4.3.1, "Operations that Invalidate Cached Mappings", §28.3.3.1 in
 * 2016). The cached mappings of `@hvsim/tlb-tagged` map onto the SDM's kinds as:
 * - linear mappings: tagged (VPID, PCID), no nested root;
 * - combined mappings: tagged (VPID, PCID, EP4TA), the EP4TA as the nested root;
 * - guest-physical mappings: tagged by EP4TA alone (`ASID_NONE`, the root).
 * INVEPT removes guest-physical and combined mappings by EP4TA, whatever the VPID and PCID; INVVPID
 * removes linear and combined mappings by VPID, whatever the EP4TA and PCID.
 */

/** The processor state the VMX instructions check first (their "Operation" pseudo-code). */
export interface VmxMode {
  /** In VMX operation (after VMXON). */
  readonly vmxOperation: boolean;
  /** In VMX non-root operation (a guest runs the instruction). Default false. */
  readonly nonRoot?: boolean;
  /** Current privilege level. Default 0. */
  readonly cpl?: number;
  /** CR0.PE. Default true. */
  readonly protectedMode?: boolean;
  /** RFLAGS.VM. Default false. */
  readonly virtual8086?: boolean;
  /** IA32_EFER.LMA=1 with CS.L=0. Default false. */
  readonly compatibilityMode?: boolean;
  /** Whether there is a current VMCS: VMfail is then VMfailValid, else VMfailInvalid. Default true. */
  readonly currentVmcs?: boolean;
}

/** INVEPT types (SDM vol. 3C "INVEPT"). */
export const InveptType = {
  /** Mappings of the EP4TA of the EPTP in the descriptor. */
  SingleContext: 1,
  /** Mappings of every EP4TA. */
  AllContext: 2,
} as const;

/** INVVPID types (SDM vol. 3C "INVVPID"). */
export const InvvpidType = {
  /** Mappings of one linear address in one VPID. */
  IndividualAddress: 0,
  /** Every mapping of one VPID. */
  SingleContext: 1,
  /** Every mapping of every VPID except 0000H. */
  AllContext: 2,
  /** Every mapping of one VPID except global translations. */
  SingleContextRetainingGlobals: 3,
} as const;

/** A 128-bit INVEPT or INVVPID descriptor as two 64-bit halves. */
export interface InvalidationDescriptor {
  /** Bits 63:0: the EPTP (INVEPT); the VPID in bits 15:0, reserved 63:16 (INVVPID). */
  readonly low: bigint | number;
  /** Bits 127:64: reserved (INVEPT); the linear address (INVVPID). Default 0. */
  readonly high?: bigint | number;
}

/** An INVEPT descriptor: the EPTP in bits 63:0, bits 127:64 zero. */
export function inveptDescriptor(eptp: bigint | number): InvalidationDescriptor {
  return { low: BigInt(eptp), high: 0n };
}

/** An INVVPID descriptor: the VPID in bits 15:0, the linear address in bits 127:64. */
export function invvpidDescriptor(vpid: number, linearAddress: bigint | number = 0n): InvalidationDescriptor {
  return { low: BigInt(vpid), high: BigInt(linearAddress) };
}

const U64 = (v: bigint | number | undefined): bigint => BigInt.asUintN(64, BigInt(v ?? 0n));

/**
 * The checks both instructions make before reading their operands: #UD when not in VMX operation, with
 * CR0.PE=0, in virtual-8086 or compatibility mode, or when the processor lacks the instruction; a VM
 * exit in non-root operation; #GP(0) when CPL > 0.
 */
function modeChecks(mode: VmxMode, supported: boolean, exitReason: number): VmxInstructionResult | null {
  if (
    !mode.vmxOperation ||
    mode.protectedMode === false ||
    mode.virtual8086 === true ||
    mode.compatibilityMode === true ||
    !supported
  ) {
    return { status: 'fault', vector: VmxFault.UD, errorCode: null };
  }
  if (mode.nonRoot === true) return { status: 'vm-exit', exitReason };
  if ((mode.cpl ?? 0) > 0) return { status: 'fault', vector: VmxFault.GP, errorCode: 0 };
  return null;
}

/**
 * INVEPT (SDM vol. 3C "INVEPT"; the type must be one IA32_VMX_EPT_VPID_CAP reports, bit 25 for type 1
 * and 26 for type 2, else VMfail with VM-instruction error 28):
 * - type 1 checks the EPTP as VM entry would (`decodeEptp`), VMfail(28) if it fails, then removes the
 *   guest-physical and combined mappings of EPTP[51:12] from the TLB, walk cache and nested TLB;
 * - type 2 removes the guest-physical and combined mappings of every EP4TA.
 * Linear mappings (EPT off) stay. #UD without EPT or INVEPT support (EPT_VPID_CAP bit 20); VM exit 50
 * in non-root operation.
 */
export function invept(
  type: number,
  descriptor: InvalidationDescriptor,
  mode: VmxMode,
  targets: TlbTargets,
  capabilities: VmxCapabilities = {},
): VmxInstructionResult {
  const caps = resolveVmxCapabilities(capabilities);
  const early = modeChecks(mode, caps.ept && caps.invept, VmxExitReason.Invept);
  if (early !== null) return early;
  const current = mode.currentVmcs ?? true;
  const error = VmInstructionError.InvalidInveptInvvpidOperand;
  if (type === InveptType.SingleContext && caps.inveptSingleContext) {
    const decoded = decodeEptp(U64(descriptor.low), caps.maxPhysicalAddressBits, caps);
    if (typeof decoded === 'string') return vmfail(error, `INVEPT single-context: ${decoded}`, current);
    const root = decoded.root;
    return { status: 'succeed', removed: flushTargets(targets, true, (t) => t.flushNestedRoot(root)) };
  }
  if (type === InveptType.AllContext && caps.inveptAllContext) {
    return { status: 'succeed', removed: flushTargets(targets, true, (t) => t.flushAllNestedRoots()) };
  }
  return vmfail(error, `INVEPT type ${type} is not supported`, current);
}

/** Whether `address` is canonical for a `bits`-bit linear-address space: bits 63:bits-1 all equal (cpu-core's rule). */
export function isCanonical(address: bigint, bits: number): boolean {
  return isCanonicalAddress(address, bits);
}

/**
 * INVVPID (SDM vol. 3C "INVVPID"). After the mode checks (#UD without VPID or INVVPID support,
 * EPT_VPID_CAP bit 32; VM exit 53 in non-root operation; #GP(0) at CPL > 0), VMfail with error 28 if
 * the type is not reported in EPT_VPID_CAP bits 40-43, if descriptor bits 63:16 are not 0, if the VPID
 * is 0 for types 0, 1 and 3, or if the address of type 0 is not canonical. Then:
 * - type 0 removes the linear and combined mappings of that VPID for the page of the address, every
 *   PCID and EP4TA, global or not (and the VPID's walk-cache entries);
 * - type 1 removes every linear and combined mapping of the VPID;
 * - type 2 removes those of every VPID except 0000H;
 * - type 3 removes those of the VPID except global translations.
 * Guest-physical mappings (the nested TLB) are not VPID-tagged and stay.
 */
export function invvpid(
  type: number,
  descriptor: InvalidationDescriptor,
  mode: VmxMode,
  targets: TlbTargets,
  capabilities: VmxCapabilities = {},
): VmxInstructionResult {
  const caps = resolveVmxCapabilities(capabilities);
  const early = modeChecks(mode, caps.vpid && caps.invvpid, VmxExitReason.Invvpid);
  if (early !== null) return early;
  const current = mode.currentVmcs ?? true;
  const error = VmInstructionError.InvalidInveptInvvpidOperand;
  const supported = [
    caps.invvpidIndividualAddress,
    caps.invvpidSingleContext,
    caps.invvpidAllContext,
    caps.invvpidSingleContextRetainingGlobals,
  ];
  if (!Number.isInteger(type) || type < 0 || type > 3 || !supported[type]) {
    return vmfail(error, `INVVPID type ${type} is not supported`, current);
  }
  const low = U64(descriptor.low);
  if (low >> 16n !== 0n) return vmfail(error, 'INVVPID descriptor bits 63:16 are not zero', current);
  const vpid = Number(low);
  if (type !== InvvpidType.AllContext && vpid === 0) {
    return vmfail(error, `INVVPID type ${type} with VPID 0000H`, current);
  }
  let removed: number;
  switch (type) {
    case InvvpidType.IndividualAddress: {
      const address = U64(descriptor.high);
      if (!isCanonical(address, caps.linearAddressBits)) {
        return vmfail(error, `INVVPID address 0x${address.toString(16)} is not canonical`, current);
      }
      const vpn = linearPageNumberOfBigInt(address);
      removed = flushTargets(targets, false, (t) => t.flushAddress(vpid, vpn));
      break;
    }
    case InvvpidType.SingleContext:
      removed = flushTargets(targets, false, (t) => t.flushAddressSpace(vpid));
      break;
    case InvvpidType.AllContext:
      removed = flushTargets(targets, false, (t) => t.flushGuests());
      break;
    default:
      removed = flushTargets(targets, false, (t) => t.flushAddressSpaceNonGlobal(vpid));
      break;
  }
  return { status: 'succeed', removed };
}
