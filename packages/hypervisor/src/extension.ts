import type { CpuState, PhysicalMemory } from '@hvsim/cpu-core';
import type { NestedFault, NestedStage } from '@hvsim/mmu-nested';
import type { ExitReport } from '@hvsim/platform';
import type { CpuTranslationCaches } from '@hvsim/tlb-tagged';

/** What the extension is handed: one physical CPU's translation structures; and the exit it reports. */
export type { CpuTranslationCaches, ExitReport };

/** Page sizes the hypervisor can back guest-physical memory with. */
export type BackingPageSize = 0x1000 | 0x20_0000 | 0x4000_0000;

/**
 * A VM's nested tables (AMD NPT or Intel EPT) in host memory, built by the hypervisor. Guest-physical
 * pages are mapped to host-physical ones readable, writable and executable.
 */
export interface NestedTables {
  /** What the CPU is given: AMD nCR3, Intel EPTP. */
  readonly pointer: bigint;
  /** The root table's host-physical address (Intel's EP4TA; AMD's nCR3 address bits). */
  readonly root: number;
  /** Maps guest-physical `gpa` to host-physical `hpa` with a page of `size` (both aligned). */
  map(gpa: number, hpa: number, size: BackingPageSize): void;
  /** Removes the mapping of the page of `size` at `gpa`; returns whether one was present. */
  unmap(gpa: number, size: BackingPageSize): boolean;
}

/** What a world switch into a guest must do to the TLBs, as the hypervisor decides it. */
export const EntryFlush = {
  /** Nothing: tagged translations of this guest survive. */
  None: 0,
  /** Flush this guest's translations (AMD TLB_CONTROL 3; Intel INVVPID single-context + INVEPT single-context). */
  Guest: 1,
  /** Flush everything (AMD TLB_CONTROL 1; Intel INVVPID all-context + INVEPT all-context). */
  All: 2,
} as const;
export type EntryFlush = (typeof EntryFlush)[keyof typeof EntryFlush];

/**
 * What happened in the guest, vendor-neutral: the hypervisor asks the extension to describe it with
 * the vendor's exit code and information (`VirtualizationExtension.describeExit`).
 */
export type ExitEvent =
  /** A second-stage fault (AMD #VMEXIT(NPF); Intel EPT violation or misconfiguration). */
  | { readonly kind: 'nested-fault'; readonly fault: NestedFault }
  /**
   * An intercepted exception: `vector` (14 for #PF), its error code, and for #PF the faulting linear
   * address (bits 31:0 in `addressLo`, 63:32 in `addressHi`).
   */
  | {
      readonly kind: 'exception';
      readonly vector: number;
      readonly errorCode: number;
      readonly addressLo: number;
      readonly addressHi: number;
    }
  /** An intercepted MOV to CR`cr` from general-purpose register `gpr` (0 = rAX … 15 = r15). */
  | { readonly kind: 'cr-write'; readonly cr: number; readonly gpr: number }
  /** An intercepted INVLPG of a linear address (bits 31:0 in `linearLo`, 63:32 in `linearHi`). */
  | { readonly kind: 'invlpg'; readonly linearLo: number; readonly linearHi: number }
  /** A hypercall: AMD VMMCALL, Intel VMCALL. */
  | { readonly kind: 'hypercall' };

/**
 * The extension interface the hypervisor depends on; `@hvsim/vendor-amd` (SVM) and
 * `@hvsim/vendor-intel` (VMX) implement it. The hypervisor never imports a vendor package.
 */
export interface VirtualizationExtension {
  readonly vendor: string;
  /** Whether translations are tagged with address-space ids (ASIDs/VPIDs). Without tags every world switch flushes. */
  readonly tagged: boolean;
  /** Ids a physical CPU can hand to guests (AMD: number of ASIDs − 1, ASID 0 is the host's; Intel: 65535 VPIDs). */
  readonly idsPerCpu: number;
  /** Creates a VM's nested tables in host memory, taking table frames from `allocate`. */
  createNestedTables(memory: PhysicalMemory, allocate: () => number): NestedTables;
  /** The second stage a vCPU of the VM translates through. */
  createStage(memory: PhysicalMemory, tables: NestedTables): NestedStage;
  /**
   * The context handle under which a guest's combined translations are cached: the guest's id and,
   * where the vendor tags by it (Intel EP4TA), the nested root. `tables` is null under shadow paging:
   * the CPU then translates linear to host-physical with EPT off, tagged by VPID and PCID alone (SDM
   * vol. 3C §29.4.1: linear mappings are created when EPT is not in use).
   */
  guestContext(caches: CpuTranslationCaches, id: number, pcid: number, tables: NestedTables | null): number;
  /**
   * The context handle of the guest's guest-physical translations (nested TLB): AMD tags them by
   * ASID (APM vol. 2 §15.25.1), Intel by EP4TA (SDM vol. 3C §29.4.1).
   */
  nestedContext(caches: CpuTranslationCaches, id: number, tables: NestedTables): number;
  /**
   * The world switch into a guest (VMRUN / VM entry) with the flush the hypervisor asks for; `tables`
   * is null when the VM has none (shadow paging).
   */
  enterGuest(caches: CpuTranslationCaches, id: number, tables: NestedTables | null, flush: EntryFlush): void;
  /** The world switch back to the host (#VMEXIT / VM exit). */
  exitGuest(caches: CpuTranslationCaches, id: number): void;
  /**
   * Invalidates cached guest-physical translations of `tables` after the hypervisor changed them
   * (Intel INVEPT single-context). Returns false where the vendor has no such operation and the next
   * entry must flush the guest instead (AMD: INVLPGA takes guest-virtual addresses only, APM vol. 2
   * §15.16.2).
   */
  invalidateNested(caches: CpuTranslationCaches, tables: NestedTables): boolean;
  /**
   * Invalidates one guest-linear page of guest `id` (INVLPGA / INVVPID individual-address); a BigInt
   * carries a full 64-bit address.
   */
  invalidatePage(caches: CpuTranslationCaches, id: number, linear: number | bigint): void;
  /** The exit a second-stage fault causes. */
  exitOf(fault: NestedFault): ExitReport;
  /**
   * Why VM entry with the guest in `state` would fail, or null (optional; none: every state enters).
   * `paging` is the VM's paging backend's kind ('nested', 'shadow', or a backend's own name).
   * Intel without "unrestricted guest" needs CR0.PE=1 and CR0.PG=1 (SDM vol. 3C §27.3.1.1; §26.3.1.1 in the 2016 edition).
   */
  guestStateProblem?(state: CpuState, paging: string): string | null;
  /** The exit an event causes, with the vendor's exit code and information (AMD APM vol. 2 Appendix C; Intel SDM vol. 3C Appendix C). */
  describeExit(event: ExitEvent): ExitReport;
}
