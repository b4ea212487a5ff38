import {
  type AccessKind,
  a20Masked,
  a20Port,
  type CpuState,
  identityPort,
  PageWalker,
  type PhysicalMemory,
  type Privilege,
  WalkStatus,
  type WalkTrace,
} from '@hvsim/cpu-core';
import { HitWord, type TlbOrganization } from '@hvsim/tlb-tagged';
import type { MmuStrategy } from './mmu-strategy.js';
import { TranslateStatus, type Translation } from './translation.js';
import { type MmuCaches, TranslationCaches } from './translation-caches.js';

/** One-stage translation: the CPU's own page walk (what a host, or a guest without virtualization, does). */
export class NativeMmu implements MmuStrategy {
  readonly name = 'native';
  readonly walker: PageWalker;
  /** The TLB and walk cache in front of the walk, or null when every access walks. */
  readonly caches: TranslationCaches | null;

  /** Where the physical address the walk reaches is not the guest-physical one (shadow tables): how to recover it; null on bare metal. */
  private readonly guestOf: ((hostPhysical: number) => number) | null;
  /** The walker that reads the tables with the A20 gate off (made on first use). */
  private a20Walker: PageWalker | null = null;

  /**
   * `guestPhysicalOf`: for a walk of tables that map to host-physical memory on a guest's behalf
   * (shadow paging), the guest-physical address behind a host-physical one, asked once per walk and
   * kept with the TLB entry, so a hit reports it without asking.
   */
  constructor(
    memory: PhysicalMemory,
    state: CpuState,
    caches?: MmuCaches,
    guestPhysicalOf?: (hostPhysical: number) => number,
  ) {
    this.walker = new PageWalker(memory, state, { port: identityPort });
    this.caches = caches === undefined ? null : new TranslationCaches(caches);
    this.guestOf = guestPhysicalOf ?? null;
  }

  get trace(): WalkTrace | null {
    return this.walker.trace;
  }
  set trace(trace: WalkTrace | null) {
    this.walker.trace = trace;
    if (this.a20Walker !== null) this.a20Walker.trace = trace;
  }

  translate(
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    out: Translation,
  ): TranslateStatus {
    // The hit fast path is all this function does; everything else is `translateSlow`, out of line,
    // so the hit inlines into its caller (V8 inlines small functions only).
    const caches = this.caches;
    const state = this.walker.state;
    if (!state.a20Enabled) return this.translateA20(lo, hi, access, privilege, out);
    if (caches?.probe(lo, hi, access, privilege, state, out)) return TranslateStatus.Ok;
    return this.translateSlow(lo, hi, access, privilege, out, this.walker);
  }

  /**
   * With the A20 gate off: the translation as with it on, page-table reads and the result with
   * physical bit 20 cleared (`a20Masked`; SDM vol. 3A §20.1.1). The TLB keeps the translation the
   * walk made; the mask applies to each access after it, hit or walk.
   */
  private translateA20(
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    out: Translation,
  ): TranslateStatus {
    if (this.a20Walker === null) {
      this.a20Walker = new PageWalker(this.walker.memory, this.walker.state, { port: a20Port });
      this.a20Walker.trace = this.walker.trace;
    }
    const status = this.caches?.probe(lo, hi, access, privilege, this.walker.state, out)
      ? TranslateStatus.Ok
      : this.translateSlow(lo, hi, access, privilege, out, this.a20Walker);
    if (status === TranslateStatus.Ok) {
      out.hostPhysical = a20Masked(out.hostPhysical);
      if (this.guestOf === null) out.guestPhysical = out.hostPhysical;
    }
    return status;
  }

  /** Everything but a first-level 4 KiB TLB hit: the rest of the TLB, the walk, the fills. */
  private translateSlow(
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    out: Translation,
    walker: PageWalker,
  ): TranslateStatus {
    const guest = out.guest;
    const caches = this.caches;
    out.tlbHit = false;
    const guestOf = this.guestOf;
    if (caches === null) {
      const status = walker.walk(lo, hi, access, privilege, guest);
      out.references = guest.references;
      finishOneStage(status, out);
      if (status === WalkStatus.Ok && guestOf !== null) out.guestPhysical = guestOf(out.hostPhysical);
      return out.status;
    }
    const state = walker.state;
    const hit = caches.lookup(lo, hi, access, privilege, state);
    if (hit >= 0)
      return tlbHit(
        out,
        guestOf === null ? hit : (caches.tlb as TlbOrganization).hitGuestPhysical(hit),
        hit,
        caches,
      );
    const status = caches.walk(walker, lo, hi, access, privilege, guest, walker.trace);
    out.references = guest.references;
    finishOneStage(status, out);
    // A #PF invalidates what the caches hold for the address (SDM vol. 3A §4.10.4.1).
    if (status === WalkStatus.PageFault) caches.pageFault(lo, hi, state, guest);
    if (status === WalkStatus.Ok) {
      if (guestOf !== null) out.guestPhysical = guestOf(out.hostPhysical);
      caches.fill(
        lo,
        hi,
        access,
        state,
        guest,
        walker.pdptesOnDemand,
        out.hostPhysical,
        out.pageShift,
        out.perms,
        out.guestPhysical,
      );
    }
    return out.status;
  }
}

/** Completes a translation served by the TLB: no memory reference, the cached perms and size. */
export function tlbHit(
  out: Translation,
  guestPhysical: number,
  hostPhysical: number,
  caches: TranslationCaches,
): TranslateStatus {
  // One call for perms, page size and level (`TlbOrganization.hitWord`), not a getter each.
  const word = (caches.tlb as TlbOrganization).hitWord();
  out.tlbHit = true;
  out.tlbLevel = word >>> HitWord.LEVEL_AT;
  out.references = 0;
  out.guestPhysical = guestPhysical;
  out.hostPhysical = hostPhysical;
  out.perms = word & HitWord.PERMS;
  out.pageShift = (word >>> HitWord.SHIFT_AT) & 0x3f;
  out.status = TranslateStatus.Ok;
  return TranslateStatus.Ok;
}

/** Copies a one-stage walk's outcome into the translation. */
export function finishOneStage(status: WalkStatus, out: Translation): TranslateStatus {
  const guest = out.guest;
  if (status === WalkStatus.Ok) {
    out.guestPhysical = guest.physical;
    out.hostPhysical = guest.physical;
    out.pageShift = guest.pageShift;
    out.perms = guest.perms;
    out.status = TranslateStatus.Ok;
  } else if (status === WalkStatus.PageFault) {
    out.errorCode = guest.errorCode;
    out.faultLo = guest.faultLo;
    out.faultHi = guest.faultHi;
    out.status = TranslateStatus.PageFault;
  } else {
    out.errorCode = 0;
    out.status = TranslateStatus.GeneralProtection;
  }
  return out.status;
}
