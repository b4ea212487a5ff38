import { type AccessKind, CpuState, PagingMode, type Privilege, privilegeOfCpl } from '@hvsim/cpu-core';
import { NestedMmu, type NestedStage, TranslateStatus, Translation } from '@hvsim/mmu-nested';
import { EntryFlush, type ExitReport } from './extension.js';
import type { PhysicalCpu } from './host-machine.js';
import type { VirtualMachine } from './virtual-machine.js';

const TWO_32 = 4294967296;

/** The outcome of a guest access, written into a caller-owned object. */
export class GuestAccess {
  /** Ok, PageFault / GeneralProtection (delivered to the guest), or NestedFault (an exit the hypervisor could not resolve). */
  status: TranslateStatus = TranslateStatus.Ok;
  /** The translation of the last attempt (host-physical address, #PF error code, nested fault). */
  readonly translation = new Translation();
  /** The exit the access ended on, when status is NestedFault. */
  exit: ExitReport | null = null;
  /** Exits taken on the way (nested faults the hypervisor resolved by backing the page). */
  resolvedExits = 0;
}

interface IdAssignment {
  readonly id: number;
  readonly generation: number;
}

/**
 * A virtual CPU: the guest's architectural state, scheduled on physical CPUs. Each world switch does
 * to the TLBs what the vendor defines (through the extension); a guest access translates through the
 * CPU's caches and the two-dimensional walk, and a nested fault on memory the VM owns exits to the
 * hypervisor, which backs the page and resumes the guest.
 */
export class VirtualCpu {
  readonly vm: VirtualMachine;
  readonly index: number;
  /** The guest's registers (start: real mode, paging off). */
  readonly state = new CpuState();
  /** The physical CPU it runs on in guest mode, or null. */
  cpu: PhysicalCpu | null = null;
  private readonly stage: NestedStage;
  private readonly ids = new Map<number, IdAssignment>();
  private readonly pending = new Map<number, EntryFlush>();
  private readonly mmus = new Map<number, NestedMmu>();
  private lastCpu = -1;
  private currentId = 0;

  constructor(vm: VirtualMachine, index: number) {
    this.vm = vm;
    this.index = index;
    this.stage = vm.host.extension.createStage(vm.host.memory, vm.tables);
  }

  /** The id (ASID/VPID) the vCPU has on the CPU it runs on (0 when not running). */
  get id(): number {
    return this.cpu === null ? 0 : this.currentId;
  }

  /**
   * Enters guest mode on `cpu` (VMRUN / VM entry). A vCPU arriving on a CPU other than its last one,
   * or whose id's generation is over, gets a new id from that CPU's pool (a rollover flushes every
   * guest translation of the CPU); without tags every entry flushes; pending invalidations of this
   * vCPU on this CPU are done now.
   */
  run(cpu: PhysicalCpu): void {
    const host = this.vm.host;
    if (this.cpu !== null)
      throw new Error(`vCPU ${this.vm.id}.${this.index} is already running on CPU ${this.cpu.index}`);
    if (cpu.current !== null) throw new Error(`CPU ${cpu.index} is running another vCPU`);
    let flush: EntryFlush = EntryFlush.None;
    let id: number;
    if (host.tagging) {
      let assignment = this.ids.get(cpu.index);
      const moved = this.lastCpu >= 0 && this.lastCpu !== cpu.index;
      if (assignment === undefined || moved || !cpu.ids.isCurrent(assignment.generation)) {
        const fresh = cpu.ids.assign();
        if (fresh.rolledOver) {
          flush = EntryFlush.All;
          host.stats.idRollovers++;
        }
        assignment = { id: fresh.id, generation: fresh.generation };
        this.ids.set(cpu.index, assignment);
      }
      id = assignment.id;
    } else {
      // Untagged: every guest shares one id and each world switch flushes (APM vol. 2 §15.16 on
      // legacy hardware: TLB_CONTROL 1 on every VMRUN; Intel without VPID, SDM vol. 3C §29.4.3.1).
      id = 1;
      flush = EntryFlush.All;
    }
    if (this.lastCpu >= 0 && this.lastCpu !== cpu.index) host.stats.migrations++;
    const pending = this.pending.get(cpu.index) ?? EntryFlush.None;
    this.pending.delete(cpu.index);
    if (pending > flush) flush = pending;
    this.enter(cpu, id, flush);
    this.lastCpu = cpu.index;
    this.currentId = id;
    this.mmuFor(cpu).caches?.setContext(id, this.state.pcid);
    this.syncContext(cpu, id);
  }

  /** Leaves guest mode (the vCPU is descheduled: an external-interrupt exit). */
  stop(): void {
    const cpu = this.cpu;
    if (cpu === null) return;
    this.exitToHost(cpu, 'external interrupt');
    cpu.current = null;
    this.cpu = null;
  }

  /** Asks for a flush of this vCPU's translations on CPU `cpuIndex`, now if it runs there (kicking it with an IPI), else at its next entry there. */
  requestFlush(cpuIndex: number, flush: EntryFlush): void {
    const cpu = this.cpu;
    if (cpu !== null && cpu.index === cpuIndex) {
      const host = this.vm.host;
      host.stats.ipis++;
      host.stats.cycles += host.costs.ipi;
      this.exitToHost(cpu, 'IPI kick');
      this.enter(cpu, this.currentId, flush);
      return;
    }
    const current = this.pending.get(cpuIndex) ?? EntryFlush.None;
    if (flush > current) this.pending.set(cpuIndex, flush);
  }

  /**
   * A guest memory access at guest-linear `linear` (a number; `linearHi` for bits 63:32 of a 64-bit
   * address) of kind `access`, at the guest's CPL unless `privilege` says otherwise.
   */
  access(
    linear: number,
    access: AccessKind,
    out: GuestAccess,
    privilege?: Privilege,
    linearHi?: number,
  ): TranslateStatus {
    const cpu = this.cpu;
    if (cpu === null) throw new Error(`vCPU ${this.vm.id}.${this.index} is not running`);
    const host = this.vm.host;
    const stats = host.stats;
    const costs = host.costs;
    const mmu = this.mmuFor(cpu);
    const t = out.translation;
    const hi = linearHi ?? Math.floor(linear / TWO_32);
    const lo = linear - Math.floor(linear / TWO_32) * TWO_32;
    const who = privilege ?? privilegeOfCpl(this.state.effectiveCpl);
    out.exit = null;
    out.resolvedExits = 0;
    stats.accesses++;
    for (;;) {
      const status = mmu.translate(lo, hi, access, who, t);
      if (t.tlbHit) {
        stats.tlbHits++;
        stats.cycles += costs.tlbHit[0] ?? 0;
      } else {
        stats.walks++;
        stats.walkReferences += t.references;
        stats.cycles += t.references * costs.walkReference;
      }
      if (status !== TranslateStatus.NestedFault) {
        if (status === TranslateStatus.PageFault) stats.guestPageFaults++;
        out.status = status;
        return status;
      }
      const report = host.extension.exitOf(t.nestedFault);
      this.exitToHost(cpu, report.name);
      stats.cycles += costs.exitHandling;
      const gpa = t.nestedFault.guestPhysical;
      if (report.missingMapping && this.vm.contains(gpa) && this.vm.hostAddressOf(gpa) < 0) {
        this.vm.populate(gpa);
        stats.cycles += costs.pagePopulate;
        out.resolvedExits++;
        this.enter(cpu, this.currentId, EntryFlush.None);
        continue;
      }
      this.enter(cpu, this.currentId, EntryFlush.None);
      out.exit = report;
      out.status = status;
      return status;
    }
  }

  /**
   * The guest writes CR3 (not intercepted under nested paging): the non-global translations of the
   * current PCID are flushed unless CR4.PCIDE=1 and bit 63 of the value is set (SDM vol. 3A §4.10.4.1).
   */
  writeCr3(value: number, noFlush = false): void {
    const cpu = this.cpu;
    this.state.cr3 = value;
    this.state.refresh();
    if (cpu === null) return;
    const caches = this.mmuFor(cpu).caches;
    if (!(noFlush && this.state.pcide) && caches !== null) {
      caches.tlb?.flushPcid(this.currentId, this.state.pcid, false);
      caches.walkCache?.flushPcid(this.currentId, this.state.pcid, false);
    }
    caches?.setContext(this.currentId, this.state.pcid);
    this.syncContext(cpu, this.currentId);
    if (this.state.mode === PagingMode.Pae) this.mmuFor(cpu).loadGuestPdptes(new Translation());
  }

  /** Invalidates guest-linear page `linear` of this vCPU on every CPU where its id is current (INVLPG, INVLPGA, INVVPID). */
  invalidatePage(linear: number): void {
    const ext = this.vm.host.extension;
    for (const [cpuIndex, assignment] of this.ids) {
      const cpu = this.vm.host.cpus[cpuIndex];
      if (cpu.ids.isCurrent(assignment.generation)) ext.invalidatePage(cpu.caches, assignment.id, linear);
    }
  }

  private enter(cpu: PhysicalCpu, id: number, flush: EntryFlush): void {
    const host = this.vm.host;
    host.extension.enterGuest(cpu.caches, id, this.vm.tables, flush);
    if (flush !== EntryFlush.None) host.stats.entryFlushes++;
    host.stats.entries++;
    host.stats.cycles += host.costs.worldSwitch / 2;
    cpu.current = this;
    this.cpu = cpu;
  }

  private exitToHost(cpu: PhysicalCpu, kind: string): void {
    const host = this.vm.host;
    host.extension.exitGuest(cpu.caches, this.currentId);
    host.stats.countExit(kind);
    host.stats.cycles += host.costs.worldSwitch / 2;
  }

  private syncContext(cpu: PhysicalCpu, id: number): void {
    const mmu = this.mmuFor(cpu);
    if (mmu.caches === null) return;
    const ext = this.vm.host.extension;
    mmu.caches.context = ext.guestContext(cpu.caches, id, this.state.pcid, this.vm.tables);
    mmu.caches.nestedContext = ext.nestedContext(cpu.caches, id, this.vm.tables);
  }

  private mmuFor(cpu: PhysicalCpu): NestedMmu {
    let mmu = this.mmus.get(cpu.index);
    if (mmu === undefined) {
      const c = cpu.caches;
      const caches =
        c.tlb === null && c.walkCache === null && c.nestedTlb === null
          ? undefined
          : {
              ...(c.tlb === null ? {} : { tlb: c.tlb }),
              ...(c.walkCache === null ? {} : { walkCache: c.walkCache }),
              ...(c.nestedTlb === null ? {} : { nestedTlb: c.nestedTlb }),
            };
      mmu = new NestedMmu(this.vm.host.memory, this.state, this.stage, caches);
      this.mmus.set(cpu.index, mmu);
    }
    return mmu;
  }
}
