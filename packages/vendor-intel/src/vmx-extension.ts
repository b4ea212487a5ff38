import { type CpuState, Cr0, linearPageNumberOfBigInt, type PhysicalMemory } from '@hvsim/cpu-core';
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
import { ASID_NONE, flushTargets, tagTableOf } from '@hvsim/tlb-tagged';
import { EptBuilder } from './ept-builder.js';
import { EptStage } from './ept-stage.js';
import {
  InveptType,
  InvvpidType,
  invept,
  inveptDescriptor,
  invvpid,
  invvpidDescriptor,
} from './invalidation.js';
import {
  type ResolvedVmxCapabilities,
  resolveVmxCapabilities,
  type VmxCapabilities,
} from './vmx-capabilities.js';
import { VmxExitReason } from './vmx-exit-reason.js';
import { invalidateVpidZero } from './world-switch.js';

/** The exit kinds EPT's faults are counted by (SDM vol. 3C §29.3.3: EPT violations and misconfigurations). */
export const EPT_EXIT_KINDS = {
  Violation: 'EPT violation',
  Misconfiguration: 'EPT misconfiguration',
} as const;

/** EPT tables in host memory, every page readable, writable and executable with write-back memory type. */
class EptTables implements NestedTables {
  readonly pointer: bigint;
  readonly root: number;
  private readonly builder: EptBuilder;

  constructor(memory: PhysicalMemory, allocate: () => number, accessedDirty: boolean) {
    this.builder = new EptBuilder(memory, allocate);
    this.root = this.builder.root;
    this.pointer = this.builder.eptp(accessedDirty);
  }

  map(gpa: number, hpa: number, size: BackingPageSize): void {
    this.builder.map(gpa, hpa, { size });
  }

  unmap(gpa: number, size: BackingPageSize): boolean {
    return this.builder.unmap(gpa, size);
  }
}

/** Options of the VMX extension. */
export interface VmxExtensionOptions {
  /** The VMX capabilities (VPID, EPT A/D, INVEPT/INVVPID types…; default a recent part). */
  readonly capabilities?: VmxCapabilities;
  /** Set EPTP bit 6, enabling EPT accessed and dirty flags (default: when the CPU supports them). */
  readonly accessedDirty?: boolean;
}

const VMX_ROOT = { vmxOperation: true } as const;

/**
 * Intel VMX as the hypervisor's extension: EPT nested tables, VPIDs as tags ("enable VPID"), INVVPID and
 * INVEPT for the flushes a VM entry needs (SDM vol. 3C §29.4.3), INVEPT single-context after the
 * hypervisor changes EPT, and EPT violations and misconfigurations as exits 48 and 49. Combined
 * translations are tagged by VPID, PCID and EP4TA, guest-physical ones by EP4TA alone (§29.4.1). Without
 * VPIDs every guest runs with VPID 0 and every VM entry and VM exit flushes VPID 0's linear and combined
 * translations (§29.4.3.1).
 */
export class VmxExtension implements VirtualizationExtension {
  readonly vendor = 'intel';
  readonly tagged: boolean;
  readonly idsPerCpu = 0xffff;
  readonly capabilities: ResolvedVmxCapabilities;
  readonly accessedDirty: boolean;

  constructor(options: VmxExtensionOptions = {}) {
    this.capabilities = resolveVmxCapabilities(options.capabilities);
    this.tagged = this.capabilities.vpid;
    this.accessedDirty = options.accessedDirty ?? this.capabilities.accessedDirty;
  }

  createNestedTables(memory: PhysicalMemory, allocate: () => number): NestedTables {
    return new EptTables(memory, allocate, this.accessedDirty);
  }

  createStage(memory: PhysicalMemory, tables: NestedTables): NestedStage {
    return new EptStage(memory, { eptp: tables.pointer, capabilities: this.capabilities });
  }

  private vpid(id: number): number {
    return this.tagged ? id : 0;
  }

  guestContext(caches: CpuTranslationCaches, id: number, pcid: number, tables: NestedTables | null): number {
    const tags = tagTableOf(caches);
    if (tags === null) return 0;
    // With EPT, combined mappings are tagged by VPID, PCID and EP4TA; with EPT off (shadow paging) the
    // CPU creates linear mappings, tagged by VPID and PCID alone (SDM vol. 3C §29.4.1).
    return tables === null
      ? tags.context(this.vpid(id), pcid)
      : tags.context(this.vpid(id), pcid, tables.root);
  }

  nestedContext(caches: CpuTranslationCaches, _id: number, tables: NestedTables): number {
    const tags = tagTableOf(caches);
    return tags === null ? 0 : tags.nestedContext(ASID_NONE, tables.root);
  }

  enterGuest(caches: CpuTranslationCaches, id: number, tables: NestedTables | null, flush: EntryFlush): void {
    if (!this.tagged) {
      // Without VPIDs every guest runs as VPID 0000H, whose linear and combined mappings (all PCIDs,
      // all EP4TAs) the VM entry itself invalidates; guest-physical mappings are not VPID-tagged and
      // survive it (SDM vol. 3C §29.4.3.1). That is the whole flush a world switch asks for here:
      // there is no INVVPID (#UD without VPIDs), and no INVEPT, which the architecture does not make.
      invalidateVpidZero(caches);
      if (flush === EntryFlush.All) return;
    }
    if (flush === EntryFlush.All) {
      expectSuccess(
        invvpid(InvvpidType.AllContext, invvpidDescriptor(0), VMX_ROOT, caches, this.capabilities),
      );
      expectSuccess(invept(InveptType.AllContext, inveptDescriptor(0), VMX_ROOT, caches, this.capabilities));
    } else if (flush === EntryFlush.Guest) {
      if (this.tagged) {
        expectSuccess(
          invvpid(InvvpidType.SingleContext, invvpidDescriptor(id), VMX_ROOT, caches, this.capabilities),
        );
      }
      // With EPT off there is no EPTP to invalidate: INVVPID alone removes the guest's linear mappings.
      if (tables !== null) {
        expectSuccess(
          invept(
            InveptType.SingleContext,
            inveptDescriptor(tables.pointer),
            VMX_ROOT,
            caches,
            this.capabilities,
          ),
        );
      }
    }
  }

  exitGuest(caches: CpuTranslationCaches): void {
    if (!this.tagged) invalidateVpidZero(caches);
  }

  invalidateNested(caches: CpuTranslationCaches, tables: NestedTables): boolean {
    expectSuccess(
      invept(InveptType.SingleContext, inveptDescriptor(tables.pointer), VMX_ROOT, caches, this.capabilities),
    );
    return true;
  }

  invalidatePage(caches: CpuTranslationCaches, id: number, linear: number | bigint): void {
    if (!this.tagged) {
      // Without VPIDs the guest runs as VPID 0000H: the INVLPG it runs (a shootdown's IPI handler, say)
      // invalidates VPID 0000H's linear and combined mappings of the page (SDM vol. 3A §4.10.4.1, vol.
      // 3C §29.4.3.1), which must not wait for the vCPU's next VM exit.
      const vpn = linearPageNumberOfBigInt(BigInt(linear));
      flushTargets(caches, false, (t) => t.flushAddress(0, vpn));
      return;
    }
    expectSuccess(
      invvpid(
        InvvpidType.IndividualAddress,
        invvpidDescriptor(id, linear),
        VMX_ROOT,
        caches,
        this.capabilities,
      ),
    );
  }

  /**
   * The VM exit an event causes, by basic exit reason (SDM vol. 3C Appendix C), with the exit
   * qualification (SDM vol. 3C §27.2.1 in the 2016 edition, §28.2.1 later):
   * - exception or NMI, 0: for #PF the qualification is the faulting linear address; the VM-exit
   *   interruption information holds the vector, type 3 (hardware exception), error-code-valid (bit 11)
   *   and valid (bit 31), and the interruption error code field the #PF error code (§24.9.2 / §25.9.2);
   * - control-register access, 28: qualification bits 3:0 the CR number, 5:4 the access type (0 = MOV
   *   to CR), 11:8 the GPR (Table 27-3 / 28-3);
   * - INVLPG, 14: qualification = the linear-address operand;
   * - VMCALL, 18: qualification 0; EPT violation 48 and misconfiguration 49: see `exitOf`.
   */
  describeExit(event: ExitEvent): ExitReport {
    switch (event.kind) {
      case 'nested-fault':
        return this.exitOf(event.fault);
      case 'exception': {
        const hardwareException = 3 << 8;
        // #DF, #TS, #NP, #SS, #GP, #PF and #AC deliver an error code (SDM vol. 3A §6.13).
        const vector = event.vector;
        const hasErrorCode = vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
        const info = (vector | hardwareException | (hasErrorCode ? 1 << 11 : 0) | 0x8000_0000) >>> 0;
        // The exit qualification of a #PF is the faulting linear address.
        const pf = vector === 14;
        return new ExitRecord(
          VmxExitReason.ExceptionOrNmi,
          'exception or NMI',
          pf ? event.addressLo : 0,
          pf ? event.addressHi : 0,
          0,
          0,
          false,
          { info, errorCode: hasErrorCode ? event.errorCode >>> 0 : 0 },
        );
      }
      case 'cr-write':
        // Access type 0 (MOV to CR) in bits 5:4.
        return new ExitRecord(
          VmxExitReason.ControlRegisterAccess,
          'control-register access',
          (event.cr & 0xf) | ((event.gpr & 0xf) << 8),
          0,
          0,
          0,
          false,
        );
      case 'invlpg':
        return new ExitRecord(VmxExitReason.Invlpg, 'INVLPG', event.linearLo, event.linearHi, 0, 0, false);
      case 'hypercall':
        return new ExitRecord(VmxExitReason.Vmcall, 'VMCALL', 0, 0, 0, 0, false);
    }
  }

  /**
   * VM entry's CR0 checks (SDM vol. 3C §27.3.1.1; §26.3.1.1 in the 2016 edition): CR0.PG=1 with CR0.PE=0 always fails; without
   * "unrestricted guest" CR0.PE and CR0.PG are fixed to 1 (IA32_VMX_CR0_FIXED0), so a real-mode or
   * unpaged guest cannot enter under EPT. Under shadow paging the hypervisor runs the guest with paging
   * on the shadow tables itself, so only the first check applies.
   */
  guestStateProblem(state: CpuState, paging: string): string | null {
    const pe = (state.cr0 & Cr0.PE) !== 0;
    const pg = (state.cr0 & Cr0.PG) !== 0;
    if (pg && !pe)
      return 'CR0.PG=1 with CR0.PE=0 fails VM entry, even for an unrestricted guest (SDM vol. 3C §27.3.1.1; §26.3.1.1 in the 2016 edition)';
    if (paging !== 'shadow' && !this.capabilities.unrestrictedGuest && (!pe || !pg)) {
      return 'without "unrestricted guest" CR0.PE and CR0.PG must be 1 at VM entry (SDM vol. 3C §27.3.1.1; §26.3.1.1 in the 2016 edition)';
    }
    return null;
  }

  exitOf(fault: NestedFault): ExitReport {
    if (fault.kind === NestedFaultKind.EptMisconfiguration) {
      return new ExitRecord(
        VmxExitReason.EptMisconfiguration,
        EPT_EXIT_KINDS.Misconfiguration,
        0,
        0,
        fault.guestPhysical,
        0,
        false,
      );
    }
    if (fault.kind !== NestedFaultKind.EptViolation) throw new Error('a VMX stage reported a non-EPT fault');
    return new ExitRecord(
      VmxExitReason.EptViolation,
      EPT_EXIT_KINDS.Violation,
      fault.infoLo >>> 0,
      fault.infoHi >>> 0,
      fault.guestPhysical,
      0,
      // Bits 3-6 clear: some entry of the walk grants nothing, i.e. was not present (Table 28-7).
      (fault.infoLo & 0x78) === 0,
    );
  }
}

function expectSuccess(result: { readonly status: string }): void {
  if (result.status !== 'succeed')
    throw new Error(`a VMX invalidation from the hypervisor failed: ${JSON.stringify(result)}`);
}
