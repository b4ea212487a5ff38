import {
  crReadExitCode,
  crWriteExitCode,
  crWriteTrapExitCode,
  drReadExitCode,
  drWriteExitCode,
  exceptionExitCode,
} from './vmexit-code.js';

/*
 * The virtual machine control block (AMD APM vol. 2 Appendix B, "Layout of VMCB"): one 4 KiB page,
 * the control area at 000h-3FFh (Table B-1) and the state save area from 400h (Table B-2, whose
 * offsets are relative to 400h; here they are given from the start of the VMCB). Fields are
 * little-endian. VMRUN reads it and #VMEXIT writes it (APM vol. 2 §15.5.1, §15.6); it is control-plane
 * state, so 64-bit fields travel as `bigint` here.
 */

/** Size of a VMCB: one 4 KiB page (APM vol. 2 §15.5.1). */
export const VMCB_SIZE = 4096;

/** Where a VMCB field sits, how wide it is, and the row of the APM table it comes from. */
export interface VmcbFieldSpec {
  readonly offset: number;
  readonly bytes: 1 | 2 | 4 | 8;
  readonly source: string;
}

const B1 = 'APM vol. 2 Table B-1 (control area)';
const B2 = 'APM vol. 2 Table B-2 (state save area, 400h + offset)';

/** The VMCB fields this package models: name, byte offset from the VMCB start, width, source. */
export const VMCB_LAYOUT = {
  /** Bits 15:0 intercept reads of CR0-CR15, bits 31:16 writes (see `SvmIntercept`). */
  interceptCr: { offset: 0x000, bytes: 4, source: `${B1}, 000h` },
  /** Bits 15:0 intercept reads of DR0-DR15, bits 31:16 writes. */
  interceptDr: { offset: 0x004, bytes: 4, source: `${B1}, 004h` },
  /** Bit n intercepts exception vector n. */
  interceptExceptions: { offset: 0x008, bytes: 4, source: `${B1}, 008h` },
  /** INTR ... INVLPG (bit 25), INVLPGA (bit 26) ... shutdown (bit 31). */
  interceptMisc3: { offset: 0x00c, bytes: 4, source: `${B1}, 00Ch` },
  /** VMRUN (bit 0), VMMCALL (bit 1) ... EFER and CR0-CR15 write traps (bits 15-31). */
  interceptMisc4: { offset: 0x010, bytes: 4, source: `${B1}, 010h` },
  /** INVLPGB, illegal INVLPGB, INVPCID, MCOMMIT, TLBSYNC (bits 0-4). */
  interceptMisc5: { offset: 0x014, bytes: 4, source: `${B1}, 014h` },
  pauseFilterThreshold: { offset: 0x03c, bytes: 2, source: `${B1}, 03Ch` },
  pauseFilterCount: { offset: 0x03e, bytes: 2, source: `${B1}, 03Eh` },
  iopmBasePa: { offset: 0x040, bytes: 8, source: `${B1}, 040h` },
  msrpmBasePa: { offset: 0x048, bytes: 8, source: `${B1}, 048h` },
  tscOffset: { offset: 0x050, bytes: 8, source: `${B1}, 050h` },
  /** Guest ASID, bits 31:0 (APM vol. 2 §15.5.1: "the address space ID (ASID) to use"). */
  guestAsid: { offset: 0x058, bytes: 4, source: `${B1}, 058h` },
  /** TLB_CONTROL, bits 39:32 of the 058h quadword (Table 15-9). */
  tlbControl: { offset: 0x05c, bytes: 1, source: `${B1}, 05Ch; APM vol. 2 §15.16.1` },
  /** V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING, V_INTR_VECTOR ... */
  virtualInterrupt: { offset: 0x060, bytes: 8, source: `${B1}, 060h` },
  interruptShadow: { offset: 0x068, bytes: 8, source: `${B1}, 068h` },
  /** EXITCODE: the #VMEXIT code (Appendix C), -1 for VMEXIT_INVALID. */
  exitCode: { offset: 0x070, bytes: 8, source: `${B1}, 070h` },
  exitInfo1: { offset: 0x078, bytes: 8, source: `${B1}, 078h` },
  exitInfo2: { offset: 0x080, bytes: 8, source: `${B1}, 080h` },
  exitIntInfo: { offset: 0x088, bytes: 8, source: `${B1}, 088h` },
  /** Bit 0 NP_ENABLE, bit 1 SEV, bit 2 SEV-ES, bit 3 GMET, bit 4 SSS, bit 6 ROGPT (see `NestedControl`). */
  nestedControl: { offset: 0x090, bytes: 8, source: `${B1}, 090h` },
  avicApicBar: { offset: 0x098, bytes: 8, source: `${B1}, 098h` },
  ghcbGpa: { offset: 0x0a0, bytes: 8, source: `${B1}, 0A0h` },
  eventInjection: { offset: 0x0a8, bytes: 8, source: `${B1}, 0A8h; APM vol. 2 §15.20` },
  /** N_CR3: the nested page table root (APM vol. 2 §15.25.3). */
  nCr3: { offset: 0x0b0, bytes: 8, source: `${B1}, 0B0h` },
  /** Bit 0 LBR virtualization, bit 1 virtual VMSAVE/VMLOAD. */
  virtualizationExtensions: { offset: 0x0b8, bytes: 8, source: `${B1}, 0B8h` },
  /** VMCB clean bits, bits 31:0 (APM vol. 2 §15.15.3, see `VmcbClean`). */
  cleanBits: { offset: 0x0c0, bytes: 4, source: `${B1}, 0C0h; APM vol. 2 §15.15.1` },
  nRip: { offset: 0x0c8, bytes: 8, source: `${B1}, 0C8h; APM vol. 2 §15.7.1` },
  /** Number of guest instruction bytes fetched (decode assists, APM vol. 2 §15.8.4). */
  guestInstructionBytesFetched: { offset: 0x0d0, bytes: 1, source: `${B1}, 0D0h` },
  csSelector: { offset: 0x410, bytes: 2, source: `${B2}, 010h` },
  /** CS attributes: descriptor bits 55:52 and 47:40, so L is bit 9 and D bit 10 (APM vol. 2 §15.5.1). */
  csAttributes: { offset: 0x412, bytes: 2, source: `${B2}, 012h` },
  csLimit: { offset: 0x414, bytes: 4, source: `${B2}, 014h` },
  csBase: { offset: 0x418, bytes: 8, source: `${B2}, 018h` },
  cpl: { offset: 0x4cb, bytes: 1, source: `${B2}, 0CBh` },
  efer: { offset: 0x4d0, bytes: 8, source: `${B2}, 0D0h` },
  cr4: { offset: 0x548, bytes: 8, source: `${B2}, 148h` },
  cr3: { offset: 0x550, bytes: 8, source: `${B2}, 150h` },
  cr0: { offset: 0x558, bytes: 8, source: `${B2}, 158h` },
  dr7: { offset: 0x560, bytes: 8, source: `${B2}, 160h` },
  dr6: { offset: 0x568, bytes: 8, source: `${B2}, 168h` },
  rflags: { offset: 0x570, bytes: 8, source: `${B2}, 170h` },
  rip: { offset: 0x578, bytes: 8, source: `${B2}, 178h` },
  rsp: { offset: 0x5d8, bytes: 8, source: `${B2}, 1D8h` },
  rax: { offset: 0x5f8, bytes: 8, source: `${B2}, 1F8h` },
  cr2: { offset: 0x640, bytes: 8, source: `${B2}, 240h` },
  /** G_PAT: the guest PAT, used only with nested paging (APM vol. 2 §15.25.4). */
  gPat: { offset: 0x668, bytes: 8, source: `${B2}, 268h` },
} as const satisfies Record<string, VmcbFieldSpec>;

/** The name of a modelled VMCB field. */
export type VmcbField = keyof typeof VMCB_LAYOUT;

/** The value type of a field: `bigint` for 8-byte fields, `number` for the others. */
export type VmcbValue<F extends VmcbField> = (typeof VMCB_LAYOUT)[F]['bytes'] extends 8 ? bigint : number;

/** Bits of the nested-paging control quadword at 090h (APM vol. 2 Table B-1). */
export const NestedControl = {
  /** Nested paging (APM vol. 2 §15.25.3). */
  NP_ENABLE: 1 << 0,
  /** Secure Encrypted Virtualization. */
  SEV: 1 << 1,
  /** SEV with encrypted state. */
  SEV_ES: 1 << 2,
  /** Guest mode execute trap (APM vol. 2 §15.25.13). */
  GMET: 1 << 3,
  /** Supervisor shadow stack checks (APM vol. 2 §15.25.14). */
  SSS: 1 << 4,
  /** Read-only guest page tables (APM vol. 2 §15.25.5). */
  ROGPT: 1 << 6,
} as const;

/** The VMCB clean bits (APM vol. 2 §15.15.3, Figure 15-4): a set bit lets VMRUN use cached state. */
export const VmcbClean = {
  /** Intercept vectors, TSC offset, pause filter count. */
  I: 1 << 0,
  /** IOPM_BASE, MSRPM_BASE. */
  IOPM: 1 << 1,
  /** The guest ASID. */
  ASID: 1 << 2,
  /** V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING, V_INTR_VECTOR. */
  TPR: 1 << 3,
  /** Nested paging: N_CR3, G_PAT. */
  NP: 1 << 4,
  /** CR0, CR3, CR4, EFER. */
  CRX: 1 << 5,
  /** DR6, DR7. */
  DRX: 1 << 6,
  /** GDT and IDT base and limit. */
  DT: 1 << 7,
  /** CS, DS, SS, ES selector, base, limit, attributes, and the CPL. */
  SEG: 1 << 8,
  CR2: 1 << 9,
  /** DebugCtl, last branch and exception records. */
  LBR: 1 << 10,
  /** AVIC APIC_BAR and table pointers. */
  AVIC: 1 << 11,
  /** S_CET, SSP, ISST_ADDR. */
  CET: 1 << 12,
} as const;

/**
 * Intercepts, numbered by their bit in the intercept vectors at 000h-017h read as one little-endian
 * bit string (word n at 4n). The APM lays the vectors out in the order of the exit codes, so each
 * number is also the exit code of its #VMEXIT (Appendix C): CR reads 00h-0Fh, CR writes 10h-1Fh, DR
 * reads and writes 20h-3Fh, exceptions 40h-5Fh, the word at 00Ch 60h-7Fh, the word at 010h 80h-9Fh,
 * the word at 014h from A0h (APM vol. 2 Table B-1).
 */
export const SvmIntercept = {
  INTR: 0x60,
  NMI: 0x61,
  SMI: 0x62,
  INIT: 0x63,
  VINTR: 0x64,
  /** Writes of CR0 that change bits other than TS and MP. */
  CR0_SELECTIVE_WRITE: 0x65,
  IDTR_READ: 0x66,
  GDTR_READ: 0x67,
  LDTR_READ: 0x68,
  TR_READ: 0x69,
  IDTR_WRITE: 0x6a,
  GDTR_WRITE: 0x6b,
  LDTR_WRITE: 0x6c,
  TR_WRITE: 0x6d,
  RDTSC: 0x6e,
  RDPMC: 0x6f,
  PUSHF: 0x70,
  POPF: 0x71,
  CPUID: 0x72,
  RSM: 0x73,
  IRET: 0x74,
  INTN: 0x75,
  INVD: 0x76,
  PAUSE: 0x77,
  HLT: 0x78,
  INVLPG: 0x79,
  INVLPGA: 0x7a,
  IOIO_PROT: 0x7b,
  MSR_PROT: 0x7c,
  TASK_SWITCH: 0x7d,
  FERR_FREEZE: 0x7e,
  SHUTDOWN: 0x7f,
  /** Must be set: VMRUN with it clear fails (APM vol. 2 §15.5.1). */
  VMRUN: 0x80,
  VMMCALL: 0x81,
  VMLOAD: 0x82,
  VMSAVE: 0x83,
  STGI: 0x84,
  CLGI: 0x85,
  SKINIT: 0x86,
  RDTSCP: 0x87,
  ICEBP: 0x88,
  WBINVD: 0x89,
  MONITOR: 0x8a,
  MWAIT: 0x8b,
  MWAIT_CONDITIONAL: 0x8c,
  XSETBV: 0x8d,
  RDPRU: 0x8e,
  EFER_WRITE_TRAP: 0x8f,
  INVLPGB: 0xa0,
  INVLPGB_ILLEGAL: 0xa1,
  INVPCID: 0xa2,
  MCOMMIT: 0xa3,
  TLBSYNC: 0xa4,
} as const;

// The intercept vectors are laid out in the order of the exit codes (see `SvmIntercept`), so each
// numbered intercept is the exit code of its #VMEXIT: one function serves both.

/** Intercept number of reads of CRn (APM vol. 2 Table B-1, 000h bits 15:0). */
export const crReadIntercept: (n: number) => number = crReadExitCode;

/** Intercept number of writes of CRn (000h bits 31:16). */
export const crWriteIntercept: (n: number) => number = crWriteExitCode;

/** Intercept number of reads of DRn (004h bits 15:0). */
export const drReadIntercept: (n: number) => number = drReadExitCode;

/** Intercept number of writes of DRn (004h bits 31:16). */
export const drWriteIntercept: (n: number) => number = drWriteExitCode;

/** Intercept number of exception vector `vector` (008h). */
export const exceptionIntercept: (vector: number) => number = exceptionExitCode;

/** Intercept number of the trap after a guest write of CRn (010h bits 31:16). */
export const crWriteTrapIntercept: (n: number) => number = crWriteTrapExitCode;

/** One past the last intercept bit (the vectors end at 017h). */
const INTERCEPT_BITS = 0x18 * 8;

/**
 * A VMCB over a 4 KiB buffer. `get` and `set` take the names of `VMCB_LAYOUT`; the accessors below
 * cover the fields the SVM controls read. Writes are range-checked: a value that does not fit its
 * field is a `RangeError`, never silently truncated.
 */
export class Vmcb {
  /** The VMCB page. */
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  /** A zeroed VMCB, or one over `buffer` (exactly 4096 bytes: the page is shared, not copied). */
  constructor(buffer: ArrayBuffer = new ArrayBuffer(VMCB_SIZE)) {
    if (buffer.byteLength !== VMCB_SIZE) {
      throw new RangeError(`a VMCB is ${VMCB_SIZE} bytes, got ${buffer.byteLength}`);
    }
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
  }

  /** Reads a field (unsigned). */
  get<F extends VmcbField>(field: F): VmcbValue<F> {
    const { offset, bytes } = VMCB_LAYOUT[field];
    return this.read(offset, bytes) as VmcbValue<F>;
  }

  /**
   * Writes a field. Numbers must be integers that fit the field; a bigint for an 8-byte field may be
   * negative down to -2^63 and is stored in two's complement (EXITCODE -1 is VMEXIT_INVALID).
   */
  set<F extends VmcbField>(field: F, value: VmcbValue<F>): void {
    const { offset, bytes } = VMCB_LAYOUT[field];
    this.write(field, offset, bytes, value);
  }

  /** The guest ASID (058h). */
  get asid(): number {
    return this.get('guestAsid');
  }

  set asid(value: number) {
    this.set('guestAsid', value);
  }

  /** TLB_CONTROL (05Ch). */
  get tlbControl(): number {
    return this.get('tlbControl');
  }

  set tlbControl(value: number) {
    this.set('tlbControl', value);
  }

  /** EXITCODE (070h) as a signed number: -1 is VMEXIT_INVALID. */
  get exitCode(): number {
    return Number(this.view.getBigInt64(VMCB_LAYOUT.exitCode.offset, true));
  }

  set exitCode(value: number) {
    if (!Number.isSafeInteger(value)) throw new RangeError(`EXITCODE must be an integer, got ${value}`);
    this.set('exitCode', BigInt(value));
  }

  /** NP_ENABLE (090h bit 0). */
  get npEnable(): boolean {
    return (this.view.getUint8(VMCB_LAYOUT.nestedControl.offset) & NestedControl.NP_ENABLE) !== 0;
  }

  set npEnable(on: boolean) {
    const at = VMCB_LAYOUT.nestedControl.offset;
    const byte = this.view.getUint8(at);
    this.view.setUint8(at, on ? byte | NestedControl.NP_ENABLE : byte & ~NestedControl.NP_ENABLE);
  }

  /** Whether intercept `intercept` (a `SvmIntercept` value or one of the helpers' numbers) is set. */
  intercepted(intercept: number): boolean {
    const bit = checkIntercept(intercept);
    return (this.view.getUint8(bit >>> 3) & (1 << (bit & 7))) !== 0;
  }

  /** Sets or clears intercept `intercept`. */
  setIntercept(intercept: number, on = true): void {
    const bit = checkIntercept(intercept);
    const at = bit >>> 3;
    const byte = this.view.getUint8(at);
    this.view.setUint8(at, on ? byte | (1 << (bit & 7)) : byte & ~(1 << (bit & 7)));
  }

  private read(offset: number, bytes: 1 | 2 | 4 | 8): number | bigint {
    switch (bytes) {
      case 1:
        return this.view.getUint8(offset);
      case 2:
        return this.view.getUint16(offset, true);
      case 4:
        return this.view.getUint32(offset, true);
      default:
        return this.view.getBigUint64(offset, true);
    }
  }

  private write(field: string, offset: number, bytes: 1 | 2 | 4 | 8, value: number | bigint): void {
    if (bytes === 8) {
      if (typeof value !== 'bigint' || value < -(2n ** 63n) || value >= 2n ** 64n) {
        throw new RangeError(`${field} takes a 64-bit bigint, got ${String(value)}`);
      }
      this.view.setBigUint64(offset, BigInt.asUintN(64, value), true);
      return;
    }
    const limit = 2 ** (8 * bytes);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= limit) {
      throw new RangeError(`${field} takes an integer from 0 to ${limit - 1}, got ${String(value)}`);
    }
    if (bytes === 1) this.view.setUint8(offset, value);
    else if (bytes === 2) this.view.setUint16(offset, value, true);
    else this.view.setUint32(offset, value, true);
  }
}

function checkIntercept(intercept: number): number {
  if (!Number.isInteger(intercept) || intercept < 0 || intercept >= INTERCEPT_BITS) {
    throw new RangeError(`no intercept ${intercept} (the vectors hold bits 0 to ${INTERCEPT_BITS - 1})`);
  }
  return intercept;
}
