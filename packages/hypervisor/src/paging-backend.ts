import type { AccessKind, CpuState, Privilege, WordMemory } from '@hvsim/cpu-core';
import type { MmuStrategy, TranslateStatus } from '@hvsim/mmu-nested';
import type { ExitReport, GuestAccess } from '@hvsim/platform';
import type { VmExit } from './exits.js';
import type { BackingPageSize, EntryFlush, ExitEvent, NestedTables } from './extension.js';
import type { Host } from './host.js';
import type { PhysicalCpu } from './physical-cpu.js';

/*
 * Paging as a strategy a VM chooses once. A `PagingBackend` is the VM's half (its nested tables, or
 * its shadow roots and write-protected guest table pages); `attach` gives each vCPU a `VcpuPaging`,
 * which owns that vCPU's MMUs, its MOV CR3 / CR0 / CR4 / INVLPG handling and the resolution of the
 * exits its accesses take. The vCPU (`VirtualCpu`) keeps what every backend shares: ids, scheduling,
 * world switches and handler dispatch, which it lends the backend through an `ExitPort`. A backend
 * is written against the interfaces of this file alone, so a new one (agile paging, say) needs no
 * change to `VirtualCpu`.
 */

/** An id (ASID/VPID) one owner has on one physical CPU, and the generation of the CPU's pool it came from. */
export interface IdAssignment {
  readonly id: number;
  readonly generation: number;
}

/**
 * Ids by physical CPU index: whose tag a guest's translations carry. Under nested paging each vCPU
 * owns its ids; under shadow paging each guest address space (shadow root) does, since an ASID then
 * tags a guest-virtual address space (AMD APM vol. 2 §15.25.1).
 */
export type IdOwner = Map<number, IdAssignment>;

/** What a paging backend needs of the vCPU it serves. */
export interface PagingVcpu {
  readonly index: number;
  /** The guest's registers. */
  readonly state: CpuState;
  /** The physical CPU it runs on in guest mode, or null. */
  readonly cpu: PhysicalCpu | null;
  /** Asks for a flush of its translations on CPU `cpuIndex`: now if it runs there (an IPI kick), else at its next entry there. */
  requestFlush(cpuIndex: number, flush: EntryFlush): void;
}

/** What a paging backend needs of its VM: its guest-physical memory and how it is backed. */
export interface PagingVm {
  readonly id: number;
  readonly host: Host;
  readonly memorySize: number;
  readonly backing: BackingPageSize;
  readonly vcpus: readonly PagingVcpu[];
  /** Guest-physical memory as 32-bit words, backed on first write. */
  readonly guestMemory: WordMemory;
  contains(gpa: number): boolean;
  /** The host-physical address backing `gpa`, or -1. */
  hostAddressOf(gpa: number): number;
  /** Backs the page holding `gpa` (counted in `pagesPopulated`); returns its host-physical address. */
  populate(gpa: number): number;
}

/** What a vCPU lets its paging backend do: take exits, re-enter, and switch the ids it runs with. */
export interface ExitPort {
  /**
   * Leaves guest mode for an exit of `kind` described by `event` (the extension gives the vendor's
   * code and information), counts it and runs the exit handlers. The caller does the default
   * handling unless a handler resumed or surfaced it, then calls `resume`. When the vCPU is not
   * running (registers set up before it first runs) nothing exits and no handler runs.
   */
  takeExit(kind: string, event: ExitEvent, args?: readonly number[]): VmExit;
  /** `takeExit` for an exit the vendor has already described (a second-stage fault's report); the vCPU is running. */
  dispatchExit(kind: string, report: ExitReport): VmExit;
  /** Leaves guest mode for the hypervisor's own reasons (counted as an IPI kick; no handler runs); `resume` re-enters. */
  kick(): void;
  /** Re-enters guest mode after an exit (VMRUN / VM entry), with `flush`. */
  resume(flush?: EntryFlush): void;
  /**
   * During an exit: makes `owner`'s id on the current CPU the vCPU's (assigning one when it has none
   * or its generation is over) and returns the flush the re-entry needs. Nothing when not running.
   */
  switchIds(owner: IdOwner): EntryFlush;
  /** The id the vCPU runs with on its CPU (its last one when not running). */
  currentId(): number;
}

/** A vCPU's paging: its MMUs and what it does on the events paging cares about. */
export interface VcpuPaging {
  /** Whose ids the vCPU enters guest mode with (its own, or its guest address space's). */
  idOwner(): IdOwner;
  /** Whether a vCPU that moved to another CPU gets a new id there (its own ids: yes; an address space's, shared: no). */
  readonly renewOnMigration: boolean;
  /** After a world switch into the guest on `cpu` with `id`: loads the context and tables the CPU translates with. */
  install(cpu: PhysicalCpu, id: number): void;
  /**
   * A guest access (the vCPU runs on `cpu`): translates, and resolves the exits it takes (backs a
   * page, fills a shadow entry, emulates) or ends on one a handler surfaced. Writes `out.translation`,
   * `out.exit` and `out.resolvedExits`; counts each translation.
   */
  access(
    cpu: PhysicalCpu,
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    out: GuestAccess,
  ): TranslateStatus;
  /**
   * The hit path, optional (a backend that must see every access leaves it out): the MMU a guest
   * access may translate with directly, set by `install`, or null while the backend must see the next
   * access first (a shadow root to rebuild or reload). The vCPU counts that translation; when it
   * does not end Ok, `resolve` takes over.
   */
  readonly mmu?: MmuStrategy | null;
  /**
   * With `mmu`: the rest of `access` after `mmu.translate` returned `status` (counted) for the access:
   * resolves the exits it takes as `access` would, counting each further translation.
   */
  resolve?(
    cpu: PhysicalCpu,
    status: TranslateStatus,
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    out: GuestAccess,
  ): TranslateStatus;
  /** The guest kernel's store to guest-physical `gpa` (a table write under shadow paging traps). */
  writePhysical(gpa: number, value: number): void;
  /**
   * MOV to CR3, the new value already in the vCPU's state (restored by the vCPU unless Ok):
   * `noFlush` is bit 63 of the operand (SDM vol. 3A §4.10.4.1).
   */
  writeCr3(noFlush: boolean): TranslateStatus;
  /**
   * A mode switch, the new control registers already in the vCPU's state (restored by the vCPU
   * unless Ok, or when this throws because the guest could not run in that state); `before` holds
   * what the shadow tables may encode of the old ones.
   */
  setControlRegisters(before: ControlsBefore): TranslateStatus;
  /** INVLPG of guest-linear `linear` (bits 63:32 in `linearHi`) on the CPU the vCPU runs on. */
  invlpg(linear: number, linearHi: number | undefined): void;
  /** Invalidates the vCPU's translations of guest-linear page `linear` on every CPU, as a shootdown does. */
  invalidatePage(linear: number, linearHi: number | undefined): void;
}

/** The paging-relevant controls before a mode switch. */
export interface ControlsBefore {
  readonly mode: number;
  readonly nxe: boolean;
  readonly pge: boolean;
}

/** A VM's paging: chosen once, when the VM is created. */
export interface PagingBackend {
  /** 'nested', 'shadow', or a name of the backend's own (what `VirtualizationExtension.guestStateProblem` is told). */
  readonly kind: string;
  /** The VM's nested tables (AMD NPT, Intel EPT) where the backend builds them, else null. */
  readonly tables: NestedTables | null;
  /** The per-vCPU part, given the vCPU's exit port. */
  attach(vcpu: PagingVcpu, port: ExitPort): VcpuPaging;
  /** The hypervisor backed guest-physical page `gpa` (of `size`) with host-physical `hpa`. */
  mapped(gpa: number, hpa: number, size: BackingPageSize): void;
  /** The hypervisor removed the backing of page `gpa` (of `size`). */
  unmapped(gpa: number, size: BackingPageSize): void;
  /** After `unmapped` (an unmap, or a remap's move): removes every cached translation that may use the old backing. */
  invalidateBacking(): void;
}

/** Creates a VM's paging backend: what `VirtualMachineOptions.paging` takes besides 'nested' and 'shadow'. */
export type PagingBackendFactory = (vm: PagingVm) => PagingBackend;

/** Exits a handler may resume one access through before the access reports the exit (a handler that never resolves it). */
export const MAX_RESUMES = 64;
