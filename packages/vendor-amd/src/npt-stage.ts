import {
  AccessKind,
  CpuState,
  Cr0,
  Cr4,
  controlRegisterProblem,
  PageWalker,
  Perm,
  type PhysicalMemory,
  Privilege,
  Stage,
  TWO_32,
  WalkResult,
  WalkStatus,
  type WalkTrace,
} from '@hvsim/cpu-core';
import {
  NestedAccess,
  NestedFault,
  NestedFaultKind,
  type NestedStage,
  TranslationCaches,
} from '@hvsim/mmu-nested';
import type { PagingStructureCache } from '@hvsim/tlb-tagged';

/** The #VMEXIT code of a nested page fault (AMD APM vol. 2 Appendix C; §15.25.6). */
export const VMEXIT_NPF = 0x400;

/** EXITINFO1 bits of #VMEXIT(NPF) above the #PF error code (AMD APM vol. 2 §15.25.6). */
export const NpfExitInfo = {
  /** Bit 32: the fault hit the translation of the guest's final physical address. */
  FINAL_HI: 1 << 0,
  /** Bit 33: the fault hit a guest page-table access. */
  GUEST_TABLE_HI: 1 << 1,
} as const;

/** The hypervisor's own paging registers at VMRUN, which decide the nested paging mode. */
export interface HostPagingState {
  readonly cr0: number | bigint;
  readonly cr4: number | bigint;
  readonly efer: number | bigint;
}

/** Default host state: 4-level long mode with NXE set (spec/scenario.md). */
export const DEFAULT_HOST_PAGING: HostPagingState = { cr0: 0x8000_0011, cr4: 0x20, efer: 0xd00 };

/** Options of an NPT stage. */
export interface NptStageOptions {
  /** The nested CR3 (VMCB N_CR3). */
  readonly nestedCr3: number | bigint;
  /** The host's CR0, CR4 and EFER when it executed VMRUN (default DEFAULT_HOST_PAGING). */
  readonly host?: HostPagingState;
  /** Whether 1 GiB pages are supported in the nested tables (default true). */
  readonly gigabytePages?: boolean;
  /**
   * A walk cache for the nested dimension (Bhargava et al., ASPLOS 2008: the page walk cache
   * extended to nested entries), keyed by guest-physical page numbers under `nestedContext`.
   */
  readonly walkCache?: PagingStructureCache;
  /** The context handle the walk cache uses (default: `walkCache.tags.nestedContext(0)`). */
  readonly nestedContext?: number;
}

/**
 * AMD nested paging as a second stage (AMD APM vol. 2 §15.25). The nested tables have exactly the
 * host's paging-structure format in the paging mode the host used at VMRUN (§15.25.3: "the same
 * paging mode as the VMM used when it executed the most recent VMRUN"), so the stage is cpu-core's
 * one-dimensional walker run on the host's registers with nCR3 as its root:
 * - every nested access is a user access (§15.25.5: "always treated as a user access at the nested
 *   page table level"), so host CR0.WP, SMEP and SMAP never deny one (§15.25.7: hCR0.WP is ignored);
 * - guest page-table accesses are data writes (§15.25.5), so the nested leaf of a guest table page
 *   gets A and D, and a read-only nested mapping of a guest table faults on any guest access;
 * - the final access keeps its kind (read, write or code read);
 * - host EFER.NXE=0 makes NX a reserved bit of nested entries and everything executable;
 * - with a PAE host the nested PDPTEs are read on every walk; with a 32-bit host the nested tables
 *   are 2-level, with 4 MiB pages only under host CR4.PSE.
 * A fault is #VMEXIT(NPF): EXITINFO1 is the #PF error code of the nested walk (P, RW, US, RSV, ID,
 * where ID follows host NXE and SMEP as for any #PF) with bit 32 (final address) or bit 33 (guest
 * table) set, EXITINFO2 the faulting guest-physical address (§15.25.6).
 * Guest PAE PDPTEs are not loaded at CR3 write but read during each walk (§15.25.10).
 */
export class NptStage implements NestedStage {
  readonly guestPdptesOnDemand = true;
  readonly tableUpdateChecksWrite = false;
  readonly fault = new NestedFault();
  pageShift = 12;
  perms = 0;
  references = 0;
  /** The host's paging state the nested walker runs on. */
  readonly hostState: CpuState;
  private readonly walker: PageWalker;
  private readonly caches: TranslationCaches | null;
  private readonly result = new WalkResult();
  private lastHostPhysical = -1;
  private traceRef: WalkTrace | null = null;

  constructor(memory: PhysicalMemory, options: NptStageOptions) {
    const host = options.host ?? DEFAULT_HOST_PAGING;
    const state = new CpuState();
    // Protection keys do not apply to the nested format (they are not part of the host paging mode
    // captured at VMRUN; a user access to a user page would otherwise consult PKRU).
    const cr4 = BigInt(host.cr4) & ~BigInt(Cr4.PKE);
    state.setControlRegisters({ cr0: host.cr0, cr3: options.nestedCr3, cr4, efer: host.efer });
    if ((state.cr0 & Cr0.PG) === 0) {
      // VMRUN with NP_ENABLE=1 and host CR0.PG=0 is VMEXIT_INVALID (APM vol. 2 §15.25.3).
      throw new RangeError(
        'nested paging needs host paging: host CR0.PG is 0 (VMRUN would fail with VMEXIT_INVALID)',
      );
    }
    const problem = controlRegisterProblem(state.cr0, state.cr4, state.efer, false);
    if (problem !== null) throw new RangeError(`host paging state: ${problem}`);
    this.hostState = state;
    this.walker = new PageWalker(memory, state, {
      stage: Stage.Nested,
      canonicalCheck: false,
      gigabytePages: options.gigabytePages ?? true,
    });
    this.walker.pdptesOnDemand = true;
    const walkCache = options.walkCache;
    if (walkCache === undefined) {
      this.caches = null;
    } else {
      this.caches = new TranslationCaches({ walkCache }, false, Stage.Nested);
      this.caches.nestedContext = options.nestedContext ?? walkCache.tags.nestedContext(0);
      this.caches.context = this.caches.nestedContext;
    }
  }

  get trace(): WalkTrace | null {
    return this.traceRef;
  }
  set trace(trace: WalkTrace | null) {
    this.traceRef = trace;
    this.walker.trace = trace;
  }

  begin(_linearLo: number, _linearHi: number): void {
    this.lastHostPhysical = -1;
  }

  translate(guestPhysical: number, why: NestedAccess, access: AccessKind, _guestPerms: number): number {
    const hi = Math.floor(guestPhysical / TWO_32);
    const lo = guestPhysical - hi * TWO_32;
    // Guest page-table walks are data writes at the nested level, even for a code read (§15.25.5).
    const kind = why === NestedAccess.Final ? access : AccessKind.Write;
    const result = this.result;
    const caches = this.caches;
    const status =
      caches === null
        ? this.walker.walk(lo, hi, kind, Privilege.User, result)
        : caches.walk(this.walker, lo, hi, kind, Privilege.User, result, this.traceRef);
    this.references = result.references;
    if (status === WalkStatus.Ok) {
      if (caches !== null) {
        caches.fill(
          lo,
          hi,
          kind,
          this.hostState,
          result,
          true,
          result.physical,
          result.pageShift,
          result.perms,
        );
      }
      this.pageShift = result.pageShift;
      this.perms = result.perms & (Perm.Write | Perm.Execute | Perm.Dirty);
      this.lastHostPhysical = result.physical;
      return result.physical;
    }
    const fault = this.fault;
    fault.kind = NestedFaultKind.NestedPageFault;
    fault.infoLo = result.errorCode;
    fault.infoHi = why === NestedAccess.Final ? NpfExitInfo.FINAL_HI : NpfExitInfo.GUEST_TABLE_HI;
    fault.guestPhysical = guestPhysical;
    fault.linearValid = false;
    fault.level = result.level;
    fault.access = why;
    return -1;
  }

  translateForUpdate(_guestPhysical: number): number {
    // The nested walk of a guest table entry was already a write (§15.25.5): nothing more to check.
    return this.lastHostPhysical;
  }
}
