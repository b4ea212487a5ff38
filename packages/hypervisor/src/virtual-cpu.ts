import {
  type AccessKind,
  type ControlRegisters,
  CpuState,
  linearPageNumberOf,
  PagingMode,
  type Privilege,
  privilegeOfCpl,
  TWO_32,
} from '@hvsim/cpu-core';
import { NestedMmu, type NestedStage, ShadowMmu, TranslateStatus, Translation } from '@hvsim/mmu-nested';
import type { ExitReport, GuestAccess, GuestCpu } from '@hvsim/platform';
import { tagTableOf } from '@hvsim/tlb-tagged';
import { ExitAction, ExitKind, VmExit } from './exits.js';
import { EntryFlush, type ExitEvent } from './extension.js';
import type { PhysicalCpu } from './host-machine.js';
import { linearOf, type ShadowPaging, type ShadowRoot, ShadowVerdict } from './shadow-paging.js';
import type { VirtualMachine } from './virtual-machine.js';

/** Exits a handler may resume one access through before the access reports the exit (a handler that never resolves it). */
const MAX_RESUMES = 64;

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
export class VirtualCpu implements GuestCpu {
  readonly vm: VirtualMachine;
  readonly index: number;
  /** The guest's registers (start: real mode, paging off). */
  readonly state = new CpuState();
  /** The physical CPU it runs on in guest mode, or null. */
  cpu: PhysicalCpu | null = null;
  /** Shadow paging: the shadow root of the guest address space it runs in (null before one is chosen). */
  shadowRoot: ShadowRoot | null = null;
  /** @internal The report of an exit a handler surfaced during the current access. */
  surfaced: ExitReport | null = null;
  private readonly stage: NestedStage;
  private readonly ids = new Map<number, IdAssignment>();
  private readonly pending = new Map<number, EntryFlush>();
  private readonly mmus = new Map<number, NestedMmu>();
  private readonly shadowMmus = new Map<number, ShadowMmu>();
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
    const shadow = this.vm.shadow;
    if (shadow !== null && this.shadowRoot === null) this.shadowRoot = shadow.rootFor(this);
    // Under shadow paging the id belongs to the guest address space (the shadow root), not the vCPU.
    const owner = shadow !== null && this.shadowRoot !== null ? this.shadowRoot.ids : this.ids;
    const moved = this.lastCpu >= 0 && this.lastCpu !== cpu.index;
    let { id, flush } = this.idOn(cpu, owner, moved && shadow === null);
    if (moved) host.stats.migrations++;
    const pending = this.pending.get(cpu.index) ?? EntryFlush.None;
    this.pending.delete(cpu.index);
    if (pending > flush) flush = pending;
    this.enter(cpu, id, flush);
    this.lastCpu = cpu.index;
    this.currentId = id;
    if (shadow !== null && this.shadowRoot !== null) {
      const mmu = this.shadowMmuFor(cpu);
      mmu.load(this.shadowRoot.root, this.shadowRoot.levels);
    } else {
      this.mmuFor(cpu).caches?.setContext(id, this.state.pcid);
    }
    this.syncContext(cpu, id);
  }

  /**
   * The id `owner` (a vCPU's, or a shadow root's, ids by CPU) has on `cpu`, assigning a new one from
   * the CPU's pool when it has none, its generation is over, or `renew` (a vCPU that moved); a
   * rollover flushes every guest translation of the CPU. Untagged: every guest shares id 1 and each
   * world switch flushes (APM vol. 2 §15.16 on legacy hardware: TLB_CONTROL 1 on every VMRUN; Intel
   * without VPID, SDM vol. 3C §29.4.3.1).
   */
  private idOn(
    cpu: PhysicalCpu,
    owner: Map<number, IdAssignment>,
    renew: boolean,
  ): { id: number; flush: EntryFlush } {
    const host = this.vm.host;
    if (!host.tagging) {
      owner.set(cpu.index, { id: 1, generation: cpu.ids.generation });
      return { id: 1, flush: EntryFlush.All };
    }
    let flush: EntryFlush = EntryFlush.None;
    let assignment = owner.get(cpu.index);
    if (assignment === undefined || renew || !cpu.ids.isCurrent(assignment.generation)) {
      const fresh = cpu.ids.assign();
      if (fresh.rolledOver) {
        flush = EntryFlush.All;
        host.stats.idRollovers++;
      }
      assignment = { id: fresh.id, generation: fresh.generation };
      owner.set(cpu.index, assignment);
    }
    return { id: assignment.id, flush };
  }

  /**
   * @internal Shadow paging, during an exit: makes `root` the vCPU's address space, with the id it has
   * on this CPU, and returns the flush the re-entry needs (none with tags: each root has its own id;
   * everything without).
   */
  switchShadowRoot(root: ShadowRoot): EntryFlush {
    this.shadowRoot = root;
    const cpu = this.cpu;
    if (cpu === null) return EntryFlush.None;
    const { id, flush } = this.idOn(cpu, root.ids, false);
    this.currentId = id;
    this.shadowMmuFor(cpu).load(root.root, root.levels);
    this.syncContext(cpu, id);
    return flush;
  }

  /** Leaves guest mode (the vCPU is descheduled: an external-interrupt exit). */
  stop(): void {
    const cpu = this.cpu;
    if (cpu === null) return;
    this.exitToHost(cpu, ExitKind.ExternalInterrupt);
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
      this.exitToHost(cpu, ExitKind.IpiKick);
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
    const hi = linearHi ?? Math.floor(linear / TWO_32);
    const lo = linear - Math.floor(linear / TWO_32) * TWO_32;
    const who = privilege ?? privilegeOfCpl(this.state.effectiveCpl);
    out.exit = null;
    out.resolvedExits = 0;
    this.vm.host.stats.accesses++;
    const status =
      this.vm.shadow === null
        ? this.accessNested(cpu, lo, hi, access, who, out)
        : this.accessShadow(cpu, lo, hi, access, who, out);
    if (status === TranslateStatus.Ok && out.translation.tlbHit) {
      // A TLB entry keeps no guest-physical address (SDM vol. 3C §29.4.1); the hypervisor's memory map
      // recovers it, so every platform reports the same outcome (`GuestCpu.access`).
      out.translation.guestPhysical = this.vm.host.guestPhysicalOf(out.translation.hostPhysical);
    }
    if (status === TranslateStatus.PageFault) {
      this.vm.host.stats.guestPageFaults++;
      // The #PF delivered to the guest loads CR2 with the faulting linear address (SDM vol. 3A §4.7).
      this.state.cr2Lo = out.translation.faultLo;
      this.state.cr2Hi = out.translation.faultHi;
    }
    out.status = status;
    return status;
  }

  /** Counts a translation's TLB hit or walk. */
  private countTranslation(t: Translation): void {
    const host = this.vm.host;
    host.stats.countTranslation(t, host.costs);
  }

  /** Nested paging: the two-dimensional walk; a nested fault exits, and by default the hypervisor backs the page and resumes. */
  private accessNested(
    cpu: PhysicalCpu,
    lo: number,
    hi: number,
    access: AccessKind,
    who: Privilege,
    out: GuestAccess,
  ): TranslateStatus {
    const host = this.vm.host;
    const mmu = this.mmuFor(cpu);
    const t = out.translation;
    for (let resumed = 0; ; resumed++) {
      const status = mmu.translate(lo, hi, access, who, t);
      this.countTranslation(t);
      if (status !== TranslateStatus.NestedFault) return status;
      const report = host.extension.exitOf(t.nestedFault);
      const exit = this.dispatchExit(report.name, report);
      if (exit.action === ExitAction.Resume && resumed < MAX_RESUMES) {
        out.resolvedExits++;
        this.resume();
        continue;
      }
      const gpa = t.nestedFault.guestPhysical;
      if (
        exit.action === ExitAction.Default &&
        report.missingMapping &&
        this.vm.contains(gpa) &&
        this.vm.hostAddressOf(gpa) < 0
      ) {
        this.vm.populate(gpa);
        host.stats.cycles += host.costs.pagePopulate;
        out.resolvedExits++;
        this.resume();
        continue;
      }
      this.resume();
      out.exit = report;
      return status;
    }
  }

  /**
   * Shadow paging: the walk of the shadow tables; a #PF exits, and the hypervisor fills the shadow
   * entry (a hidden fault) and resumes, emulates the access, or reflects the guest's own #PF.
   */
  private accessShadow(
    cpu: PhysicalCpu,
    lo: number,
    hi: number,
    access: AccessKind,
    who: Privilege,
    out: GuestAccess,
  ): TranslateStatus {
    const shadow = this.vm.shadow as ShadowPaging;
    const mmu = this.shadowMmuFor(cpu);
    if (this.shadowRoot === null) {
      // A root dropped by the hypervisor (`ShadowPaging.reset`) is rebuilt before the guest resumes.
      this.exitToHost(cpu, ExitKind.IpiKick);
      const flush = this.switchShadowRoot(shadow.rootFor(this));
      this.resume(flush);
    } else if (mmu.root !== this.shadowRoot.root) {
      mmu.load(this.shadowRoot.root, this.shadowRoot.levels);
    }
    const t = out.translation;
    for (let attempt = 0; ; attempt++) {
      const status = mmu.translate(lo, hi, access, who, t);
      this.countTranslation(t);
      if (status === TranslateStatus.Ok) {
        if (!t.tlbHit) t.guestPhysical = this.vm.host.guestPhysicalOf(t.hostPhysical);
        return status;
      }
      // #GP (a non-canonical address) is not intercepted: the guest takes it.
      if (status !== TranslateStatus.PageFault) return status;
      this.surfaced = null;
      const verdict = shadow.pageFault(this, lo, hi, access, who, t, attempt);
      if (verdict === ShadowVerdict.Done) return t.status;
      if (verdict === ShadowVerdict.Surface) {
        out.exit = this.surfaced;
        return TranslateStatus.Exit;
      }
      out.resolvedExits++;
      if (attempt >= MAX_RESUMES) throw new Error('shadow paging: an access kept faulting after its fills');
    }
  }

  /** Reads the 32-bit word at guest-physical `gpa` through the VM's backing (0 where nothing is backed yet). */
  readPhysical(gpa: number): number {
    return this.vm.guestMemory.readWord(gpa);
  }

  /**
   * The guest kernel stores a word at guest-physical `gpa`. Under nested paging the store simply lands
   * (the nested tables map the page writable). Under shadow paging a store to a guest page-table page,
   * which the hypervisor keeps write-protected, exits ("page-table write"): it is emulated, and the
   * shadow entries derived from the guest entry are zapped.
   */
  writePhysical(gpa: number, value: number): void {
    const shadow = this.vm.shadow;
    if (shadow?.isTablePage(gpa)) {
      shadow.tableWrite(this, gpa, value);
      return;
    }
    this.vm.guestMemory.writeWord(gpa, value);
  }

  /**
   * MOV to CR3. Under nested paging it is not intercepted: the non-global translations of the current
   * PCID are flushed unless CR4.PCIDE=1 and bit 63 of the value is set (`noFlush`; SDM vol. 3A
   * §4.10.4.1); in PAE mode the PDPTEs are loaded through EPT (SDM vol. 3C §29.3.2), while AMD NPT reads
   * them on demand and loads nothing here (APM vol. 2 §15.25.10). Under shadow paging it exits (APM
   * vol. 2 §15.25.1 contrasts the two): the hypervisor switches to the shadow root of the new guest CR3.
   * Returns GeneralProtection (registers unchanged) when a present PAE PDPTE has a reserved bit.
   */
  writeCr3(value: number, noFlush = false): TranslateStatus {
    const state = this.state;
    const old = state.cr3;
    state.cr3 = value;
    state.refresh();
    const shadow = this.vm.shadow;
    if (shadow !== null) {
      // Under shadow paging each root's tagged translations stay in step with the guest's tables
      // (every table write zaps what derives from it), so the flush MOV CR3 asks for has nothing stale
      // to remove: `noFlush` changes nothing.
      const status = shadow.writeCr3(this);
      if (status !== TranslateStatus.Ok) {
        state.cr3 = old;
        state.refresh();
      }
      return status;
    }
    if (this.loadGuestPdptes() !== TranslateStatus.Ok) {
      state.cr3 = old;
      state.refresh();
      return TranslateStatus.GeneralProtection;
    }
    const cpu = this.cpu;
    if (cpu === null) return TranslateStatus.Ok;
    const caches = this.mmuFor(cpu).caches;
    if (caches !== null) {
      const asid = this.currentAsid(cpu);
      if (!(noFlush && state.pcide)) {
        caches.tlb?.flushPcid(asid, state.pcid, false);
        caches.walkCache?.flushPcid(asid, state.pcid, false);
      }
    }
    this.syncContext(cpu, this.currentId);
    return TranslateStatus.Ok;
  }

  /**
   * Loads CR0, CR3, CR4, EFER (and RFLAGS) together: a mode switch. Under nested paging the CPU does it
   * without an exit and flushes the translations of the current ASID/VPID (APM vol. 2 §15.16: toggling
   * CR0.PG or CR4.PGE/PAE/PSE affects only the current ASID; SDM vol. 3A §4.10.4.1); in PAE mode the
   * PDPTEs load as for MOV to CR3. Under shadow paging CR0/CR4 writes are intercepted and the
   * hypervisor rebuilds its shadow context. GeneralProtection (registers unchanged) on a bad PDPTE.
   */
  setControlRegisters(regs: ControlRegisters): TranslateStatus {
    const state = this.state;
    const before = { cr0: state.cr0, cr3: state.cr3, cr4: state.cr4, efer: state.efer, rflags: state.rflags };
    const controls = { mode: state.mode as number, nxe: state.nxe, pge: state.pge };
    state.setControlRegisters(regs);
    const shadow = this.vm.shadow;
    if (shadow !== null) {
      const status = shadow.setControlRegisters(this, controls);
      if (status !== TranslateStatus.Ok) state.setControlRegisters(before);
      return status;
    }
    const problem = this.vm.host.extension.guestStateProblem?.(state, this.vm.paging) ?? null;
    if (problem !== null && this.cpu !== null) {
      // The guest could not stay in VMX non-root operation in this state (the next entry would fail).
      state.setControlRegisters(before);
      throw new Error(`vCPU ${this.vm.id}.${this.index} cannot run with these control registers: ${problem}`);
    }
    if (this.loadGuestPdptes() !== TranslateStatus.Ok) {
      state.setControlRegisters(before);
      return TranslateStatus.GeneralProtection;
    }
    const cpu = this.cpu;
    if (cpu === null) return TranslateStatus.Ok;
    const caches = this.mmuFor(cpu).caches;
    if (caches !== null) {
      const asid = this.currentAsid(cpu);
      caches.tlb?.flushAddressSpace(asid);
      caches.walkCache?.flushAddressSpace(asid);
    }
    this.syncContext(cpu, this.currentId);
    return TranslateStatus.Ok;
  }

  /**
   * INVLPG of guest-linear `linear` (bits 63:32 in `linearHi`). Under nested paging it is not
   * intercepted: the CPU invalidates the page's translations in the current ASID/VPID and PCID, global
   * ones included, and the current PCID's walk-cache entries for it (SDM vol. 3A §4.10.4.1; APM vol. 2
   * §15.16: MOV CR3 and INVLPG act on the current ASID). Under shadow paging it exits.
   */
  invlpg(linear: number, linearHi?: number): void {
    const shadow = this.vm.shadow;
    if (shadow !== null) {
      shadow.invlpg(this, linear, linearHi);
      return;
    }
    const cpu = this.cpu;
    if (cpu === null) return;
    const caches = this.mmuFor(cpu).caches;
    if (caches === null) return;
    const asid = this.currentAsid(cpu);
    const vpn = linearPageNumberOf(linear, linearHi, this.state);
    caches.tlb?.flushAddressInPcid(asid, this.state.pcid, vpn, true);
    caches.walkCache?.flushAddressInPcid(asid, this.state.pcid, vpn, true);
  }

  /** A TLB shootdown of guest-linear `linear` started by this vCPU (`VirtualMachine.shootdown`). */
  shootdown(linear: number, linearHi?: number): void {
    this.vm.shootdown(linear, this, linearHi);
  }

  /**
   * Invalidates guest-linear page `linear` (bits 63:32 in `linearHi`) of this vCPU on every CPU where
   * its id is current (INVLPGA, INVVPID individual-address), as the hypervisor does for a shootdown.
   */
  invalidatePage(linear: number, linearHi?: number): void {
    const shadow = this.vm.shadow;
    if (shadow !== null) {
      // The IPI handler's INVLPG, intercepted.
      shadow.invlpg(this, linear, linearHi);
      return;
    }
    const ext = this.vm.host.extension;
    const address = linearHi === undefined ? linear : linearOf(linear, linearHi);
    for (const [cpuIndex, assignment] of this.ids) {
      const cpu = this.vm.host.cpus[cpuIndex];
      if (cpu.ids.isCurrent(assignment.generation)) ext.invalidatePage(cpu.caches, assignment.id, address);
    }
  }

  /** Loads the guest's PAE PDPTEs where the vendor loads them at MOV CR3 (EPT), backing pages the load touches. */
  private loadGuestPdptes(): TranslateStatus {
    if (this.state.mode !== PagingMode.Pae) return TranslateStatus.Ok;
    const cpu = this.cpu ?? this.vm.host.cpus[0];
    const mmu = this.mmuFor(cpu);
    const t = new Translation();
    for (let resumed = 0; resumed <= MAX_RESUMES; resumed++) {
      const status = mmu.loadGuestPdptes(t);
      if (status !== TranslateStatus.NestedFault) return status;
      // An EPT violation on the PDPTE load (exit qualification bit 7 clear, SDM vol. 3C §29.3.2): the
      // hypervisor backs the page and the MOV to CR3 is retried.
      const report = this.vm.host.extension.exitOf(t.nestedFault);
      const exit = this.takeExit(report.name, { kind: 'nested-fault', fault: t.nestedFault });
      const gpa = t.nestedFault.guestPhysical;
      const resolvable = report.missingMapping && this.vm.contains(gpa) && this.vm.hostAddressOf(gpa) < 0;
      if (exit.action === ExitAction.Surface || (exit.action === ExitAction.Default && !resolvable)) {
        this.resume();
        return TranslateStatus.GeneralProtection;
      }
      if (exit.action === ExitAction.Default) {
        this.vm.populate(gpa);
        this.vm.host.stats.cycles += this.vm.host.costs.pagePopulate;
      }
      this.resume();
    }
    return TranslateStatus.GeneralProtection;
  }

  /** The ASID/VPID the current translations are tagged with on `cpu` (0 for Intel without VPIDs). */
  private currentAsid(cpu: PhysicalCpu): number {
    const caches = this.mmuFor(cpu).caches;
    const tags = caches === null ? null : tagTableOf(caches);
    return caches === null || tags === null ? this.currentId : tags.asidOf(caches.context);
  }

  /**
   * A hypercall (AMD VMMCALL, #VMEXIT 0x81; Intel VMCALL, exit reason 18): exits with number `nr` and
   * `args`, runs the exit handlers, and returns what they left in `VmExit.result` (default -1000, as
   * KVM answers an unknown hypercall with -KVM_ENOSYS).
   */
  hypercall(nr: number, ...args: number[]): number {
    const exit = this.takeExit(ExitKind.Hypercall, { kind: 'hypercall' }, [nr, ...args]);
    this.resume();
    return exit.result;
  }

  /**
   * @internal Leaves guest mode for an exit of `kind` described by `event` (with the vendor's code and
   * information), counts it, and runs the exit handlers. The caller does the default handling unless
   * a handler resumed or surfaced it, then calls `resume`. When the vCPU is not running (its registers
   * set up before it first runs) nothing exits and no handler runs.
   */
  takeExit(kind: string, event: ExitEvent, args?: readonly number[]): VmExit {
    const report = this.vm.host.extension.describeExit(event);
    if (this.cpu === null) return new VmExit(kind, report, args);
    return this.dispatchExit(kind, report, args);
  }

  /** Leaves guest mode, counts the exit and runs the handlers (the VM's, then the host's) until one decides. */
  private dispatchExit(kind: string, report: ExitReport, args?: readonly number[]): VmExit {
    const host = this.vm.host;
    const cpu = this.cpu as PhysicalCpu;
    this.exitToHost(cpu, kind);
    host.stats.cycles += host.costs.exitHandling;
    const exit = new VmExit(kind, report, args);
    for (const handlers of [this.vm.exitHandlers, host.exitHandlers]) {
      for (const handler of handlers) {
        const action = handler(this, exit) ?? ExitAction.Default;
        if (action !== ExitAction.Default) {
          exit.action = action;
          return exit;
        }
      }
    }
    return exit;
  }

  /** @internal Re-enters guest mode after an exit (VMRUN / VM entry), with `flush`. */
  resume(flush: EntryFlush = EntryFlush.None): void {
    const cpu = this.cpu;
    if (cpu !== null && cpu.current === null) this.enter(cpu, this.currentId, flush);
  }

  private enter(cpu: PhysicalCpu, id: number, requested: EntryFlush): void {
    const host = this.vm.host;
    // Untagged, every world switch into a guest flushes, not only scheduling ones: every guest shares
    // one id (APM vol. 2 §15.16: TLB_CONTROL 1 on each VMRUN without ASIDs; SDM vol. 3C §29.4.3.1
    // without VPIDs).
    const flush = host.tagging ? requested : EntryFlush.All;
    const problem = host.extension.guestStateProblem?.(this.state, this.vm.paging) ?? null;
    if (problem !== null) throw new Error(`VM entry of vCPU ${this.vm.id}.${this.index} fails: ${problem}`);
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
    cpu.current = null;
    host.stats.countExit(kind);
    host.stats.cycles += host.costs.worldSwitch / 2;
  }

  private syncContext(cpu: PhysicalCpu, id: number): void {
    if (this.vm.shadow !== null) {
      const caches = this.shadowMmuFor(cpu).caches;
      // Shadow translations are linear to host-physical, tagged by the root's id alone (no PCID: the
      // hardware CR3 is the shadow root's).
      if (caches !== null)
        caches.context = this.vm.host.extension.guestContext(cpu.caches, id, 0, this.vm.tables);
      return;
    }
    const mmu = this.mmuFor(cpu);
    if (mmu.caches === null) return;
    const ext = this.vm.host.extension;
    mmu.caches.context = ext.guestContext(cpu.caches, id, this.state.pcid, this.vm.tables);
    mmu.caches.nestedContext = ext.nestedContext(cpu.caches, id, this.vm.tables);
  }

  private shadowMmuFor(cpu: PhysicalCpu): ShadowMmu {
    let mmu = this.shadowMmus.get(cpu.index);
    if (mmu === undefined) {
      const c = cpu.caches;
      const caches =
        c.tlb === null && c.walkCache === null
          ? undefined
          : {
              ...(c.tlb === null ? {} : { tlb: c.tlb }),
              ...(c.walkCache === null ? {} : { walkCache: c.walkCache }),
            };
      mmu = new ShadowMmu(this.vm.host.memory, this.state, caches);
      this.shadowMmus.set(cpu.index, mmu);
    }
    return mmu;
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
