/*
 * #VMEXIT codes, the values VMRUN and #VMEXIT write to EXITCODE (AMD APM vol. 2 Appendix C, Table
 * C-1, "SVM Intercept Codes"). Ranges (CR and DR accesses, exceptions, CR write traps) have helpers.
 */

/** EXITCODE of a VMRUN that loaded illegal guest state (APM vol. 2 §15.5.1, Appendix C). */
export const VMEXIT_INVALID = -1;

/** Named #VMEXIT codes (APM vol. 2 Table C-1). */
export const VmExitCode = {
  /** Illegal guest state in the VMCB (-1). */
  INVALID: VMEXIT_INVALID,
  /** Busy bit set in the VMSA (SEV-ES; -2). */
  BUSY: -2,
  CR0_READ: 0x00,
  CR3_READ: 0x03,
  CR4_READ: 0x04,
  CR8_READ: 0x08,
  CR0_WRITE: 0x10,
  CR3_WRITE: 0x13,
  CR4_WRITE: 0x14,
  CR8_WRITE: 0x18,
  /** Exception intercepts are 40h + vector; #PF is 4Eh. */
  EXCP_PF: 0x4e,
  EXCP_UD: 0x46,
  EXCP_GP: 0x4d,
  INTR: 0x60,
  NMI: 0x61,
  SMI: 0x62,
  INIT: 0x63,
  VINTR: 0x64,
  CR0_SEL_WRITE: 0x65,
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
  SWINT: 0x75,
  INVD: 0x76,
  PAUSE: 0x77,
  HLT: 0x78,
  /** EXITINFO1 holds the linear address (with decode assists, APM vol. 2 §15.8.3). */
  INVLPG: 0x79,
  /** The linear address is in the guest's rAX, not in EXITINFO1 (APM vol. 2 §15.8.3). */
  INVLPGA: 0x7a,
  IOIO: 0x7b,
  MSR: 0x7c,
  TASK_SWITCH: 0x7d,
  FERR_FREEZE: 0x7e,
  SHUTDOWN: 0x7f,
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
  /** Nested page fault (APM vol. 2 §15.25.6). */
  NPF: 0x400,
  AVIC_INCOMPLETE_IPI: 0x401,
  AVIC_NOACCEL: 0x402,
  VMGEXIT: 0x403,
} as const;

/** Exit code of a read of CRn: 00h + n. */
export function crReadExitCode(n: number): number {
  return index(n, 16, 'CR') + 0x00;
}

/** Exit code of a write of CRn: 10h + n. */
export function crWriteExitCode(n: number): number {
  return index(n, 16, 'CR') + 0x10;
}

/** Exit code of a read of DRn: 20h + n. */
export function drReadExitCode(n: number): number {
  return index(n, 16, 'DR') + 0x20;
}

/** Exit code of a write of DRn: 30h + n. */
export function drWriteExitCode(n: number): number {
  return index(n, 16, 'DR') + 0x30;
}

/** Exit code of exception vector `vector`: 40h + vector. */
export function exceptionExitCode(vector: number): number {
  return index(vector, 32, 'exception vector ') + 0x40;
}

/** Exit code of the trap after a guest write of CRn: 90h + n. */
export function crWriteTrapExitCode(n: number): number {
  return index(n, 16, 'CR') + 0x90;
}

function index(n: number, limit: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n >= limit)
    throw new RangeError(`no exit code or intercept for ${what}${n}`);
  return n;
}

const NAMES = new Map<number, string>(
  Object.entries(VmExitCode).map(([name, code]) => [code as number, name] as const),
);

/** The APM's name of an exit code ("NPF", "CR3_WRITE", "EXCP_14"…), for reports. */
export function vmExitCodeName(code: number): string {
  const named = NAMES.get(code);
  if (named !== undefined) return named;
  if (code >= 0x00 && code <= 0x0f) return `CR${code}_READ`;
  if (code >= 0x10 && code <= 0x1f) return `CR${code - 0x10}_WRITE`;
  if (code >= 0x20 && code <= 0x2f) return `DR${code - 0x20}_READ`;
  if (code >= 0x30 && code <= 0x3f) return `DR${code - 0x30}_WRITE`;
  if (code >= 0x40 && code <= 0x5f) return `EXCP_${code - 0x40}`;
  if (code >= 0x90 && code <= 0x9f) return `CR${code - 0x90}_WRITE_TRAP`;
  return `0x${code.toString(16)}`;
}
