import {
  AccessKind,
  type CpuState,
  loadPdptes,
  PageWalker,
  PagingMode,
  Perm,
  type PhysicalMemory,
  type Privilege,
  RefFlag,
  Stage,
  type TablePort,
  WalkStatus,
  type WalkTrace,
} from '@hvsim/cpu-core';
import { pageSizeFromShift, type TlbOrganization } from '@hvsim/tlb-tagged';
import type { MmuStrategy } from './mmu-strategy.js';
import { finishOneStage, tlbHit } from './native-mmu.js';
import { NestedAccess, type NestedFault, NestedFaultKind, type NestedStage } from './nested-stage.js';
import { TranslateStatus, type Translation } from './translation.js';
import { type MmuCaches, TranslationCaches } from './translation-caches.js';

/**
 * The port that puts the second stage under the guest walker: every guest paging-structure entry
 * address is a guest-physical address, translated before it is read (AMD APM vol. 2 §15.25.5:
 * "before accessing a guest page table entry, the table walker first translates that entry's guest
 * physical address into a system physical address"; Intel SDM vol. 3C §29.3.2).
 */
class StagePort implements TablePort {
  references = 0;
  why: NestedAccess = NestedAccess.GuestTable;
  readonly stage: NestedStage;
  /** The nested TLB, or null. */
  nestedTlb: TlbOrganization | null = null;
  nestedContext = 0;
  trace: WalkTrace | null = null;
  // The last locate() served by the nested TLB: its host-physical address and cached perms.
  private hitAddress = -1;
  private hitPerms = 0;

  constructor(stage: NestedStage) {
    this.stage = stage;
  }

  locate(address: number): number {
    const tlb = this.nestedTlb;
    this.hitAddress = -1;
    if (tlb !== null && this.why === NestedAccess.GuestTable) {
      const vpn = Math.floor(address / 4096);
      const page = tlb.lookup(this.nestedContext, vpn, AccessKind.Read, 0);
      if (page >= 0) {
        this.hitAddress = page + (address % 4096);
        this.hitPerms = tlb.hitPerms;
        // The nested walk this hit saved, recorded as one cached reference.
        this.trace?.push(Stage.Nested, 0, this.hitAddress, 0, 0, RefFlag.Cached);
        return this.hitAddress;
      }
    }
    const hpa = this.stage.translate(address, this.why, AccessKind.Read, 0);
    this.references += this.stage.references;
    if (hpa >= 0 && tlb !== null && this.why === NestedAccess.GuestTable) {
      // Cached from a guest-table translation that succeeded, so a hit grants exactly that access.
      const shift = Math.min(this.stage.pageShift, 30);
      const size = 2 ** shift;
      tlb.fill(
        this.nestedContext,
        Math.floor(address / 4096),
        AccessKind.Read,
        pageSizeFromShift(shift),
        hpa - (hpa % size),
        this.stage.perms,
      );
    }
    return hpa;
  }

  locateForUpdate(address: number): number {
    if (this.hitAddress < 0) return this.stage.translateForUpdate(address);
    if (!this.stage.tableUpdateChecksWrite || (this.hitPerms & Perm.Write) !== 0) return this.hitAddress;
    // The cached mapping does not show the write allowed: walk for real so the stage decides and
    // reports the fault exactly (Intel SDM vol. 3C §29.3.3.2).
    const hpa = this.stage.translate(address, this.why, AccessKind.Read, 0);
    this.references += this.stage.references;
    return hpa < 0 ? hpa : this.stage.translateForUpdate(address);
  }
}

/**
 * Two-dimensional translation (AMD nested paging, Intel EPT): the guest walk of the guest's own
 * tables, each of whose entry addresses goes through the second stage, then the second-stage
 * translation of the final guest-physical address. Fault order (AMD APM vol. 2 §15.25.6): nested
 * fault on a guest entry's address, then the guest entry's own #PF checks, level by level, then the
 * guest permission check, then the nested translation of the final address. Guest accessed/dirty bits
 * are set before the final nested translation, so they stay set when it faults.
 * With 4-level tables in both stages a miss makes (4+1)(4+1)-1 = 24 memory references.
 */
export class NestedMmu implements MmuStrategy {
  readonly name = 'nested';
  readonly walker: PageWalker;
  readonly stage: NestedStage;
  readonly state: CpuState;
  /**
   * The TLB (combined linear to host-physical translations) and the guest walk cache in front of the
   * two-dimensional walk, or null when every access walks.
   */
  readonly caches: TranslationCaches | null;
  private readonly memory: PhysicalMemory;
  private readonly port: StagePort;

  constructor(memory: PhysicalMemory, guest: CpuState, stage: NestedStage, caches?: MmuCaches) {
    this.caches = caches === undefined ? null : new TranslationCaches(caches, true);
    this.memory = memory;
    this.state = guest;
    this.stage = stage;
    this.port = new StagePort(stage);
    this.port.nestedTlb = this.caches?.nestedTlb ?? null;
    this.walker = new PageWalker(memory, guest, { port: this.port });
    this.walker.pdptesOnDemand = stage.guestPdptesOnDemand;
  }

  get trace(): WalkTrace | null {
    return this.walker.trace;
  }
  set trace(trace: WalkTrace | null) {
    this.walker.trace = trace;
    this.stage.trace = trace;
    this.port.trace = trace;
  }

  /**
   * Loads the guest's PAE PDPTE registers through the second stage, as MOV to CR3 (or VM entry) does
   * when the stage does not read them on demand (Intel EPT, SDM vol. 3C §29.3.2). Returns Ok,
   * GeneralProtection (a reserved PDPTE bit) or NestedFault (`out.nestedFault` says which).
   * Nothing to do outside PAE paging or under AMD NPT (APM vol. 2 §15.25.10).
   */
  loadGuestPdptes(out: Translation): TranslateStatus {
    out.status = TranslateStatus.Ok;
    if (this.state.mode !== PagingMode.Pae || this.stage.guestPdptesOnDemand) return out.status;
    this.stage.begin(0, 0);
    this.port.why = NestedAccess.PdpteLoad;
    const status = loadPdptes(this.memory, this.state, this.port);
    this.port.why = NestedAccess.GuestTable;
    if (status === WalkStatus.PortFault) {
      out.nestedFault.copyFrom(this.stage.fault);
      this.invalidateOnFault(0, 0, out.nestedFault);
      out.status = TranslateStatus.NestedFault;
    } else if (status === WalkStatus.GeneralProtection) {
      out.errorCode = 0;
      out.status = TranslateStatus.GeneralProtection;
    }
    return out.status;
  }

  /**
   * What a second-stage fault invalidates. Intel (SDM vol. 3C §29.4.3.1, "Operations that invalidate
   * cached mappings"): an EPT violation or misconfiguration invalidates the guest-physical mappings
   * that would be used to translate its guest-physical address (the nested TLB's entries for the
   * page and the EPT paging-structure-cache entries, `NestedStage.invalidateGuestPhysical`); an EPT
   * violation of the address that was the translation of the linear address (the final access)
   * also invalidates the combined mappings for that linear address (TLB and guest walk-cache
   * entries). AMD: the APM gives #VMEXIT(NPF) no invalidation (§15.25.6 says what the exit reports,
   * §15.16 how the hypervisor flushes: TLB_CONTROL, INVLPGA), so an NPF leaves every cache as it is;
   * hvsim's hypervisor only fills nested entries that were not present, which nothing had cached.
   */
  private invalidateOnFault(lo: number, hi: number, fault: NestedFault): void {
    const kind = fault.kind;
    if (kind !== NestedFaultKind.EptViolation && kind !== NestedFaultKind.EptMisconfiguration) return;
    this.caches?.flushGuestPhysical(fault.guestPhysical);
    this.stage.invalidateGuestPhysical?.(fault.guestPhysical);
    if (kind === NestedFaultKind.EptViolation && fault.access === NestedAccess.Final)
      this.caches?.flushLinear(lo, hi, this.state);
  }

  translate(
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    out: Translation,
  ): TranslateStatus {
    // The hit fast path is all this function does (see NativeMmu.translate); a combined mapping keeps
    // no guest-physical address (Intel SDM vol. 3C §29.4.1): the simulator's entry keeps the one the
    // filling walk found, for reports.
    const caches = this.caches;
    if (caches?.probe(lo, hi, access, privilege, this.state, out)) return TranslateStatus.Ok;
    return this.translateSlow(lo, hi, access, privilege, out);
  }

  /** Everything but a first-level 4 KiB TLB hit: the rest of the TLB, the two-dimensional walk, the fills. */
  private translateSlow(
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    out: Translation,
  ): TranslateStatus {
    const stage = this.stage;
    const guest = out.guest;
    const caches = this.caches;
    out.tlbHit = false;
    if (caches !== null) {
      // A combined mapping keeps no guest-physical address (Intel SDM vol. 3C §29.4.1); the simulator
      // keeps the one the filling walk found beside the entry, for reports (`hitGuestPhysical`).
      const hit = caches.lookup(lo, hi, access, privilege, this.state);
      if (hit >= 0) return tlbHit(out, (caches.tlb as TlbOrganization).hitGuestPhysical(hit), hit, caches);
    }
    this.port.references = 0;
    if (caches !== null) this.port.nestedContext = caches.nestedContext;
    stage.begin(lo, hi);
    const status =
      caches === null
        ? this.walker.walk(lo, hi, access, privilege, guest)
        : caches.walk(this.walker, lo, hi, access, privilege, guest, this.walker.trace);
    if (status !== WalkStatus.Ok) {
      out.references = guest.references + this.port.references;
      if (status === WalkStatus.PortFault) {
        out.nestedFault.copyFrom(stage.fault);
        this.invalidateOnFault(lo, hi, out.nestedFault);
        out.status = TranslateStatus.NestedFault;
        return out.status;
      }
      // A guest #PF invalidates what the caches hold for the linear address (SDM vol. 3A §4.10.4.1).
      if (status === WalkStatus.PageFault && caches !== null) caches.pageFault(lo, hi, this.state, guest);
      return finishOneStage(status, out);
    }
    const gpa = guest.physical;
    const hpa = stage.translate(gpa, NestedAccess.Final, access, guest.perms);
    out.references = guest.references + this.port.references + stage.references;
    out.guestPhysical = gpa;
    if (hpa < 0) {
      out.nestedFault.copyFrom(stage.fault);
      this.invalidateOnFault(lo, hi, out.nestedFault);
      out.status = TranslateStatus.NestedFault;
      return out.status;
    }
    out.hostPhysical = hpa;
    // The TLB entry matches the smaller of the two pages (AMD APM vol. 2 §15.25.9).
    out.pageShift = Math.min(guest.pageShift, stage.pageShift);
    out.perms = combinePerms(guest.perms, stage.perms);
    out.status = TranslateStatus.Ok;
    if (caches !== null) {
      caches.fill(
        lo,
        hi,
        access,
        this.state,
        guest,
        this.walker.pdptesOnDemand,
        hpa,
        out.pageShift,
        out.perms,
        gpa,
      );
    }
    return out.status;
  }
}

/**
 * Combines guest and nested perms: writable and executable only if both stages allow it (AMD APM
 * vol. 2 §15.25.7-8); user and global from the guest alone (§15.25.8); dirty (no walk needed for a
 * write) only if neither stage still has a dirty bit to set.
 */
export function combinePerms(guest: number, nested: number): number {
  const both = guest & nested & (Perm.Write | Perm.Execute | Perm.Dirty);
  return both | (guest & (Perm.User | Perm.Global));
}
