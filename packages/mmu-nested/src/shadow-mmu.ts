import {
  type AccessKind,
  CpuState,
  Cr0,
  Cr4,
  Efer,
  type PageWalker,
  PagingMode,
  type PhysicalMemory,
  type Privilege,
  type WalkTrace,
} from '@hvsim/cpu-core';
import type { MmuStrategy } from './mmu-strategy.js';
import { NativeMmu } from './native-mmu.js';
import type { TranslateStatus, Translation } from './translation.js';
import type { MmuCaches, TranslationCaches } from './translation-caches.js';

/**
 * Shadow paging's MMU: the CPU walks the hypervisor's shadow tables, which map guest-linear addresses
 * straight to host-physical ones, in the host's 4-level format (5-level when the guest uses LA57), with
 * the TLB and walk cache in front. Nothing of the guest's own tables is read here; a shadow entry that
 * is missing or does not allow the access raises a #PF that the hypervisor intercepts, and it decides
 * from a software walk of the guest's tables whether the fault is hidden (fill the shadow entry) or
 * the guest's own (reflect it). Shadow entries carry the guest's combined permissions at the leaf
 * (upper levels allow everything), so the hardware walk never allows more than the guest's tables.
 *
 * `hardware` is the paging state the CPU really runs with: CR3 = the shadow root, CR0.WP=1 (the
 * hypervisor forces it so that supervisor writes to write-protected shadow entries trap), EFER.NXE=1,
 * and the guest's CR4.PGE/SMEP/SMAP/PKE, RFLAGS.AC and PKRU, which the permission checks read.
 */
export class ShadowMmu implements MmuStrategy {
  readonly name = 'shadow';
  /** The guest's architectural state (its mode decides whether linear bits 63:32 exist). */
  readonly guest: CpuState;
  /** The state the CPU walks the shadow tables with. */
  readonly hardware = new CpuState();
  /** The host-physical address of the loaded shadow root (-1 before `load`). */
  root = -1;
  // The walk itself is a one-stage walk of the shadow tables under the hardware state.
  private readonly native: NativeMmu;

  /**
   * `guestPhysicalOf`: the hypervisor's map from a host-physical address to the guest-physical one it
   * backs, asked after each walk (and kept with the TLB entry); without it the translation's
   * guest-physical address is NaN.
   */
  constructor(
    memory: PhysicalMemory,
    guest: CpuState,
    caches?: MmuCaches,
    guestPhysicalOf?: (hostPhysical: number) => number,
  ) {
    this.guest = guest;
    this.native = new NativeMmu(memory, this.hardware, caches, guestPhysicalOf ?? (() => Number.NaN));
  }

  /** The walker of the shadow tables. */
  get walker(): PageWalker {
    return this.native.walker;
  }

  /** The TLB and walk cache in front of the shadow walk, or null when every access walks. */
  get caches(): TranslationCaches | null {
    return this.native.caches;
  }

  get trace(): WalkTrace | null {
    return this.native.trace;
  }
  set trace(trace: WalkTrace | null) {
    this.native.trace = trace;
  }

  /**
   * Points the CPU at shadow root `root` (host-physical) of 4 or 5 levels and takes the guest's
   * permission controls (call again after the guest changes CR0, CR4 or EFER). With the guest's
   * paging off, none of its paging controls apply (SDM vol. 3A §4.1.1).
   */
  load(root: number, levels: 4 | 5): void {
    const guest = this.guest;
    const paged = guest.mode !== PagingMode.None;
    let cr4 = Cr4.PAE | (levels === 5 ? Cr4.LA57 : 0);
    if (paged) {
      if (guest.pge) cr4 |= Cr4.PGE;
      if (guest.smep) cr4 |= Cr4.SMEP;
      if (guest.smap) cr4 |= Cr4.SMAP;
      if (guest.pke) cr4 |= Cr4.PKE;
    }
    this.hardware.setControlRegisters({
      cr0: Cr0.PE | Cr0.PG | Cr0.WP,
      cr3: root,
      cr4,
      efer: Efer.LME | Efer.NXE,
    });
    this.root = root;
  }

  translate(
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    out: Translation,
  ): TranslateStatus {
    const hardware = this.hardware;
    const guest = this.guest;
    // RFLAGS.AC (SMAP) and PKRU change without an exit: the CPU reads the guest's own.
    hardware.rflags = guest.rflags;
    hardware.pkru = guest.pkru;
    // A guest outside long mode has 32-bit linear addresses: the shadow walk indexes them with bits 63:32 clear.
    // The shadow maps linear to host-physical: the guest-physical address comes from the hypervisor's map.
    return this.native.translate(lo, guest.lma ? hi : 0, access, privilege, out);
  }
}
