import type { PhysicalMemory } from '@hvsim/cpu-core';
import {
  type BackingPageSize,
  type CpuTranslationCaches,
  EntryFlush,
  type ExitReport,
  type NestedTables,
  type VirtualizationExtension,
} from '@hvsim/hypervisor';
import { type NestedFault, NestedFaultKind, type NestedStage } from '@hvsim/mmu-nested';
import { ASID_NONE, flushTargets } from '@hvsim/tlb-tagged';
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

  guestContext(caches: CpuTranslationCaches, id: number, pcid: number, tables: NestedTables): number {
    const tags = caches.tlb?.tags ?? caches.walkCache?.tags ?? caches.nestedTlb?.tags;
    return tags === undefined ? 0 : tags.context(this.vpid(id), pcid, tables.root);
  }

  nestedContext(caches: CpuTranslationCaches, _id: number, tables: NestedTables): number {
    const tags = caches.nestedTlb?.tags ?? caches.tlb?.tags ?? caches.walkCache?.tags;
    return tags === undefined ? 0 : tags.nestedContext(ASID_NONE, tables.root);
  }

  enterGuest(caches: CpuTranslationCaches, id: number, tables: NestedTables, flush: EntryFlush): void {
    if (!this.tagged) this.flushVpidZero(caches);
    if (flush === EntryFlush.All) {
      // Without VPIDs there is no INVVPID (#UD); the entry's own flush of VPID 0 stands in for it.
      if (this.tagged) {
        expectSuccess(
          invvpid(InvvpidType.AllContext, invvpidDescriptor(0), VMX_ROOT, caches, this.capabilities),
        );
      }
      expectSuccess(invept(InveptType.AllContext, inveptDescriptor(0), VMX_ROOT, caches, this.capabilities));
    } else if (flush === EntryFlush.Guest) {
      if (this.tagged) {
        expectSuccess(
          invvpid(InvvpidType.SingleContext, invvpidDescriptor(id), VMX_ROOT, caches, this.capabilities),
        );
      }
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

  exitGuest(caches: CpuTranslationCaches): void {
    if (!this.tagged) this.flushVpidZero(caches);
  }

  invalidateNested(caches: CpuTranslationCaches, tables: NestedTables): boolean {
    expectSuccess(
      invept(InveptType.SingleContext, inveptDescriptor(tables.pointer), VMX_ROOT, caches, this.capabilities),
    );
    return true;
  }

  invalidatePage(caches: CpuTranslationCaches, id: number, linear: number): void {
    // Without VPIDs the guest's translations die at its next VM exit anyway (§29.4.3.1).
    if (!this.tagged) return;
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

  exitOf(fault: NestedFault): ExitReport {
    if (fault.kind === NestedFaultKind.EptMisconfiguration) {
      return {
        code: VmxExitReason.EptMisconfiguration,
        name: 'EPT misconfiguration',
        info1: 0n,
        info2: BigInt(fault.guestPhysical),
        missingMapping: false,
      };
    }
    if (fault.kind !== NestedFaultKind.EptViolation) throw new Error('a VMX stage reported a non-EPT fault');
    const qualification = (BigInt(fault.infoHi) << 32n) | BigInt(fault.infoLo >>> 0);
    return {
      code: VmxExitReason.EptViolation,
      name: 'EPT violation',
      info1: qualification,
      info2: BigInt(fault.guestPhysical),
      // Bits 3-6 clear: some entry of the walk grants nothing, i.e. was not present (Table 28-7).
      missingMapping: (fault.infoLo & 0x78) === 0,
    };
  }

  private flushVpidZero(caches: CpuTranslationCaches): void {
    flushTargets(caches, false, (t) => t.flushAddressSpace(0));
  }
}

function expectSuccess(result: { readonly status: string }): void {
  if (result.status !== 'succeed')
    throw new Error(`a VMX invalidation from the hypervisor failed: ${JSON.stringify(result)}`);
}
