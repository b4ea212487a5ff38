import { VmInstructionError } from './vmx-result.js';

/*
 * The VMCS as VMREAD and VMWRITE see it: fields addressed by 32-bit encodings (Intel SDM vol. 3C
 * §25.11.2, "VMREAD, VMWRITE, and Encodings of VMCS Fields", and Appendix B; §24.11.2 in
 * the 2016 edition). An encoding packs:
 *   bit 0      access type: 0 full, 1 high (the upper 32 bits of a 64-bit field; 64-bit fields only)
 *   bits 9:1   index
 *   bits 11:10 type: 0 control, 1 VM-exit information (read-only), 2 guest state, 3 host state
 *   bit 12     reserved (0)
 *   bits 14:13 width: 0 16-bit, 1 64-bit, 2 32-bit, 3 natural-width (64 bits with Intel 64)
 *   bits 31:15 reserved (0)
 * The in-memory format of a VMCS is implementation-specific, so the fields live in a Map keyed by
 * encoding; values are `bigint` (control-plane state, not a hot path).
 */

/** Field encodings (SDM vol. 3C Appendix B, sections B.1-B.4). */
export const VmcsField = {
  // B.1.1 16-bit control fields
  Vpid: 0x0000,
  PostedInterruptNotificationVector: 0x0002,
  EptpIndex: 0x0004,
  // B.1.2 16-bit guest-state fields
  GuestEsSelector: 0x0800,
  GuestCsSelector: 0x0802,
  GuestSsSelector: 0x0804,
  GuestDsSelector: 0x0806,
  GuestFsSelector: 0x0808,
  GuestGsSelector: 0x080a,
  GuestLdtrSelector: 0x080c,
  GuestTrSelector: 0x080e,
  GuestInterruptStatus: 0x0810,
  PmlIndex: 0x0812,
  // B.1.3 16-bit host-state fields
  HostEsSelector: 0x0c00,
  HostCsSelector: 0x0c02,
  HostSsSelector: 0x0c04,
  HostDsSelector: 0x0c06,
  HostFsSelector: 0x0c08,
  HostGsSelector: 0x0c0a,
  HostTrSelector: 0x0c0c,
  // B.2.1 64-bit control fields
  IoBitmapA: 0x2000,
  IoBitmapB: 0x2002,
  MsrBitmaps: 0x2004,
  VmExitMsrStoreAddress: 0x2006,
  VmExitMsrLoadAddress: 0x2008,
  VmEntryMsrLoadAddress: 0x200a,
  ExecutiveVmcsPointer: 0x200c,
  PmlAddress: 0x200e,
  TscOffset: 0x2010,
  VirtualApicAddress: 0x2012,
  ApicAccessAddress: 0x2014,
  PostedInterruptDescriptorAddress: 0x2016,
  VmFunctionControls: 0x2018,
  /** The EPT pointer (SDM vol. 3C §25.6.11). */
  Eptp: 0x201a,
  EoiExitBitmap0: 0x201c,
  EoiExitBitmap1: 0x201e,
  EoiExitBitmap2: 0x2020,
  EoiExitBitmap3: 0x2022,
  EptpListAddress: 0x2024,
  VmreadBitmapAddress: 0x2026,
  VmwriteBitmapAddress: 0x2028,
  VirtualizationExceptionInformationAddress: 0x202a,
  XssExitingBitmap: 0x202c,
  // B.2.2 64-bit read-only data field
  /** Written by EPT violations and misconfigurations (SDM vol. 3C §28.2.1). */
  GuestPhysicalAddress: 0x2400,
  // B.2.3 64-bit guest-state fields
  VmcsLinkPointer: 0x2800,
  GuestIa32Debugctl: 0x2802,
  GuestIa32Pat: 0x2804,
  GuestIa32Efer: 0x2806,
  GuestIa32PerfGlobalCtrl: 0x2808,
  /** The guest PDPTEs VM entry loads with EPT and PAE paging (SDM vol. 3C §27.3.2.4). */
  GuestPdpte0: 0x280a,
  GuestPdpte1: 0x280c,
  GuestPdpte2: 0x280e,
  GuestPdpte3: 0x2810,
  // B.2.4 64-bit host-state fields
  HostIa32Pat: 0x2c00,
  HostIa32Efer: 0x2c02,
  HostIa32PerfGlobalCtrl: 0x2c04,
  // B.3.1 32-bit control fields
  PinBasedControls: 0x4000,
  PrimaryProcessorControls: 0x4002,
  ExceptionBitmap: 0x4004,
  PageFaultErrorCodeMask: 0x4006,
  PageFaultErrorCodeMatch: 0x4008,
  Cr3TargetCount: 0x400a,
  VmExitControls: 0x400c,
  VmExitMsrStoreCount: 0x400e,
  VmExitMsrLoadCount: 0x4010,
  VmEntryControls: 0x4012,
  VmEntryMsrLoadCount: 0x4014,
  VmEntryInterruptionInformation: 0x4016,
  VmEntryExceptionErrorCode: 0x4018,
  VmEntryInstructionLength: 0x401a,
  TprThreshold: 0x401c,
  SecondaryProcessorControls: 0x401e,
  PleGap: 0x4020,
  PleWindow: 0x4022,
  // B.3.2 32-bit read-only data fields
  VmInstructionError: 0x4400,
  ExitReason: 0x4402,
  VmExitInterruptionInformation: 0x4404,
  VmExitInterruptionErrorCode: 0x4406,
  IdtVectoringInformation: 0x4408,
  IdtVectoringErrorCode: 0x440a,
  VmExitInstructionLength: 0x440c,
  VmExitInstructionInformation: 0x440e,
  // B.3.3 32-bit guest-state fields
  GuestEsLimit: 0x4800,
  GuestCsLimit: 0x4802,
  GuestSsLimit: 0x4804,
  GuestDsLimit: 0x4806,
  GuestFsLimit: 0x4808,
  GuestGsLimit: 0x480a,
  GuestLdtrLimit: 0x480c,
  GuestTrLimit: 0x480e,
  GuestGdtrLimit: 0x4810,
  GuestIdtrLimit: 0x4812,
  GuestEsAccessRights: 0x4814,
  GuestCsAccessRights: 0x4816,
  GuestSsAccessRights: 0x4818,
  GuestDsAccessRights: 0x481a,
  GuestFsAccessRights: 0x481c,
  GuestGsAccessRights: 0x481e,
  GuestLdtrAccessRights: 0x4820,
  GuestTrAccessRights: 0x4822,
  GuestInterruptibilityState: 0x4824,
  GuestActivityState: 0x4826,
  GuestSmbase: 0x4828,
  GuestIa32SysenterCs: 0x482a,
  VmxPreemptionTimerValue: 0x482e,
  // B.3.4 32-bit host-state field
  HostIa32SysenterCs: 0x4c00,
  // B.4.1 natural-width control fields
  Cr0GuestHostMask: 0x6000,
  Cr4GuestHostMask: 0x6002,
  Cr0ReadShadow: 0x6004,
  Cr4ReadShadow: 0x6006,
  Cr3Target0: 0x6008,
  Cr3Target1: 0x600a,
  Cr3Target2: 0x600c,
  Cr3Target3: 0x600e,
  // B.4.2 natural-width read-only data fields
  ExitQualification: 0x6400,
  IoRcx: 0x6402,
  IoRsi: 0x6404,
  IoRdi: 0x6406,
  IoRip: 0x6408,
  GuestLinearAddress: 0x640a,
  // B.4.3 natural-width guest-state fields
  GuestCr0: 0x6800,
  GuestCr3: 0x6802,
  GuestCr4: 0x6804,
  GuestEsBase: 0x6806,
  GuestCsBase: 0x6808,
  GuestSsBase: 0x680a,
  GuestDsBase: 0x680c,
  GuestFsBase: 0x680e,
  GuestGsBase: 0x6810,
  GuestLdtrBase: 0x6812,
  GuestTrBase: 0x6814,
  GuestGdtrBase: 0x6816,
  GuestIdtrBase: 0x6818,
  GuestDr7: 0x681a,
  GuestRsp: 0x681c,
  GuestRip: 0x681e,
  GuestRflags: 0x6820,
  GuestPendingDebugExceptions: 0x6822,
  GuestIa32SysenterEsp: 0x6824,
  GuestIa32SysenterEip: 0x6826,
  // B.4.4 natural-width host-state fields
  HostCr0: 0x6c00,
  HostCr3: 0x6c02,
  HostCr4: 0x6c04,
  HostFsBase: 0x6c06,
  HostGsBase: 0x6c08,
  HostTrBase: 0x6c0a,
  HostGdtrBase: 0x6c0c,
  HostIdtrBase: 0x6c0e,
  HostIa32SysenterEsp: 0x6c10,
  HostIa32SysenterEip: 0x6c12,
  HostRsp: 0x6c14,
  HostRip: 0x6c16,
} as const;

/** The name of a field of `VmcsField`. */
export type VmcsFieldName = keyof typeof VmcsField;

/** Bits 14:13 of an encoding. */
export const VmcsFieldWidth = { Bits16: 0, Bits64: 1, Bits32: 2, Natural: 3 } as const;
export type VmcsFieldWidth = (typeof VmcsFieldWidth)[keyof typeof VmcsFieldWidth];

/** Bits 11:10 of an encoding. */
export const VmcsFieldType = { Control: 0, ExitInformation: 1, GuestState: 2, HostState: 3 } as const;
export type VmcsFieldType = (typeof VmcsFieldType)[keyof typeof VmcsFieldType];

/** A decoded encoding. */
export interface VmcsEncoding {
  /** The encoding of the whole field (bit 0 clear). */
  readonly field: number;
  /** Access type high: the upper 32 bits of a 64-bit field. */
  readonly high: boolean;
  readonly index: number;
  readonly type: VmcsFieldType;
  readonly width: VmcsFieldWidth;
  /** Bits the field holds (natural width is 64 on an Intel 64 processor). */
  readonly bits: 16 | 32 | 64;
  /** Bits an access through this encoding reads or writes (32 for a high access). */
  readonly accessBits: 16 | 32 | 64;
}

const WIDTH_BITS: readonly (16 | 32 | 64)[] = [16, 64, 32, 64];

/**
 * Decodes an encoding, or returns null when it cannot name a field: a reserved bit (31:15 or 12) set,
 * or the high access type on a field that is not 64 bits wide (SDM vol. 3C §25.11.2: "the access type
 * must be full" for 16-bit, 32-bit and natural-width fields).
 */
export function decodeVmcsEncoding(encoding: number): VmcsEncoding | null {
  if (!Number.isInteger(encoding) || encoding < 0 || encoding > 0x7fff || (encoding & 0x1000) !== 0)
    return null;
  const width = ((encoding >>> 13) & 3) as VmcsFieldWidth;
  const high = (encoding & 1) !== 0;
  if (high && width !== VmcsFieldWidth.Bits64) return null;
  const bits = WIDTH_BITS[width];
  return {
    field: encoding & ~1,
    high,
    index: (encoding >>> 1) & 0x1ff,
    type: ((encoding >>> 10) & 3) as VmcsFieldType,
    width,
    bits,
    accessBits: high ? 32 : bits,
  };
}

/** A VMREAD or VMWRITE that names no supported field: VMfailValid(12). */
export class VmcsFieldError extends RangeError {
  readonly instructionError: number;

  constructor(encoding: number, instructionError: number, why: string) {
    super(`VMCS encoding 0x${encoding.toString(16)}: ${why} (VM-instruction error ${instructionError})`);
    this.name = 'VmcsFieldError';
    this.instructionError = instructionError;
  }
}

/** The outcome of VMREAD. */
export type VmreadResult =
  | { readonly status: 'succeed'; readonly value: bigint }
  | { readonly status: 'fail-valid'; readonly error: number; readonly reason: string };

/** The outcome of VMWRITE. */
export type VmwriteResult =
  | { readonly status: 'succeed' }
  | { readonly status: 'fail-valid'; readonly error: number; readonly reason: string };

const LOW32 = 0xffff_ffffn;

/**
 * A VMCS: the fields a processor supports, each a `bigint` of its width, zero at creation.
 * - `read`/`write` are the simulator's own access (what the processor writes on a VM exit goes through
 *   `write`, read-only fields included); a value wider than its field is a `RangeError`, an unknown
 *   encoding a `VmcsFieldError` carrying VM-instruction error 12.
 * - `vmread`/`vmwrite` are the instructions: unsupported encodings fail with error 12, VMWRITE to a
 *   VM-exit information field with error 13 (unless the processor allows it, IA32_VMX_MISC bit 29),
 *   and VMWRITE truncates its source to the field's width as the instruction does (SDM vol. 3C
 *   "VMWRITE": the high bits of a wider source are ignored).
 */
export class Vmcs {
  private readonly values = new Map<number, bigint>();

  /** A VMCS holding `fields` (default: every field of `VmcsField`). */
  constructor(fields: Iterable<number> = Object.values(VmcsField)) {
    for (const encoding of fields) {
      const decoded = decodeVmcsEncoding(encoding);
      if (decoded === null || decoded.high) {
        throw new VmcsFieldError(
          encoding,
          VmInstructionError.UnsupportedVmcsComponent,
          'not a field encoding',
        );
      }
      this.values.set(decoded.field, 0n);
    }
  }

  /** Whether `encoding` names a field of this VMCS (full or, for 64-bit fields, high access). */
  supports(encoding: number): boolean {
    const decoded = decodeVmcsEncoding(encoding);
    return decoded !== null && this.values.has(decoded.field);
  }

  /** The encodings of the fields this VMCS holds (full access), in ascending order. */
  fields(): number[] {
    return [...this.values.keys()].sort((a, b) => a - b);
  }

  /** Reads a field (a high access reads bits 63:32 of its 64-bit field). */
  read(encoding: number): bigint {
    const e = this.resolve(encoding);
    const value = this.values.get(e.field) ?? 0n;
    return e.high ? value >> 32n : value;
  }

  /** Reads a field of at most 32 bits (or a high access) as a number. */
  readNumber(encoding: number): number {
    const e = this.resolve(encoding);
    if (e.accessBits === 64)
      throw new RangeError(`field 0x${encoding.toString(16)} is 64 bits wide: use read()`);
    return Number(this.read(encoding));
  }

  /** Writes a field, any type; the value must fit the access width. */
  write(encoding: number, value: bigint | number): void {
    const e = this.resolve(encoding);
    const v = BigInt(value);
    if (v < 0n || v >> BigInt(e.accessBits) !== 0n) {
      throw new RangeError(
        `value 0x${v.toString(16)} does not fit the ${e.accessBits}-bit field 0x${encoding.toString(16)}`,
      );
    }
    this.store(e, v);
  }

  /** VMREAD: the value, or VMfailValid(12) for an encoding this VMCS does not support. */
  vmread(encoding: number): VmreadResult {
    const e = this.lookup(encoding);
    if (typeof e === 'string') {
      return { status: 'fail-valid', error: VmInstructionError.UnsupportedVmcsComponent, reason: e };
    }
    return { status: 'succeed', value: this.read(encoding) };
  }

  /**
   * VMWRITE: VMfailValid(12) for an unsupported encoding, VMfailValid(13) for a VM-exit information
   * field unless `writableExitInformation` (IA32_VMX_MISC bit 29); otherwise writes the low bits of
   * `value` that fit the field.
   */
  vmwrite(encoding: number, value: bigint | number, writableExitInformation = false): VmwriteResult {
    const e = this.lookup(encoding);
    if (typeof e === 'string') {
      return { status: 'fail-valid', error: VmInstructionError.UnsupportedVmcsComponent, reason: e };
    }
    if (e.type === VmcsFieldType.ExitInformation && !writableExitInformation) {
      return {
        status: 'fail-valid',
        error: VmInstructionError.VmwriteReadOnlyComponent,
        reason: `field 0x${encoding.toString(16)} is a read-only VM-exit information field`,
      };
    }
    this.store(e, BigInt.asUintN(e.accessBits, BigInt(value)));
    return { status: 'succeed' };
  }

  private store(e: VmcsEncoding, v: bigint): void {
    if (e.high) {
      const old = this.values.get(e.field) ?? 0n;
      this.values.set(e.field, (v << 32n) | (old & LOW32));
    } else {
      this.values.set(e.field, v);
    }
  }

  private lookup(encoding: number): VmcsEncoding | string {
    const e = decodeVmcsEncoding(encoding);
    if (e === null) return `0x${encoding.toString(16)} is not a valid field encoding`;
    if (!this.values.has(e.field)) return `0x${encoding.toString(16)} names no field this VMCS supports`;
    return e;
  }

  private resolve(encoding: number): VmcsEncoding {
    const e = this.lookup(encoding);
    if (typeof e === 'string')
      throw new VmcsFieldError(encoding, VmInstructionError.UnsupportedVmcsComponent, e);
    return e;
  }
}
