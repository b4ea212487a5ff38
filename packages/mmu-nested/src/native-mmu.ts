import {
  type AccessKind,
  type CpuState,
  identityPort,
  PageWalker,
  type PhysicalMemory,
  type Privilege,
  WalkStatus,
  type WalkTrace,
} from '@hvsim/cpu-core';
import type { MmuStrategy } from './mmu-strategy.js';
import { TranslateStatus, type Translation } from './translation.js';
import { type MmuCaches, TranslationCaches } from './translation-caches.js';

/** One-stage translation: the CPU's own page walk (what a host, or a guest without virtualization, does). */
export class NativeMmu implements MmuStrategy {
  readonly name = 'native';
  readonly walker: PageWalker;
  /** The TLB and walk cache in front of the walk, or null when every access walks. */
  readonly caches: TranslationCaches | null;

  constructor(memory: PhysicalMemory, state: CpuState, caches?: MmuCaches) {
    this.walker = new PageWalker(memory, state, { port: identityPort });
    this.caches = caches === undefined ? null : new TranslationCaches(caches);
  }

  get trace(): WalkTrace | null {
    return this.walker.trace;
  }
  set trace(trace: WalkTrace | null) {
    this.walker.trace = trace;
  }

  translate(
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    out: Translation,
  ): TranslateStatus {
    const guest = out.guest;
    const caches = this.caches;
    out.tlbHit = false;
    if (caches === null) {
      const status = this.walker.walk(lo, hi, access, privilege, guest);
      out.references = guest.references;
      return finishOneStage(status, out);
    }
    const state = this.walker.state;
    const hit = caches.lookup(lo, hi, access, privilege, state);
    if (hit >= 0) return tlbHit(out, hit, hit, caches);
    const status = caches.walk(this.walker, lo, hi, access, privilege, guest, this.walker.trace);
    out.references = guest.references;
    finishOneStage(status, out);
    if (status === WalkStatus.Ok) {
      caches.fill(
        lo,
        hi,
        access,
        state,
        guest,
        this.walker.pdptesOnDemand,
        out.hostPhysical,
        out.pageShift,
        out.perms,
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
  const tlb = caches.tlb!;
  out.tlbHit = true;
  out.tlbLevel = tlb.hitLevel ?? 0;
  out.references = 0;
  out.guestPhysical = guestPhysical;
  out.hostPhysical = hostPhysical;
  out.perms = tlb.hitPerms;
  out.pageShift = Math.log2(tlb.hitPageSize);
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
