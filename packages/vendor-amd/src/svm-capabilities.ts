import { Efer } from '@hvsim/cpu-core';

/*
 * What an SVM implementation offers, as configuration: CPUID Fn8000_000A (AMD APM vol. 3 Appendix E,
 * "SVM Revision and Feature Identification"; APM vol. 2 §15.4, §15.5.1) and the few other facts the
 * VMRUN checks need (long mode, MAXPHYADDR, the CR4 and EFER bits the CPU implements).
 */

/** CPUID Fn8000_000A_EDX feature bits (APM vol. 3 Appendix E; the sections of APM vol. 2 that use them). */
export const SvmFeature = {
  /** Nested paging (§15.25.12). */
  NP: 1 << 0,
  /** LBR virtualization. */
  LbrVirt: 1 << 1,
  /** SVM lock (§15.4). */
  SVML: 1 << 2,
  /** nRIP save on #VMEXIT (§15.7.1). */
  NRIPS: 1 << 3,
  /** TSC ratio MSR. */
  TscRateMsr: 1 << 4,
  /** VMCB clean bits (§15.15). */
  VmcbClean: 1 << 5,
  /** TLB_CONTROL 03h and 07h (§15.16.1). */
  FlushByAsid: 1 << 6,
  /** Decode assists (§15.8). */
  DecodeAssists: 1 << 7,
  /** PAUSE intercept filter. */
  PauseFilter: 1 << 10,
  /** PAUSE filter cycle-count threshold. */
  PauseFilterThreshold: 1 << 12,
  /** Advanced virtual interrupt controller. */
  AVIC: 1 << 13,
  /** VMSAVE and VMLOAD virtualization. */
  VMSAVEvirt: 1 << 15,
  /** Virtualized global interrupt flag. */
  VGIF: 1 << 16,
  /** Guest mode execute trap (§15.25.13). */
  GMET: 1 << 17,
  /** x2APIC mode of AVIC. */
  x2AVIC: 1 << 18,
  /** Supervisor shadow stack checks (§15.25.14). */
  SSSCheck: 1 << 19,
  /** SPEC_CTRL virtualization. */
  SpecCtrl: 1 << 20,
  /** Read-only guest page tables (§15.25.5). */
  ROGPT: 1 << 21,
  /** Host MCE override. */
  HOST_MCE_OVERRIDE: 1 << 23,
  /** INVLPGB/TLBSYNC hypervisor enable. */
  TlbiCtl: 1 << 24,
  /** Virtual NMI. */
  VNMI: 1 << 25,
} as const;

/** The name of a feature bit. */
export type SvmFeatureName = keyof typeof SvmFeature;

/**
 * An SVM implementation. Every field is optional; `resolveSvmCapabilities` fills in the defaults of
 * `RECENT_SVM`.
 */
export interface SvmCapabilities {
  /** CPUID Fn8000_000A_EAX[7:0]: SVM revision. */
  readonly revision?: number;
  /** CPUID Fn8000_000A_EBX: the number of ASIDs (APM vol. 2 §15.5.1); ASID 0 is the host's. */
  readonly asidCount?: number;
  /** CPUID Fn8000_000A_EDX, by feature name. */
  readonly features?: Partial<Record<SvmFeatureName, boolean>>;
  /**
   * Whether the TLB tags translations with ASIDs. SVM hardware always does (§15.16); `false` models a
   * CPU without tags, which must flush its TLB on every VMRUN and #VMEXIT.
   */
  readonly asidTagging?: boolean;
  /** CPUID Fn8000_0001_EDX[LM]: long mode (the VMRUN check on EFER.LMA/LME, §15.5.1). */
  readonly longMode?: boolean;
  /** CPUID Fn8000_0008_EAX[7:0]: physical-address width; CR3 and nCR3 bits above it must be zero. */
  readonly maxPhysicalAddressBits?: number;
  /** The CR4 bits the CPU implements; any other bit set in the guest CR4 fails VMRUN (§15.5.1). */
  readonly cr4Bits?: number;
  /** The EFER bits the CPU implements; any other bit set in the guest EFER fails VMRUN (§15.5.1). */
  readonly eferBits?: number;
}

/** Capabilities with every field present. */
export interface ResolvedSvmCapabilities {
  readonly revision: number;
  readonly asidCount: number;
  readonly features: Readonly<Record<SvmFeatureName, boolean>>;
  readonly asidTagging: boolean;
  readonly longMode: boolean;
  readonly maxPhysicalAddressBits: number;
  readonly cr4Bits: number;
  readonly eferBits: number;
}

// CR4 bits an AMD64 CPU of this generation implements (APM vol. 2 §3.1.3): VME PVI TSD DE PSE PAE MCE
// PGE PCE OSFXSR OSXMMEXCPT UMIP LA57 (bits 0-12), FSGSBASE PCIDE OSXSAVE (16-18), SMEP SMAP PKE CET
// (20-23). Bits 13 (VMXE), 14 (SMXE), 15, 19 and 24-63 are reserved, MBZ.
const CR4_IMPLEMENTED = 0x1fff | (0x7 << 16) | (0xf << 20);

// EFER bits (APM vol. 2 §3.1.7): SCE, LME, LMA, NXE, SVME, LMSLE, FFXSR, TCE.
const EFER_IMPLEMENTED =
  Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE | Efer.SVME | (1 << 13) | (1 << 14) | (1 << 15);

/**
 * The defaults: a recent EPYC (Zen 4/5 class). The feature bits are the SVM flags Linux reports for
 * such parts (npt lbrv svm_lock nrip_save tsc_scale vmcb_clean flushbyasid decodeassists pausefilter
 * pfthreshold avic v_vmsave_vmload vgif x2avic v_spec_ctrl vnmi); GMET, SSS, ROGPT, HOST_MCE_OVERRIDE
 * and TlbiCtl have no Linux flag to check them by and are left off. 32768 ASIDs (EBX = 8000h) and
 * MAXPHYADDR 48 are assumptions to override for a given part.
 */
export const RECENT_SVM: ResolvedSvmCapabilities = {
  revision: 1,
  asidCount: 32768,
  features: {
    NP: true,
    LbrVirt: true,
    SVML: true,
    NRIPS: true,
    TscRateMsr: true,
    VmcbClean: true,
    FlushByAsid: true,
    DecodeAssists: true,
    PauseFilter: true,
    PauseFilterThreshold: true,
    AVIC: true,
    VMSAVEvirt: true,
    VGIF: true,
    GMET: false,
    x2AVIC: true,
    SSSCheck: false,
    SpecCtrl: true,
    ROGPT: false,
    HOST_MCE_OVERRIDE: false,
    TlbiCtl: false,
    VNMI: true,
  },
  asidTagging: true,
  longMode: true,
  maxPhysicalAddressBits: 48,
  cr4Bits: CR4_IMPLEMENTED,
  eferBits: EFER_IMPLEMENTED,
};

/** Fills in the defaults of `RECENT_SVM` and checks the numbers. */
export function resolveSvmCapabilities(caps: SvmCapabilities = {}): ResolvedSvmCapabilities {
  const resolved: ResolvedSvmCapabilities = {
    revision: caps.revision ?? RECENT_SVM.revision,
    asidCount: caps.asidCount ?? RECENT_SVM.asidCount,
    features: { ...RECENT_SVM.features, ...caps.features },
    asidTagging: caps.asidTagging ?? RECENT_SVM.asidTagging,
    longMode: caps.longMode ?? RECENT_SVM.longMode,
    maxPhysicalAddressBits: caps.maxPhysicalAddressBits ?? RECENT_SVM.maxPhysicalAddressBits,
    cr4Bits: caps.cr4Bits ?? RECENT_SVM.cr4Bits,
    eferBits: caps.eferBits ?? RECENT_SVM.eferBits,
  };
  if (!Number.isInteger(resolved.revision) || resolved.revision < 0 || resolved.revision > 0xff) {
    throw new RangeError(`the SVM revision is 8 bits, got ${resolved.revision}`);
  }
  if (!Number.isInteger(resolved.asidCount) || resolved.asidCount < 1 || resolved.asidCount > 0xffffffff) {
    throw new RangeError(`the number of ASIDs is a 32-bit count of at least 1, got ${resolved.asidCount}`);
  }
  const m = resolved.maxPhysicalAddressBits;
  if (!Number.isInteger(m) || m < 32 || m > 52) {
    throw new RangeError(`MAXPHYADDR must be from 32 to 52, got ${m}`);
  }
  return resolved;
}

/** Whether the CPU has a feature. */
export function hasSvmFeature(caps: ResolvedSvmCapabilities, feature: SvmFeatureName): boolean {
  return caps.features[feature];
}

/** The registers CPUID returns for a leaf. */
export interface CpuidRegisters {
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

/**
 * CPUID Fn8000_000A (APM vol. 3 Appendix E): EAX[7:0] the SVM revision, EBX the number of ASIDs, ECX
 * reserved (0), EDX the feature bits. Values are unsigned 32-bit numbers.
 */
export function svmCpuid(caps: SvmCapabilities = {}): CpuidRegisters {
  const r = resolveSvmCapabilities(caps);
  let edx = 0;
  for (const [name, bit] of Object.entries(SvmFeature)) {
    if (r.features[name as SvmFeatureName]) edx |= bit;
  }
  return { eax: r.revision, ebx: r.asidCount >>> 0, ecx: 0, edx: edx >>> 0 };
}
