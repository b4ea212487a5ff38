import {
  type AccessKind,
  a20Masked,
  type ControlRegisters,
  CpuState,
  explicitPrivilegeOf,
  PagingMode,
  type Privilege,
  TWO_32,
  TWO_MINUS_32,
  type WordMemory,
} from '@hvsim/cpu-core';
import { TranslateStatus } from '@hvsim/mmu-nested';
import type { ExitReport, GuestAccess, GuestCpu } from '@hvsim/platform';
import { ExitAction, ExitKind, VmExit } from './exits.js';
import { type BackingPageSize, EntryFlush, type ExitEvent, type NestedTables } from './extension.js';
import { grownToHold } from './grow.js';
import type { Host } from './host.js';
import { NestedPaging } from './nested-paging.js';
import type {
  ExitPort,
  IdOwner,
  PagingBackend,
  PagingBackendFactory,
  PagingVcpu,
  PagingVm,
  VcpuPaging,
} from './paging-backend.js';
import type { PhysicalCpu, RunningGuest } from './physical-cpu.js';
import { ShadowPaging } from './shadow-paging.js';

/** Options of a VM. */
export interface VirtualMachineOptions {
  /** Guest-physical memory size in bytes (a multiple of the backing page size). */
  readonly memorySize: number;
  /**
   * The page size backing guest-physical memory (default 4 KiB). Large nested pages shorten the second
   * stage of every walk: what VMware's RVI and EPT studies recommend.
   */
  readonly backing?: BackingPageSize;
  /** Back pages when the guest first touches them (default), or all of them up front. */
  readonly fill?: 'on-demand' | 'up-front';
  /**
   * How guest memory is virtualized, chosen once: 'nested' (default) runs the guest on its own tables
   * with the vendor's nested tables below (AMD NPT, Intel EPT); 'shadow' runs it on shadow tables the
   * hypervisor keeps (guest-virtual to host-physical), trapping MOV CR3, INVLPG, #PF and writes to the
   * guest's page tables; a `PagingBackendFactory` builds a backend of the caller's own.
   */
  readonly paging?: 'nested' | 'shadow' | PagingBackendFactory;
  /** Shadow paging: how many shadow roots (guest address spaces) are kept cached (default 16). */
  readonly shadowRoots?: number;
}

const BACKING_SIZES: readonly number[] = [0x1000, 0x20_0000, 0x4000_0000];

/**
 * A VM: a guest-physical address space backed by host frames, virtualized by the paging backend it
 * chose (nested tables the hypervisor builds in host memory, or shadow tables), and its vCPUs.
 */
export class VirtualMachine implements PagingVm {
  readonly id: number;
  readonly host: Host;
  readonly memorySize: number;
  readonly backing: BackingPageSize;
  /** The paging backend (see `VirtualMachineOptions.paging`). */
  readonly backend: PagingBackend;
  /** The nested tables (NPT or EPT) under nested paging; null under shadow paging, which builds none. */
  readonly tables: NestedTables | null;
  readonly vcpus: VirtualCpu[] = [];
  /** The backend's kind: 'nested', 'shadow', or a backend's own. */
  readonly paging: string;
  /** This VM's exit handlers (run before the host's), in registration order. */
  readonly exitHandlers: ExitHandler[] = [];
  private readonly hostHandlers: readonly ExitHandler[];
  /**
   * Host-physical base + 1 of each backing page (0: not backed), by guest-physical page index: a typed
   * array, grown to the highest page backed, so the lookup of every walk's table address is an index.
   */
  private mapped = new Float64Array(64);

  /** `hostHandlers`: the host's exit handlers, run after the VM's (`HostMachine.onExit`). */
  constructor(
    host: Host,
    id: number,
    options: VirtualMachineOptions,
    hostHandlers: readonly ExitHandler[] = [],
  ) {
    const backing = options.backing ?? 0x1000;
    if (!BACKING_SIZES.includes(backing))
      throw new RangeError(`backing must be 4 KiB, 2 MiB or 1 GiB, got ${backing}`);
    if (
      !Number.isInteger(options.memorySize) ||
      options.memorySize <= 0 ||
      options.memorySize % backing !== 0
    ) {
      throw new RangeError(
        `memorySize must be a positive multiple of the backing page size (0x${backing.toString(16)})`,
      );
    }
    this.host = host;
    this.id = id;
    this.memorySize = options.memorySize;
    this.backing = backing;
    this.hostHandlers = hostHandlers;
    const paging = options.paging ?? 'nested';
    if (paging !== 'nested' && paging !== 'shadow' && typeof paging !== 'function')
      throw new RangeError(
        `paging must be 'nested', 'shadow' or a backend factory, got ${JSON.stringify(paging)}`,
      );
    this.backend =
      paging === 'nested'
        ? new NestedPaging(this)
        : paging === 'shadow'
          ? new ShadowPaging(this, options.shadowRoots ?? 16)
          : paging(this);
    this.tables = this.backend.tables;
    this.paging = this.backend.kind;
    if (options.fill === 'up-front') {
      for (let gpa = 0; gpa < this.memorySize; gpa += backing) this.populate(gpa);
    }
  }

  /** The shadow-paging state under shadow paging, else null. */
  get shadow(): ShadowPaging | null {
    return this.backend instanceof ShadowPaging ? this.backend : null;
  }

  /** The host-physical address guest-physical `gpa` is backed by, or -1 when it is not (yet). */
  hostAddressOf(gpa: number): number {
    // Guest-physical addresses are below 2^52: the page index is exact in a double.
    const index = Math.floor(gpa / this.backing);
    const hpa = index >= 0 && index < this.mapped.length ? this.mapped[index] : 0;
    return hpa === 0 ? -1 : hpa - 1 + (gpa - index * this.backing);
  }

  /** The guest-physical address host-physical `hpa` backs, or NaN when it backs none of this VM's memory. */
  guestPhysicalOf(hpa: number): number {
    const gpa = this.host.guestPhysicalOf(hpa);
    return this.host.frameOwner.get(Math.floor(hpa / 0x1000)) === this.id ? gpa : Number.NaN;
  }

  /** Registers a handler for this VM's exits (see `ExitHandler`); returns a function that removes it. */
  onExit(handler: ExitHandler): () => void {
    this.exitHandlers.push(handler);
    return () => {
      const i = this.exitHandlers.indexOf(handler);
      if (i >= 0) this.exitHandlers.splice(i, 1);
    };
  }

  /** Whether `gpa` lies inside the VM's memory. */
  contains(gpa: number): boolean {
    return gpa >= 0 && gpa < this.memorySize;
  }

  /** Backs the page holding `gpa` (allocating a zeroed host block and mapping it); returns its host address. */
  populate(gpa: number): number {
    if (!this.contains(gpa))
      throw new RangeError(`guest-physical 0x${gpa.toString(16)} is outside VM ${this.id}'s memory`);
    const existing = this.hostAddressOf(gpa);
    if (existing >= 0) return existing;
    const base = gpa - (gpa % this.backing);
    const hpa = this.host.allocate(this.backing, this.id);
    this.backend.mapped(base, hpa, this.backing);
    this.setMapped(base / this.backing, hpa + 1);
    for (let o = 0; o < this.backing; o += 0x1000) this.host.setGuestFrame(hpa + o, base + o);
    this.host.stats.pagesPopulated++;
    return hpa + (gpa - base);
  }

  /**
   * Unmaps the backing page holding `gpa` and frees its frames, with the invalidations hardware needs
   * (the backend's `invalidateBacking`: INVEPT, a flush at the next entry where the vendor cannot
   * invalidate by guest-physical address, or every shadow root dropped).
   */
  unmap(gpa: number): boolean {
    if (!this.contains(gpa)) return false;
    const base = gpa - (gpa % this.backing);
    const hpa = this.hostAddressOf(base);
    if (hpa < 0) return false;
    this.backend.unmapped(base, this.backing);
    this.mapped[base / this.backing] = 0;
    for (let o = 0; o < this.backing; o += 0x1000) this.host.setGuestFrame(hpa + o, -1);
    this.backend.invalidateBacking();
    this.host.release(hpa, this.backing);
    return true;
  }

  /** Moves the page holding `gpa` to a new host block (as page migration or deduplication would). */
  remap(gpa: number): number {
    const hpa = this.hostAddressOf(gpa);
    if (hpa < 0) return this.populate(gpa);
    const base = gpa - (gpa % this.backing);
    const oldBase = hpa - (gpa - base);
    const fresh = this.host.allocate(this.backing, this.id);
    for (let offset = 0; offset < this.backing; offset += 0x1000) {
      this.host.memory.copyFrame(oldBase + offset, fresh + offset);
    }
    this.backend.unmapped(base, this.backing);
    this.backend.mapped(base, fresh, this.backing);
    this.setMapped(base / this.backing, fresh + 1);
    for (let o = 0; o < this.backing; o += 0x1000) {
      this.host.setGuestFrame(oldBase + o, -1);
      this.host.setGuestFrame(fresh + o, base + o);
    }
    this.backend.invalidateBacking();
    this.host.release(oldBase, this.backing);
    return fresh + (gpa - base);
  }

  private setMapped(index: number, value: number): void {
    this.mapped = grownToHold(this.mapped, index);
    this.mapped[index] = value;
  }

  /** Creates a vCPU (guest state starts in real mode, paging off). */
  createVcpu(): VirtualCpu {
    const vcpu = new VirtualCpu(this, this.vcpus.length, this.backend, this.hostHandlers);
    this.vcpus.push(vcpu);
    return vcpu;
  }

  /**
   * The guest's physical memory as 32-bit words, read and written through the VM's backing (backing
   * pages on first touch): what a guest kernel builds its page tables in.
   */
  readonly guestMemory: WordMemory = {
    readWord: (gpa: number) => {
      const hpa = this.hostAddressOf(gpa);
      return hpa < 0 ? 0 : this.host.memory.readWord(hpa);
    },
    writeWord: (gpa: number, value: number) => {
      this.host.memory.writeWord(this.populate(gpa), value);
    },
  };

  /**
   * A TLB shootdown of guest-linear page `linear` (a guest kernel changed a mapping every vCPU may
   * cache): the initiator invalidates locally, and every other vCPU of the VM that is in guest mode
   * takes an IPI and invalidates on its CPU; vCPUs not running have their cached copies on every CPU
   * invalidated without an IPI, as a lazy-TLB kernel arranges before they next run.
   */
  shootdown(linear: number, initiator: VirtualCpu | null, linearHi?: number): void {
    const host = this.host;
    host.stats.shootdowns++;
    for (const vcpu of this.vcpus) {
      if (vcpu !== initiator && vcpu.cpu !== null) {
        host.stats.countIpi();
      }
      vcpu.invalidatePage(linear, linearHi);
    }
  }
}

/**
 * A handler of exits, registered with `HostMachine.onExit` or `VirtualMachine.onExit`. Handlers run
 * in order (the VM's first, then the host's) until one returns Resume or Surface; returning nothing
 * (or Default) leaves the exit to the next one and finally to the hypervisor's default handling: back
 * the page, fill the shadow entry, emulate the write, inject the #PF, switch the shadow root.
 */
export type ExitHandler = (vcpu: VirtualCpu, exit: VmExit) => ExitAction | undefined;

/**
 * A virtual CPU: the guest's architectural state, scheduled on physical CPUs. It keeps what every
 * paging backend shares: its ids on each CPU, world switches (each does to the TLBs what the vendor
 * defines, through the extension), pending flushes, and exit dispatch to the handlers. What a guest
 * access, MOV CR3, a mode switch or INVLPG does is its VM's paging backend's (`PagingBackend`), to
 * which it lends an `ExitPort`.
 */
export class VirtualCpu implements GuestCpu, PagingVcpu, RunningGuest {
  readonly vm: VirtualMachine;
  readonly index: number;
  /** The guest's registers (start: real mode, paging off). */
  readonly state = new CpuState();
  /** The physical CPU it runs on in guest mode, or null. */
  cpu: PhysicalCpu<VirtualCpu> | null = null;
  private readonly paging: VcpuPaging;
  private readonly hostHandlers: readonly ExitHandler[];
  private readonly pending = new Map<number, EntryFlush>();
  private lastCpu = -1;
  private currentId = 0;

  constructor(
    vm: VirtualMachine,
    index: number,
    backend: PagingBackend,
    hostHandlers: readonly ExitHandler[],
  ) {
    this.vm = vm;
    this.index = index;
    this.hostHandlers = hostHandlers;
    const port: ExitPort = {
      takeExit: (kind, event, args) => this.takeExit(kind, event, args),
      dispatchExit: (kind, report) => this.dispatchExit(kind, report),
      kick: () => {
        if (this.cpu !== null) this.exitToHost(this.cpu, ExitKind.IpiKick);
      },
      resume: (flush) => this.resume(flush),
      switchIds: (owner) => this.switchIds(owner),
      currentId: () => this.currentId,
    };
    this.paging = backend.attach(this, port);
  }

  /** The id (ASID/VPID) the vCPU has on the CPU it runs on (0 when not running). */
  get id(): number {
    return this.cpu === null ? 0 : this.currentId;
  }

  /**
   * Enters guest mode on `cpu` (VMRUN / VM entry). A vCPU arriving on a CPU other than its last one
   * (under nested paging), or whose id's generation is over, gets a new id from that CPU's pool (a
   * rollover flushes every guest translation of the CPU); without tags every entry flushes; pending
   * invalidations of this vCPU on this CPU are done now.
   */
  run(cpu: PhysicalCpu<VirtualCpu>): void {
    if (this.cpu !== null)
      throw new Error(`vCPU ${this.vm.id}.${this.index} is already running on CPU ${this.cpu.index}`);
    if (cpu.current !== null) throw new Error(`CPU ${cpu.index} is running another vCPU`);
    const paging = this.paging;
    const owner = paging.idOwner();
    const moved = this.lastCpu >= 0 && this.lastCpu !== cpu.index;
    let { id, flush } = this.idOn(cpu, owner, moved && paging.renewOnMigration);
    if (moved) this.vm.host.stats.migrations++;
    const pending = this.pending.get(cpu.index) ?? EntryFlush.None;
    this.pending.delete(cpu.index);
    if (pending > flush) flush = pending;
    this.enter(cpu, id, flush);
    this.lastCpu = cpu.index;
    this.currentId = id;
    paging.install(cpu, id);
  }

  /**
   * The id `owner` (a vCPU's, or a guest address space's, ids by CPU) has on `cpu`, assigning a new one
   * from the CPU's pool when it has none, its generation is over, or `renew` (a vCPU that moved); a
   * rollover flushes every guest translation of the CPU. Untagged: every guest shares id 1 and each
   * world switch flushes (APM vol. 2 §15.16 on legacy hardware: TLB_CONTROL 1 on every VMRUN; Intel
   * without VPID, SDM vol. 3C §29.4.3.1).
   */
  private idOn(cpu: PhysicalCpu, owner: IdOwner, renew: boolean): { id: number; flush: EntryFlush } {
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

  /** During an exit: runs with `owner`'s id on the current CPU; the flush the re-entry needs. */
  private switchIds(owner: IdOwner): EntryFlush {
    const cpu = this.cpu;
    if (cpu === null) return EntryFlush.None;
    const { id, flush } = this.idOn(cpu, owner, false);
    this.currentId = id;
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
      host.stats.countIpi();
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
    if (cpu === null) throw this.notRunning();
    const stats = this.vm.host.stats;
    const upper = Math.floor(linear * TWO_MINUS_32);
    const hi = linearHi ?? upper;
    const lo = this.state.a20Enabled ? linear - upper * TWO_32 : this.a20Linear(linear - upper * TWO_32);
    const who = privilege ?? explicitPrivilegeOf(this.state);
    out.exit = null;
    out.resolvedExits = 0;
    stats.accesses++;
    // The hit path: the backend's MMU for this CPU, held since the world switch; a TLB hit always
    // completes (Ok) and needs nothing from the backend. Everything else is out of line.
    const mmu = this.paging.mmu;
    if (mmu == null) return this.finishAccess(this.paging.access(cpu, lo, hi, access, who, out), out);
    const t = out.translation;
    const status = mmu.translate(lo, hi, access, who, t);
    if (!t.tlbHit) return this.resolve(cpu, status, lo, hi, access, who, out);
    stats.countTlbHit(t.tlbLevel);
    out.status = TranslateStatus.Ok;
    return TranslateStatus.Ok;
  }

  /**
   * The hypervisor's emulation of the guest's A20 gate, which the hardware does not give a guest (no
   * A20 masking of guest-physical addresses under nested paging, AMD APM vol. 2 §15.25.11; A20M is
   * blocked in VMX operation, Intel SDM vol. 3C §23.8): with the guest's paging off its guest-physical
   * address is its linear one, and with the gate off the hypervisor maps it with bit 20 clear, the
   * 8086 wrap (the HMA aliased onto the first 64 KiB, as the bare-metal mask does; SDM vol. 3A
   * §20.1.1). With the guest's paging on it emulates nothing: the guest's page tables decide.
   */
  private a20Linear(lo: number): number {
    return this.state.mode === PagingMode.None ? a20Masked(lo) : lo;
  }

  /** The error of an access while the vCPU is not in guest mode (built out of line: the hot path stays small). */
  private notRunning(): Error {
    return new Error(`vCPU ${this.vm.id}.${this.index} is not running`);
  }

  /** The access after a translation that did not hit: counted, and its exits resolved by the backend. */
  private resolve(
    cpu: PhysicalCpu<VirtualCpu>,
    status: TranslateStatus,
    lo: number,
    hi: number,
    access: AccessKind,
    who: Privilege,
    out: GuestAccess,
  ): TranslateStatus {
    const host = this.vm.host;
    host.stats.countTranslation(out.translation);
    const paging = this.paging;
    if (paging.resolve === undefined)
      throw new Error('a paging backend that sets `mmu` must implement `resolve` (paging-backend.ts)');
    return this.finishAccess(paging.resolve(cpu, status, lo, hi, access, who, out), out);
  }

  /** Completes an access: a #PF for the guest loads its CR2. */
  private finishAccess(status: TranslateStatus, out: GuestAccess): TranslateStatus {
    const host = this.vm.host;
    if (status === TranslateStatus.PageFault) {
      host.stats.guestPageFaults++;
      // The #PF delivered to the guest loads CR2 with the faulting linear address (SDM vol. 3A §4.7).
      this.state.cr2Lo = out.translation.faultLo;
      this.state.cr2Hi = out.translation.faultHi;
    }
    out.status = status;
    return status;
  }

  /** Reads the 32-bit word at guest-physical `gpa` through the VM's backing (0 where nothing is backed yet). */
  readPhysical(gpa: number): number {
    const vm = this.vm;
    const hpa = vm.hostAddressOf(gpa);
    return hpa < 0 ? 0 : vm.host.memory.readWord(hpa);
  }

  /** See `GuestCpu.readPhysicalPage`: the page through the VM's backing (zeros where nothing is backed yet). */
  readPhysicalPage(gpa: number, into: Uint32Array): void {
    const vm = this.vm;
    const hpa = vm.hostAddressOf(gpa);
    if (hpa < 0) into.fill(0, 0, 1024);
    else vm.host.memory.readFrame(hpa, into);
  }

  /**
   * The guest kernel stores a word at guest-physical `gpa`. Under nested paging the store simply lands
   * (the nested tables map the page writable). Under shadow paging a store to a guest page-table page,
   * which the hypervisor keeps write-protected, exits ("page-table write"): it is emulated, and the
   * shadow entries derived from the guest entry are zapped.
   */
  writePhysical(gpa: number, value: number): void {
    this.paging.writePhysical(gpa, value);
  }

  /**
   * MOV to CR3 (`noFlush`: bit 63 of the operand, SDM vol. 3A §4.10.4.1). Under nested paging it is not
   * intercepted; under shadow paging it exits and the hypervisor switches shadow roots (APM vol. 2
   * §15.25.1 contrasts the two). Returns GeneralProtection (registers unchanged) when a present PAE
   * PDPTE has a reserved bit.
   */
  writeCr3(value: number, noFlush = false): TranslateStatus {
    const state = this.state;
    const old = state.cr3;
    state.cr3 = value;
    state.refresh();
    const status = this.paging.writeCr3(noFlush);
    if (status !== TranslateStatus.Ok) {
      state.cr3 = old;
      state.refresh();
    }
    return status;
  }

  /**
   * Loads CR0, CR3, CR4, EFER (and RFLAGS) together: a mode switch. Under nested paging the CPU does it
   * without an exit; under shadow paging CR0/CR4 writes are intercepted and the hypervisor rebuilds its
   * shadow context. GeneralProtection (registers unchanged) on a bad PDPTE; throws (registers
   * unchanged) when the running guest could not stay in guest mode in the new state.
   */
  setControlRegisters(regs: ControlRegisters): TranslateStatus {
    const state = this.state;
    const before = { cr0: state.cr0, cr3: state.cr3, cr4: state.cr4, efer: state.efer, rflags: state.rflags };
    const controls = { mode: state.mode as number, nxe: state.nxe, pge: state.pge };
    state.setControlRegisters(regs);
    let status: TranslateStatus;
    try {
      status = this.paging.setControlRegisters(controls);
    } catch (error) {
      state.setControlRegisters(before);
      throw error;
    }
    if (status !== TranslateStatus.Ok) state.setControlRegisters(before);
    return status;
  }

  /**
   * INVLPG of guest-linear `linear` (bits 63:32 in `linearHi`): under nested paging the CPU invalidates
   * the page in the current ASID/VPID and PCID; under shadow paging it exits.
   */
  invlpg(linear: number, linearHi?: number): void {
    this.paging.invlpg(linear, linearHi);
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
    this.paging.invalidatePage(linear, linearHi);
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

  /** `ExitPort.takeExit`. */
  private takeExit(kind: string, event: ExitEvent, args?: readonly number[]): VmExit {
    const report = this.vm.host.extension.describeExit(event);
    if (this.cpu === null) return new VmExit(kind, report, args);
    return this.dispatchExit(kind, report, args);
  }

  /** Leaves guest mode, counts the exit and runs the handlers (the VM's, then the host's) until one decides. */
  private dispatchExit(kind: string, report: ExitReport, args?: readonly number[]): VmExit {
    const host = this.vm.host;
    const cpu = this.cpu as PhysicalCpu<VirtualCpu>;
    this.exitToHost(cpu, kind);
    host.stats.countExitHandling(kind);
    const exit = new VmExit(kind, report, args);
    if (!this.decide(this.vm.exitHandlers, exit)) this.decide(this.hostHandlers, exit);
    return exit;
  }

  /** Runs `handlers` on `exit` until one decides (Resume or Surface); returns whether one did. */
  private decide(handlers: readonly ExitHandler[], exit: VmExit): boolean {
    for (let i = 0; i < handlers.length; i++) {
      const action = handlers[i](this, exit) ?? ExitAction.Default;
      if (action !== ExitAction.Default) {
        exit.action = action;
        return true;
      }
    }
    return false;
  }

  /** `ExitPort.resume`: re-enters guest mode after an exit (VMRUN / VM entry), with `flush`. */
  private resume(flush: EntryFlush = EntryFlush.None): void {
    const cpu = this.cpu;
    if (cpu !== null && cpu.current === null) this.enter(cpu, this.currentId, flush);
  }

  private enter(cpu: PhysicalCpu<VirtualCpu>, id: number, requested: EntryFlush): void {
    const host = this.vm.host;
    // Untagged, every world switch into a guest flushes, not only scheduling ones: every guest shares
    // one id (APM vol. 2 §15.16: TLB_CONTROL 1 on each VMRUN without ASIDs; SDM vol. 3C §29.4.3.1
    // without VPIDs).
    const flush = host.tagging ? requested : EntryFlush.All;
    const problem = host.extension.guestStateProblem?.(this.state, this.vm.paging) ?? null;
    if (problem !== null) throw new Error(`VM entry of vCPU ${this.vm.id}.${this.index} fails: ${problem}`);
    host.extension.enterGuest(cpu.caches, id, this.vm.tables, flush);
    if (flush !== EntryFlush.None) host.stats.entryFlushes++;
    host.stats.countEntry();
    cpu.current = this;
    this.cpu = cpu;
  }

  private exitToHost(cpu: PhysicalCpu<VirtualCpu>, kind: string): void {
    const host = this.vm.host;
    host.extension.exitGuest(cpu.caches, this.currentId);
    cpu.current = null;
    host.stats.countExit(kind);
  }
}
