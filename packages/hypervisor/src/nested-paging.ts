import {
  type AccessKind,
  linearPageNumberOf,
  linearToBigInt,
  PagingMode,
  type Privilege,
} from '@hvsim/cpu-core';
import { NestedMmu, type NestedStage, TranslateStatus, Translation } from '@hvsim/mmu-nested';
import type { GuestAccess } from '@hvsim/platform';
import { ExitAction } from './exits.js';
import { type BackingPageSize, EntryFlush, type NestedTables } from './extension.js';
import { MmusByCpu } from './mmus-by-cpu.js';
import {
  type ControlsBefore,
  type ExitPort,
  type IdOwner,
  MAX_RESUMES,
  type PagingBackend,
  type PagingVcpu,
  type PagingVm,
  type VcpuPaging,
} from './paging-backend.js';
import type { PhysicalCpu } from './physical-cpu.js';

/**
 * Nested paging (AMD NPT, APM vol. 2 §15.25; Intel EPT, SDM vol. 3C ch. 29): the guest runs on its own
 * tables, and the VM's nested tables, which the hypervisor builds in host memory, map guest-physical
 * to host-physical. MOV CR3, mode switches and INVLPG are not intercepted; a second-stage fault exits,
 * and the hypervisor backs the page and resumes the guest.
 */
export class NestedPaging implements PagingBackend {
  readonly kind = 'nested';
  readonly tables: NestedTables;
  private readonly vm: PagingVm;

  constructor(vm: PagingVm) {
    const host = vm.host;
    this.vm = vm;
    this.tables = host.extension.createNestedTables(host.memory, () => host.allocate(0x1000, -1));
  }

  attach(vcpu: PagingVcpu, port: ExitPort): VcpuPaging {
    return new NestedVcpuPaging(this.vm, this.tables, vcpu, port);
  }

  mapped(gpa: number, hpa: number, size: BackingPageSize): void {
    this.tables.map(gpa, hpa, size);
  }

  unmapped(gpa: number, size: BackingPageSize): void {
    this.tables.unmap(gpa, size);
  }

  /**
   * Cached guest-physical and combined translations of this VM are removed on every CPU (Intel INVEPT
   * single-context), or, where the vendor cannot invalidate by guest-physical address (AMD: INVLPGA
   * takes guest-virtual addresses only, APM vol. 2 §15.16.2), flushed on every CPU now for vCPUs in
   * guest mode and at the next entry for the others (TLB_CONTROL, §15.16.1).
   */
  invalidateBacking(): void {
    const ext = this.vm.host.extension;
    for (const cpu of this.vm.host.cpus) {
      if (ext.invalidateNested(cpu.caches, this.tables)) continue;
      for (const vcpu of this.vm.vcpus) vcpu.requestFlush(cpu.index, EntryFlush.Guest);
    }
  }
}

/** One vCPU's nested paging: its ids, its second stage and an MMU per physical CPU. */
class NestedVcpuPaging implements VcpuPaging {
  readonly renewOnMigration = true;
  private readonly vm: PagingVm;
  private readonly tables: NestedTables;
  private readonly vcpu: PagingVcpu;
  private readonly port: ExitPort;
  private readonly stage: NestedStage;
  /** Each vCPU owns its ids: under nested paging an ASID tags a guest-physical address space (APM vol. 2 §15.25.1). */
  private readonly ids: IdOwner = new Map();
  private readonly mmus: MmusByCpu<NestedMmu>;
  /** `VcpuPaging.mmu`: the MMU of the CPU the vCPU last entered (nothing but a nested fault needs the backend). */
  mmu: NestedMmu | null = null;
  private readonly pdpteLoad = new Translation();

  constructor(vm: PagingVm, tables: NestedTables, vcpu: PagingVcpu, port: ExitPort) {
    this.vm = vm;
    this.tables = tables;
    this.vcpu = vcpu;
    this.port = port;
    this.stage = vm.host.extension.createStage(vm.host.memory, tables);
    this.mmus = new MmusByCpu(
      (cpu) => new NestedMmu(vm.host.memory, vcpu.state, this.stage, cpu.mmuCaches(true)),
    );
  }

  idOwner(): IdOwner {
    return this.ids;
  }

  install(cpu: PhysicalCpu, id: number): void {
    const mmu = this.mmus.activate(cpu);
    mmu.caches?.setContext(id, this.vcpu.state.pcid);
    this.syncContext(cpu, id);
    this.mmu = mmu;
  }

  /** The two-dimensional walk; a nested fault exits, and by default the hypervisor backs the page and resumes. */
  access(
    cpu: PhysicalCpu,
    lo: number,
    hi: number,
    access: AccessKind,
    who: Privilege,
    out: GuestAccess,
  ): TranslateStatus {
    const host = this.vm.host;
    const status = this.mmus.current(cpu).translate(lo, hi, access, who, out.translation);
    host.stats.countTranslation(out.translation);
    return this.resolve(cpu, status, lo, hi, access, who, out);
  }

  /** `VcpuPaging.resolve`: a nested fault exits; by default the hypervisor backs the page and the access retries. */
  resolve(
    cpu: PhysicalCpu,
    first: TranslateStatus,
    lo: number,
    hi: number,
    access: AccessKind,
    who: Privilege,
    out: GuestAccess,
  ): TranslateStatus {
    const vm = this.vm;
    const host = vm.host;
    const port = this.port;
    const mmu = this.mmus.current(cpu);
    const t = out.translation;
    let status = first;
    for (let resumed = 0; status === TranslateStatus.NestedFault; resumed++) {
      const report = host.extension.exitOf(t.nestedFault);
      const exit = port.dispatchExit(report.name, report);
      const gpa = t.nestedFault.guestPhysical;
      if (exit.action === ExitAction.Resume && resumed < MAX_RESUMES) {
        // A handler resolved it: the guest retries the access.
      } else if (
        exit.action === ExitAction.Default &&
        report.missingMapping &&
        vm.contains(gpa) &&
        vm.hostAddressOf(gpa) < 0
      ) {
        vm.populate(gpa);
        host.stats.countPagePopulation();
      } else {
        port.resume();
        out.exit = report;
        return status;
      }
      out.resolvedExits++;
      port.resume();
      status = mmu.translate(lo, hi, access, who, t);
      host.stats.countTranslation(t);
    }
    return status;
  }

  /** The store simply lands: the nested tables map the page writable. */
  writePhysical(gpa: number, value: number): void {
    this.vm.guestMemory.writeWord(gpa, value);
  }

  /**
   * MOV to CR3 is not intercepted: the non-global translations of the current PCID are flushed unless
   * CR4.PCIDE=1 and bit 63 of the value is set (`noFlush`; SDM vol. 3A §4.10.4.1); in PAE mode the
   * PDPTEs are loaded through EPT (SDM vol. 3C §29.3.2), while AMD NPT reads them on demand and loads
   * nothing here (APM vol. 2 §15.25.10). GeneralProtection when a present PAE PDPTE has a reserved bit.
   */
  writeCr3(noFlush: boolean): TranslateStatus {
    if (this.loadGuestPdptes() !== TranslateStatus.Ok) return TranslateStatus.GeneralProtection;
    const cpu = this.vcpu.cpu;
    if (cpu === null) return TranslateStatus.Ok;
    const state = this.vcpu.state;
    const caches = this.mmus.of(cpu).caches;
    if (caches !== null && !(noFlush && state.pcide)) caches.invalidatePcid(state.pcid);
    this.syncContext(cpu, this.port.currentId());
    return TranslateStatus.Ok;
  }

  /**
   * A mode switch happens without an exit, flushing the translations of the current ASID/VPID (APM
   * vol. 2 §15.16: toggling CR0.PG or CR4.PGE/PAE/PSE affects only the current ASID; SDM vol. 3A
   * §4.10.4.1); in PAE mode the PDPTEs load as for MOV to CR3. Throws when the running guest could
   * not stay in guest mode in the new state (the vendor's VM-entry checks).
   */
  setControlRegisters(_before: ControlsBefore): TranslateStatus {
    const vcpu = this.vcpu;
    const problem = this.vm.host.extension.guestStateProblem?.(vcpu.state, 'nested') ?? null;
    if (problem !== null && vcpu.cpu !== null) {
      throw new Error(`vCPU ${this.vm.id}.${vcpu.index} cannot run with these control registers: ${problem}`);
    }
    if (this.loadGuestPdptes() !== TranslateStatus.Ok) return TranslateStatus.GeneralProtection;
    const cpu = vcpu.cpu;
    if (cpu === null) return TranslateStatus.Ok;
    const caches = this.mmus.of(cpu).caches;
    caches?.invalidateAddressSpace(true);
    this.syncContext(cpu, this.port.currentId());
    return TranslateStatus.Ok;
  }

  /**
   * INVLPG is not intercepted: the CPU invalidates the page's translations in the current ASID/VPID
   * and PCID, global ones included, and the current PCID's walk-cache entries for it (SDM vol. 3A
   * §4.10.4.1; APM vol. 2 §15.16: MOV CR3 and INVLPG act on the current ASID).
   */
  invlpg(linear: number, linearHi: number | undefined): void {
    const cpu = this.vcpu.cpu;
    if (cpu === null) return;
    this.mmus.of(cpu).caches?.invalidatePage(linearPageNumberOf(linear, linearHi, this.vcpu.state));
  }

  /** INVLPGA / INVVPID individual-address on every CPU where this vCPU's id is current. */
  invalidatePage(linear: number, linearHi: number | undefined): void {
    const ext = this.vm.host.extension;
    const address = linearHi === undefined ? linear : linearToBigInt(linear, linearHi);
    for (const [cpuIndex, assignment] of this.ids) {
      const cpu = this.vm.host.cpus[cpuIndex];
      if (cpu.ids.isCurrent(assignment.generation)) ext.invalidatePage(cpu.caches, assignment.id, address);
    }
  }

  /** Loads the guest's PAE PDPTEs where the vendor loads them at MOV CR3 (EPT), backing pages the load touches. */
  private loadGuestPdptes(): TranslateStatus {
    const vcpu = this.vcpu;
    if (vcpu.state.mode !== PagingMode.Pae) return TranslateStatus.Ok;
    const vm = this.vm;
    const mmu = this.mmus.of(vcpu.cpu ?? vm.host.cpus[0]);
    const t = this.pdpteLoad;
    for (let resumed = 0; resumed <= MAX_RESUMES; resumed++) {
      const status = mmu.loadGuestPdptes(t);
      if (status !== TranslateStatus.NestedFault) return status;
      // An EPT violation on the PDPTE load (exit qualification bit 7 clear, SDM vol. 3C §29.3.2): the
      // hypervisor backs the page and the MOV to CR3 is retried.
      const report = vm.host.extension.exitOf(t.nestedFault);
      const exit = this.port.takeExit(report.name, { kind: 'nested-fault', fault: t.nestedFault });
      const gpa = t.nestedFault.guestPhysical;
      const resolvable = report.missingMapping && vm.contains(gpa) && vm.hostAddressOf(gpa) < 0;
      if (exit.action === ExitAction.Surface || (exit.action === ExitAction.Default && !resolvable)) {
        this.port.resume();
        return TranslateStatus.GeneralProtection;
      }
      if (exit.action === ExitAction.Default) {
        vm.populate(gpa);
        vm.host.stats.countPagePopulation();
      }
      this.port.resume();
    }
    return TranslateStatus.GeneralProtection;
  }

  private syncContext(cpu: PhysicalCpu, id: number): void {
    const caches = this.mmus.of(cpu).caches;
    if (caches === null) return;
    const ext = this.vm.host.extension;
    caches.context = ext.guestContext(cpu.caches, id, this.vcpu.state.pcid, this.tables);
    caches.nestedContext = ext.nestedContext(cpu.caches, id, this.tables);
  }
}
