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

/** One-stage translation: the CPU's own page walk (what a host, or a guest without virtualization, does). */
export class NativeMmu implements MmuStrategy {
  readonly name = 'native';
  readonly walker: PageWalker;

  constructor(memory: PhysicalMemory, state: CpuState) {
    this.walker = new PageWalker(memory, state, { port: identityPort });
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
    out.tlbHit = false;
    const status = this.walker.walk(lo, hi, access, privilege, guest);
    out.references = guest.references;
    return finishOneStage(status, out);
  }
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
