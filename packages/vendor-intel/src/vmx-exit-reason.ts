/*
 * Basic exit reasons (Intel SDM vol. 3C Appendix C, "VMX Basic Exit Reasons", Table C-1). The
 * exit-reason field (VMCS 4402h) holds the basic reason in bits 15:0 and sets bit 31 when VM entry
 * failed (SDM vol. 3C §25.9.1, "Basic VM-Exit Information"; §24.9.1 in the 2016 edition).
 */

/** Basic exit reasons (SDM vol. 3C Table C-1). */
export const VmxExitReason = {
  ExceptionOrNmi: 0,
  ExternalInterrupt: 1,
  TripleFault: 2,
  InitSignal: 3,
  StartupIpi: 4,
  IoSmi: 5,
  OtherSmi: 6,
  InterruptWindow: 7,
  NmiWindow: 8,
  TaskSwitch: 9,
  Cpuid: 10,
  Getsec: 11,
  Hlt: 12,
  Invd: 13,
  Invlpg: 14,
  Rdpmc: 15,
  Rdtsc: 16,
  Rsm: 17,
  Vmcall: 18,
  Vmclear: 19,
  Vmlaunch: 20,
  Vmptrld: 21,
  Vmptrst: 22,
  Vmread: 23,
  Vmresume: 24,
  Vmwrite: 25,
  Vmxoff: 26,
  Vmxon: 27,
  /** MOV to/from CR, CLTS, LMSW. */
  ControlRegisterAccess: 28,
  MovDr: 29,
  IoInstruction: 30,
  Rdmsr: 31,
  Wrmsr: 32,
  /** VM-entry failure due to invalid guest state (with bit 31 set in the field). */
  EntryFailureGuestState: 33,
  /** VM-entry failure due to MSR loading (with bit 31 set). */
  EntryFailureMsrLoading: 34,
  Mwait: 36,
  MonitorTrapFlag: 37,
  Monitor: 39,
  Pause: 40,
  /** VM-entry failure due to a machine-check event (with bit 31 set). */
  EntryFailureMachineCheck: 41,
  TprBelowThreshold: 43,
  ApicAccess: 44,
  VirtualizedEoi: 45,
  GdtrIdtrAccess: 46,
  LdtrTrAccess: 47,
  EptViolation: 48,
  EptMisconfiguration: 49,
  Invept: 50,
  Rdtscp: 51,
  PreemptionTimerExpired: 52,
  Invvpid: 53,
  Wbinvd: 54,
  Xsetbv: 55,
  ApicWrite: 56,
  Rdrand: 57,
  Invpcid: 58,
  Vmfunc: 59,
  Encls: 60,
  Rdseed: 61,
  PageModificationLogFull: 62,
  Xsaves: 63,
  Xrstors: 64,
} as const;

/** Bit 31 of the exit-reason field: the VM exit reports a VM-entry failure. */
export const VM_ENTRY_FAILURE = 0x8000_0000;

const NAMES = new Map<number, string>(
  Object.entries(VmxExitReason).map(([name, code]) => [code, name] as const),
);

/** The name of a basic exit reason, for reports ("EptViolation"…); bit 31 and bits 30:16 are ignored. */
export function vmxExitReasonName(reason: number): string {
  const basic = reason & 0xffff;
  return NAMES.get(basic) ?? `exit reason ${basic}`;
}
