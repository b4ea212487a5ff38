import { Efer, PageTableBuilder, PagingMode, type PhysicalMemory, PteFlag } from '@hvsim/cpu-core';
import {
  type BackingPageSize,
  type CpuTranslationCaches,
  EntryFlush,
  type ExitEvent,
  type NestedTables,
  type VirtualizationExtension,
} from '@hvsim/hypervisor';
import { type NestedFault, NestedFaultKind, type NestedStage } from '@hvsim/mmu-nested';
import { ExitRecord, type ExitReport } from '@hvsim/platform';
import { tagTableOf } from '@hvsim/tlb-tagged';
import { invlpga } from './invlpga.js';
import { DEFAULT_HOST_PAGING, type HostPagingState, NptStage, VMEXIT_NPF } from './npt-stage.js';
import {
  type ResolvedSvmCapabilities,
  resolveSvmCapabilities,
  type SvmCapabilities,
} from './svm-capabilities.js';
import { applyTlbControl, TlbControl } from './tlb-control.js';
import { crWriteExitCode, exceptionExitCode, VmExitCode, vmExitCodeName } from './vmexit-code.js';

/** The exit kind a nested page fault is counted by (#VMEXIT(NPF), APM vol. 2 §15.25.6). */
export const NPT_EXIT_KINDS = { NestedPageFault: 'NPF' } as const;

/** EXITINFO1 bit 63 (bit 31 of the high half) of a MOV CRx intercept with decode assists: the instruction was a MOV (APM vol. 2 §15.8.1). */
const CR_MOV_VALID_HI = 0x8000_0000;

/** Nested tables in the host's 4-level format, every page user, writable and executable (NPT, APM vol. 2 §15.25). */
class NptTables implements NestedTables {
  readonly pointer: bigint;
  readonly root: number;
  private readonly builder: PageTableBuilder;

  constructor(memory: PhysicalMemory, allocate: () => number) {
    this.builder = new PageTableBuilder(memory, PagingMode.Level4, allocate);
    this.root = this.builder.root;
    this.pointer = BigInt(this.root);
  }

  map(gpa: number, hpa: number, size: BackingPageSize): void {
    // Guest accesses are user accesses at the nested level (§15.25.5): the entries must be user pages.
    this.builder.map(gpa, hpa, { size, flags: PteFlag.P | PteFlag.RW | PteFlag.US });
  }

  unmap(gpa: number, size: BackingPageSize): boolean {
    return this.builder.unmap(gpa, size);
  }
}

/** Options of the SVM extension. */
export interface SvmExtensionOptions {
  /** The SVM capabilities (number of ASIDs, FlushByAsid…; default a recent part). */
  readonly capabilities?: SvmCapabilities;
  /** The hypervisor's paging registers at VMRUN (default 4-level long mode with NXE). */
  readonly host?: HostPagingState;
}

/**
 * AMD SVM as the hypervisor's extension: NPT nested tables, ASIDs as tags, TLB_CONTROL on VMRUN
 * (APM vol. 2 §15.16.1: 03h to flush a guest's ASID with FlushByAsid, else 01h), INVLPGA to invalidate a
 * guest page (§15.16.2), and #VMEXIT(NPF) for nested faults (§15.25.6). SVM cannot invalidate cached
 * translations by guest-physical address, so `invalidateNested` answers false and the hypervisor flushes
 * the guest's ASID at its next VMRUN.
 */
export class SvmExtension implements VirtualizationExtension {
  readonly vendor = 'amd';
  readonly tagged: boolean;
  readonly idsPerCpu: number;
  readonly capabilities: ResolvedSvmCapabilities;
  readonly host: HostPagingState;

  constructor(options: SvmExtensionOptions = {}) {
    this.capabilities = resolveSvmCapabilities(options.capabilities);
    this.host = options.host ?? DEFAULT_HOST_PAGING;
    this.tagged = this.capabilities.asidTagging;
    // ASID 0 is the host's (APM vol. 2 §15.5.1): guests get 1 .. count - 1.
    this.idsPerCpu = Math.max(1, this.capabilities.asidCount - 1);
  }

  createNestedTables(memory: PhysicalMemory, allocate: () => number): NestedTables {
    return new NptTables(memory, allocate);
  }

  createStage(memory: PhysicalMemory, tables: NestedTables): NestedStage {
    return new NptStage(memory, { nestedCr3: tables.pointer, host: this.host });
  }

  guestContext(caches: CpuTranslationCaches, id: number, pcid: number): number {
    const tags = tagTableOf(caches);
    return tags === null ? 0 : tags.context(id, pcid);
  }

  nestedContext(caches: CpuTranslationCaches, id: number): number {
    // Under nested paging an ASID tags a guest-physical address space (§15.25.1).
    const tags = tagTableOf(caches);
    return tags === null ? 0 : tags.nestedContext(id);
  }

  enterGuest(
    caches: CpuTranslationCaches,
    id: number,
    _tables: NestedTables | null,
    flush: EntryFlush,
  ): void {
    // TLB_CONTROL 00h flushes nothing (APM vol. 2 §15.16.1): the common VMRUN, after every exit.
    if (flush === EntryFlush.None) return;
    const value =
      flush === EntryFlush.Guest && this.capabilities.features.FlushByAsid
        ? TlbControl.FlushGuest
        : TlbControl.FlushAll;
    applyTlbControl(value, id, caches, this.capabilities);
  }

  exitGuest(): void {
    // #VMEXIT resets the current ASID to 0 (§15.6); tagged guest entries stay in the TLB.
  }

  invalidateNested(): boolean {
    return false;
  }

  invalidatePage(caches: CpuTranslationCaches, id: number, linear: number | bigint): void {
    const result = invlpga({ efer: Efer.SVME, cpl: 0, rax: BigInt(linear), ecx: id }, caches);
    if (result.kind !== 'done')
      throw new Error(`INVLPGA from the hypervisor failed: ${JSON.stringify(result)}`);
  }

  /**
   * The #VMEXIT an event causes (APM vol. 2 Appendix C, Table C-1), with EXITINFO1/2:
   * - #PF intercept, 40h + 14 = 4Eh: EXITINFO1 = the #PF error code, EXITINFO2 = the faulting linear
   *   address; the intercept is taken before CR2 is written (§15.12.15);
   * - MOV to CRn, 10h + n: with DecodeAssists EXITINFO1 bit 63 = 1 (a MOV) and bits 3:0 = the GPR,
   *   else 0 (§15.8.1);
   * - INVLPG, 79h: with DecodeAssists EXITINFO1 = the linear address, else 0 (§15.8.3);
   * - VMMCALL, 81h: no information (§15.11); NPF, 400h: see `exitOf` (§15.25.6).
   */
  describeExit(event: ExitEvent): ExitReport {
    const decode = this.capabilities.features.DecodeAssists;
    switch (event.kind) {
      case 'nested-fault':
        return this.exitOf(event.fault);
      case 'exception': {
        const code = exceptionExitCode(event.vector);
        // EXITINFO1: the error code; EXITINFO2: for #PF the faulting address (APM vol. 2 §15.12).
        const pf = event.vector === 14;
        return new ExitRecord(
          code,
          vmExitCodeName(code),
          event.errorCode >>> 0,
          0,
          pf ? event.addressLo : 0,
          pf ? event.addressHi : 0,
          false,
        );
      }
      case 'cr-write': {
        const code = crWriteExitCode(event.cr);
        // With decode assists: bit 63 (a MOV) and the GPR number in bits 3:0 (APM vol. 2 §15.8.1).
        return new ExitRecord(
          code,
          vmExitCodeName(code),
          decode ? event.gpr & 0xf : 0,
          decode ? CR_MOV_VALID_HI : 0,
          0,
          0,
          false,
        );
      }
      case 'invlpg':
        // With decode assists EXITINFO1 holds the linear address (APM vol. 2 §15.8.3).
        return new ExitRecord(
          VmExitCode.INVLPG,
          'INVLPG',
          decode ? event.linearLo : 0,
          decode ? event.linearHi : 0,
          0,
          0,
          false,
        );
      case 'hypercall':
        return new ExitRecord(VmExitCode.VMMCALL, 'VMMCALL', 0, 0, 0, 0, false);
    }
  }

  exitOf(fault: NestedFault): ExitReport {
    if (fault.kind !== NestedFaultKind.NestedPageFault)
      throw new Error('an SVM stage reported a non-NPF fault');
    return new ExitRecord(
      VMEXIT_NPF,
      NPT_EXIT_KINDS.NestedPageFault,
      fault.infoLo >>> 0,
      fault.infoHi >>> 0,
      fault.guestPhysical,
      0,
      // EXITINFO1 bit 0 clear: the nested entry was not present (§15.25.6).
      (fault.infoLo & 1) === 0,
    );
  }
}
