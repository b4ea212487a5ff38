import {
  type AccessKind,
  a20Port,
  type ControlRegisters,
  CpuState,
  explicitPrivilegeOf,
  linearPageNumberOf,
  loadPdptes,
  PagingMode,
  PhysicalMemory,
  type Privilege,
  TWO_32,
  TWO_MINUS_32,
  WalkStatus,
} from '@hvsim/cpu-core';
import { NativeMmu, TranslateStatus } from '@hvsim/mmu-nested';
import { buildCaches, type CpuCacheConfig } from '@hvsim/tlb-tagged';
import { type CostModel, checkCosts, defaultCosts } from './cost-model.js';
import type { GuestAccess, GuestCpu } from './guest-cpu.js';
import { MachineStats } from './stats.js';

/** Options of a native machine. */
export interface NativeMachineOptions {
  /** CPUs (default 1). */
  readonly cpus?: number;
  /** MAXPHYADDR (default 48). */
  readonly maxPhysicalAddressBits?: number;
  /** The translation structures of each CPU (the nested TLB, if given, is unused: there is one stage). */
  readonly caches?: CpuCacheConfig;
  /** Cycle costs (default `defaultCosts`; only TLB hits and walk references apply natively). */
  readonly costs?: Partial<CostModel>;
}

/**
 * The baseline every virtualized configuration is compared with: the guest's operating system on
 * bare metal. Its physical memory is the machine's; each CPU translates with a one-stage walk
 * through its own TLB and walk cache. Counted in the same `MachineStats` as a hypervisor run, so
 * reports line up (no world switches or exits here).
 */
export class NativeMachine {
  readonly memory: PhysicalMemory;
  readonly cpus: readonly NativeCpu[];
  /** The counters, charging by `costs`. */
  readonly stats: MachineStats;
  readonly costs: CostModel;

  constructor(options: NativeMachineOptions = {}) {
    this.memory = new PhysicalMemory({ maxPhysicalAddressBits: options.maxPhysicalAddressBits ?? 48 });
    this.costs = checkCosts({ ...defaultCosts, ...options.costs });
    this.stats = new MachineStats(this.costs);
    const count = options.cpus ?? 1;
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError(`cpus must be a positive integer, got ${count}`);
    const cpus: NativeCpu[] = [];
    for (let i = 0; i < count; i++) cpus.push(new NativeCpu(this, i, options.caches));
    this.cpus = cpus;
  }
}

/** One CPU of a `NativeMachine`: the `GuestCpu` seam with nothing beneath the guest's own tables. */
export class NativeCpu implements GuestCpu {
  readonly machine: NativeMachine;
  readonly index: number;
  readonly state = new CpuState();
  readonly mmu: NativeMmu;

  constructor(machine: NativeMachine, index: number, caches: CpuCacheConfig | undefined) {
    this.machine = machine;
    this.index = index;
    const built = buildCaches(caches);
    this.mmu = new NativeMmu(machine.memory, this.state, {
      ...(built.tlb === null ? {} : { tlb: built.tlb }),
      ...(built.walkCache === null ? {} : { walkCache: built.walkCache }),
    });
  }

  access(
    linear: number,
    access: AccessKind,
    out: GuestAccess,
    privilege?: Privilege,
    linearHi?: number,
  ): TranslateStatus {
    const stats = this.machine.stats;
    const t = out.translation;
    const hi = linearHi ?? Math.floor(linear * TWO_MINUS_32);
    const lo = linearHi === undefined ? linear - hi * TWO_32 : linear;
    out.exit = null;
    out.resolvedExits = 0;
    stats.accesses++;
    const status = this.mmu.translate(lo, hi, access, privilege ?? explicitPrivilegeOf(this.state), t);
    // A TLB hit always completes (TranslateStatus.Ok); the rest is out of line.
    if (t.tlbHit) {
      stats.countTlbHit(t.tlbLevel);
      out.status = TranslateStatus.Ok;
      return TranslateStatus.Ok;
    }
    return this.finishWalk(status, out);
  }

  /** Counts and completes an access that walked. */
  private finishWalk(status: TranslateStatus, out: GuestAccess): TranslateStatus {
    const t = out.translation;
    this.machine.stats.countTranslation(t);
    if (status === TranslateStatus.PageFault) {
      const stats = this.machine.stats;
      stats.guestPageFaults++;
      // The CPU loads CR2 with the faulting linear address on a #PF (SDM vol. 3A §4.7).
      this.state.cr2Lo = t.faultLo;
      this.state.cr2Hi = t.faultHi;
    }
    out.status = status;
    return status;
  }

  readPhysical(gpa: number): number {
    return this.machine.memory.readWord(gpa);
  }

  writePhysical(gpa: number, value: number): void {
    this.machine.memory.writeWord(gpa, value);
  }

  /** See `GuestCpu.readPhysicalPage`. */
  readPhysicalPage(gpa: number, into: Uint32Array): void {
    this.machine.memory.readFrame(gpa, into);
  }

  /** MOV to CR3: flushes the current PCID's non-global translations unless CR4.PCIDE=1 and `noFlush` (bit 63) (SDM vol. 3A §4.10.4.1). */
  writeCr3(value: number, noFlush = false): TranslateStatus {
    const state = this.state;
    const caches = this.mmu.caches;
    const old = state.cr3;
    state.cr3 = value;
    state.refresh();
    if (state.mode === PagingMode.Pae && !this.loadPdptes()) {
      state.cr3 = old;
      state.refresh();
      return TranslateStatus.GeneralProtection;
    }
    if (caches !== null) {
      if (!(noFlush && state.pcide)) caches.invalidatePcid(state.pcid);
      caches.setContext(0, state.pcid);
    }
    return TranslateStatus.Ok;
  }

  /**
   * Loads control registers together. A change of CR0.PG, CR0.WP, CR4.PAE, CR4.PGE, CR4.PSE, CR4.SMEP,
   * CR4.PCIDE or EFER.NXE invalidates the TLB and paging-structure caches (SDM vol. 3A §4.10.4.1;
   * flushing everything is what a CPU may do for each of them).
   */
  setControlRegisters(regs: ControlRegisters): TranslateStatus {
    const state = this.state;
    const before = { cr0: state.cr0, cr3: state.cr3, cr4: state.cr4, efer: state.efer, rflags: state.rflags };
    state.setControlRegisters(regs);
    if (state.mode === PagingMode.Pae && !this.loadPdptes()) {
      state.setControlRegisters(before);
      return TranslateStatus.GeneralProtection;
    }
    const caches = this.mmu.caches;
    if (caches !== null) {
      caches.tlb?.flushAll();
      caches.walkCache?.flushAll();
      caches.setContext(0, state.pcid);
    }
    return TranslateStatus.Ok;
  }

  /** INVLPG: the page's translations in the current PCID and global ones, and the current PCID's walk-cache entries (SDM vol. 3A §4.10.4.1). */
  invlpg(linear: number, linearHi?: number): void {
    const caches = this.mmu.caches;
    if (caches === null) return;
    caches.invalidatePage(linearPageNumberOf(linear, linearHi, this.state));
  }

  /** INVLPG here and an IPI to every other CPU, which invalidates the page there. */
  shootdown(linear: number, linearHi?: number): void {
    const machine = this.machine;
    machine.stats.shootdowns++;
    for (const cpu of machine.cpus) {
      if (cpu !== this) {
        machine.stats.countIpi();
      }
      cpu.invlpg(linear, linearHi);
    }
  }

  /** Loads the PAE PDPTE registers; false when a present one has a reserved bit set (#GP, SDM vol. 3A §4.4.1). */
  private loadPdptes(): boolean {
    // PDPTE reads are memory reads: bit 20 is masked with the A20 gate off (SDM vol. 3A §20.1.1).
    const port = this.state.a20Enabled ? undefined : a20Port;
    return loadPdptes(this.machine.memory, this.state, port) === WalkStatus.Ok;
  }
}
