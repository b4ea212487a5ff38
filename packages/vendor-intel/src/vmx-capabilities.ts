import type { EptCapabilities } from './ept-stage.js';

/*
 * What a VMX implementation offers, as configuration: the IA32_VMX_EPT_VPID_CAP MSR (48CH; Intel SDM
 * vol. 3C Appendix A.10), the secondary controls it allows (IA32_VMX_PROCBASED_CTLS2, A.3.3), the CR0
 * and CR4 bits fixed in VMX operation (IA32_VMX_CR0_FIXED0/1, IA32_VMX_CR4_FIXED0/1, A.7-A.8), the
 * physical-address width and the linear-address width.
 */

/** Bit positions of IA32_VMX_EPT_VPID_CAP (SDM vol. 3C Appendix A.10). */
export const EptVpidCapBit = {
  /** Execute-only EPT translations. */
  ExecuteOnly: 0,
  /** Page-walk length 4. */
  PageWalk4: 6,
  /** Page-walk length 5. */
  PageWalk5: 7,
  /** EPT paging-structure memory type UC. */
  MemoryTypeUc: 8,
  /** EPT paging-structure memory type WB. */
  MemoryTypeWb: 14,
  /** 2 MiB EPT pages. */
  Pages2M: 16,
  /** 1 GiB EPT pages. */
  Pages1G: 17,
  /** INVEPT. */
  Invept: 20,
  /** Accessed and dirty flags for EPT. */
  AccessedDirty: 21,
  /** Advanced VM-exit information for EPT violations. */
  AdvancedViolationInfo: 22,
  /** Supervisor shadow-stack control. */
  SupervisorShadowStack: 23,
  /** Single-context INVEPT (type 1). */
  InveptSingleContext: 25,
  /** All-context INVEPT (type 2). */
  InveptAllContext: 26,
  /** INVVPID. */
  Invvpid: 32,
  /** Individual-address INVVPID (type 0). */
  InvvpidIndividualAddress: 40,
  /** Single-context INVVPID (type 1). */
  InvvpidSingleContext: 41,
  /** All-context INVVPID (type 2). */
  InvvpidAllContext: 42,
  /** Single-context-retaining-globals INVVPID (type 3). */
  InvvpidSingleContextRetainingGlobals: 43,
} as const;

/**
 * A VMX implementation. `EptCapabilities` (execute-only, accessed/dirty, 5-level, 1 GiB pages,
 * advanced violation information) are shared with `EptStage`; every field is optional and defaults to
 * `RECENT_VMX`.
 */
export interface VmxCapabilities extends EptCapabilities {
  /** EPT_VPID_CAP bit 6: 4-level EPT. Default true. */
  readonly fourLevel?: boolean;
  /** Bit 8: UC EPT paging-structure memory type. Default true. */
  readonly memoryTypeUc?: boolean;
  /** Bit 14: WB EPT paging-structure memory type. Default true. */
  readonly memoryTypeWb?: boolean;
  /** Bit 16: 2 MiB EPT pages. Default true. */
  readonly largePages?: boolean;
  /** Bit 20: INVEPT. Default true. */
  readonly invept?: boolean;
  /** Bit 23: supervisor shadow-stack control. Default false. */
  readonly supervisorShadowStack?: boolean;
  /** Bit 25: INVEPT type 1. Default true. */
  readonly inveptSingleContext?: boolean;
  /** Bit 26: INVEPT type 2. Default true. */
  readonly inveptAllContext?: boolean;
  /** Bit 32: INVVPID. Default true. */
  readonly invvpid?: boolean;
  /** Bit 40: INVVPID type 0. Default true. */
  readonly invvpidIndividualAddress?: boolean;
  /** Bit 41: INVVPID type 1. Default true. */
  readonly invvpidSingleContext?: boolean;
  /** Bit 42: INVVPID type 2. Default true. */
  readonly invvpidAllContext?: boolean;
  /** Bit 43: INVVPID type 3. Default true. */
  readonly invvpidSingleContextRetainingGlobals?: boolean;
  /** IA32_VMX_PROCBASED_CTLS2 allows "enable EPT". Default true. */
  readonly ept?: boolean;
  /** IA32_VMX_PROCBASED_CTLS2 allows "enable VPID". Default true. */
  readonly vpid?: boolean;
  /** IA32_VMX_PROCBASED_CTLS2 allows "unrestricted guest". Default true. */
  readonly unrestrictedGuest?: boolean;
  /** CPUID.80000008H:EAX[7:0], MAXPHYADDR. Default 46. */
  readonly maxPhysicalAddressBits?: number;
  /** Linear-address width for canonical checks: 48, or 57 with 5-level paging. Default 48. */
  readonly linearAddressBits?: 48 | 57;
  /** IA32_VMX_CR0_FIXED0: CR0 bits that must be 1 in VMX operation. Default PG | NE | PE (8000_0021h). */
  readonly cr0Fixed0?: number;
  /** IA32_VMX_CR0_FIXED1: CR0 bits that may be 1. Default FFFF_FFFFh. */
  readonly cr0Fixed1?: number;
  /** IA32_VMX_CR4_FIXED0: CR4 bits that must be 1. Default VMXE (2000h). */
  readonly cr4Fixed0?: number;
  /** IA32_VMX_CR4_FIXED1: CR4 bits that may be 1. Default bits 0-14, 16-18, 20-23. */
  readonly cr4Fixed1?: number;
}

/** Capabilities with every field present. */
export type ResolvedVmxCapabilities = {
  readonly [K in keyof VmxCapabilities]-?: NonNullable<VmxCapabilities[K]>;
};

/**
 * The defaults: a recent Xeon-class part with everything this package models, except what
 * `EptStage` leaves off by default (mode-based execute control, advanced violation information) and
 * supervisor shadow stacks. The fixed-bit values are the usual ones (CR0: PE, NE and PG fixed to 1;
 * CR4: VMXE fixed to 1); MAXPHYADDR 46 is an assumption to override for a given part.
 */
export const RECENT_VMX: ResolvedVmxCapabilities = {
  executeOnly: true,
  accessedDirty: true,
  modeBasedExecute: false,
  advancedViolationInfo: false,
  fiveLevel: true,
  gigabytePages: true,
  fourLevel: true,
  memoryTypeUc: true,
  memoryTypeWb: true,
  largePages: true,
  invept: true,
  supervisorShadowStack: false,
  inveptSingleContext: true,
  inveptAllContext: true,
  invvpid: true,
  invvpidIndividualAddress: true,
  invvpidSingleContext: true,
  invvpidAllContext: true,
  invvpidSingleContextRetainingGlobals: true,
  ept: true,
  vpid: true,
  unrestrictedGuest: true,
  maxPhysicalAddressBits: 46,
  linearAddressBits: 48,
  cr0Fixed0: 0x8000_0021,
  cr0Fixed1: 0xffff_ffff,
  cr4Fixed0: 0x2000,
  cr4Fixed1: 0x7fff | (0x7 << 16) | (0xf << 20),
};

/** Fills in the defaults of `RECENT_VMX` and checks the numbers. */
export function resolveVmxCapabilities(caps: VmxCapabilities = {}): ResolvedVmxCapabilities {
  const r = { ...RECENT_VMX } as {
    -readonly [K in keyof ResolvedVmxCapabilities]: ResolvedVmxCapabilities[K];
  };
  for (const [key, value] of Object.entries(caps)) {
    if (value !== undefined) (r as Record<string, unknown>)[key] = value;
  }
  const m = r.maxPhysicalAddressBits;
  if (!Number.isInteger(m) || m < 32 || m > 52)
    throw new RangeError(`MAXPHYADDR must be from 32 to 52, got ${m}`);
  if (r.linearAddressBits !== 48 && r.linearAddressBits !== 57) {
    throw new RangeError(`the linear-address width is 48 or 57, got ${String(r.linearAddressBits)}`);
  }
  return r;
}

/** The value of IA32_VMX_EPT_VPID_CAP (MSR 48CH) for these capabilities (SDM vol. 3C Appendix A.10). */
export function eptVpidCapMsr(caps: VmxCapabilities = {}): bigint {
  const r = resolveVmxCapabilities(caps);
  const set: Array<[boolean, number]> = [
    [r.executeOnly, EptVpidCapBit.ExecuteOnly],
    [r.fourLevel, EptVpidCapBit.PageWalk4],
    [r.fiveLevel, EptVpidCapBit.PageWalk5],
    [r.memoryTypeUc, EptVpidCapBit.MemoryTypeUc],
    [r.memoryTypeWb, EptVpidCapBit.MemoryTypeWb],
    [r.largePages, EptVpidCapBit.Pages2M],
    [r.gigabytePages, EptVpidCapBit.Pages1G],
    [r.invept, EptVpidCapBit.Invept],
    [r.accessedDirty, EptVpidCapBit.AccessedDirty],
    [r.advancedViolationInfo, EptVpidCapBit.AdvancedViolationInfo],
    [r.supervisorShadowStack, EptVpidCapBit.SupervisorShadowStack],
    [r.inveptSingleContext, EptVpidCapBit.InveptSingleContext],
    [r.inveptAllContext, EptVpidCapBit.InveptAllContext],
    [r.invvpid, EptVpidCapBit.Invvpid],
    [r.invvpidIndividualAddress, EptVpidCapBit.InvvpidIndividualAddress],
    [r.invvpidSingleContext, EptVpidCapBit.InvvpidSingleContext],
    [r.invvpidAllContext, EptVpidCapBit.InvvpidAllContext],
    [r.invvpidSingleContextRetainingGlobals, EptVpidCapBit.InvvpidSingleContextRetainingGlobals],
  ];
  let msr = 0n;
  for (const [on, bit] of set) if (on) msr |= 1n << BigInt(bit);
  return msr;
}
