import { flushTargets, type TlbTargets } from '@hvsim/tlb-tagged';
import { decodeEptp } from './ept-stage.js';
import { effectiveSecondaryControls, type VmEntryCheck, vmEntryChecks } from './vm-entry-checks.js';
import { type Vmcs, VmcsField } from './vmcs.js';
import {
  type ResolvedVmxCapabilities,
  resolveVmxCapabilities,
  type VmxCapabilities,
} from './vmx-capabilities.js';
import { SecondaryControl } from './vmx-controls.js';

/** The tags an MMU must use while a guest runs: its VPID (0 without "enable VPID") and EP4TA. */
export interface VmxGuestTags {
  /** The current VPID (SDM vol. 3C §29.1: 0000H when "enable VPID" is 0). */
  readonly vpid: number;
  /** The EP4TA, EPTP bits 51:12 as an address, or -1 without EPT (tlb-tagged's NO_NESTED_ROOT). */
  readonly ep4ta: number;
}

/**
 * The invalidation every VM entry and VM exit makes when "enable VPID" is 0 (SDM vol. 3C §29.4.3.1;
 * §28.3.3.1 in the 2016 edition): the linear and combined mappings of VPID 0000H, for all PCIDs and
 * EP4TAs, in the TLB and walk cache. Guest-physical mappings are not VPID-tagged and survive it.
 * Returns the number of entries removed.
 */
export function invalidateVpidZero(targets: TlbTargets): number {
  return flushTargets(targets, false, (t) => t.flushAddressSpace(0));
}

/** The outcome of a VM entry. */
export type VmEntryOutcome =
  | (VmxGuestTags & { readonly entered: true; readonly removed: number })
  /** VMfailValid: the VM-instruction error field holds `error`; still in VMX root operation. */
  | {
      readonly entered: false;
      readonly kind: 'fail-valid';
      readonly error: number;
      readonly check: VmEntryCheck;
      readonly reason: string;
    }
  /** VM-entry failure: a VM exit with `exitReason` (bit 31 set) and `qualification` written to the VMCS. */
  | {
      readonly entered: false;
      readonly kind: 'entry-failure';
      readonly exitReason: number;
      readonly qualification: number;
      readonly check: VmEntryCheck;
      readonly reason: string;
    };

/**
 * The TLB side of VMX transitions on one logical processor (Intel SDM vol. 3C §29.4.3.1; §28.3.3.1 in
 * the 2016 edition): "If the 'enable VPID' VM-execution control is 0, VM entries and VM exits
 * invalidate linear mappings and combined mappings associated with VPID 0000H (for all PCIDs and, for
 * combined mappings, all EP4TAs)". With VPIDs nothing is invalidated: the guest's translations (its
 * VPID) and the host's (VPID 0) survive every transition. Guest-physical mappings are never
 * invalidated by VM entries or exits.
 */
export class VmxWorldSwitch {
  readonly capabilities: ResolvedVmxCapabilities;
  readonly targets: TlbTargets;
  /** The current VPID: 0 in VMX root operation and for a guest without "enable VPID". */
  vpid = 0;
  /** The current EP4TA, -1 when EPT is not in use. */
  ep4ta = -1;
  /** The VMCS of the running guest, null in VMX root operation. */
  vmcs: Vmcs | null = null;
  private vpidEnabled = false;

  constructor(targets: TlbTargets, capabilities: VmxCapabilities = {}) {
    this.targets = targets;
    this.capabilities = resolveVmxCapabilities(capabilities);
  }

  /** Whether a guest runs (VMX non-root operation). */
  get inGuest(): boolean {
    return this.vmcs !== null;
  }

  /**
   * VMLAUNCH/VMRESUME with `vmcs`: the VM-entry checks (a control failure writes the VM-instruction
   * error field; a guest-state failure writes the exit reason and qualification), then, without
   * "enable VPID", the VPID-0 invalidation, and the guest's VPID and EP4TA become current.
   */
  vmEntry(vmcs: Vmcs): VmEntryOutcome {
    if (this.vmcs !== null) throw new Error('VM entry from VMX non-root operation: VM exit first');
    const checked = vmEntryChecks(vmcs, this.capabilities);
    if (!checked.ok) {
      if (checked.kind === 'fail-valid') {
        vmcs.write(VmcsField.VmInstructionError, checked.error);
        return {
          entered: false,
          kind: 'fail-valid',
          error: checked.error,
          check: checked.check,
          reason: checked.reason,
        };
      }
      vmcs.write(VmcsField.ExitReason, checked.exitReason);
      vmcs.write(VmcsField.ExitQualification, checked.qualification);
      return {
        entered: false,
        kind: 'entry-failure',
        exitReason: checked.exitReason,
        qualification: checked.qualification,
        check: checked.check,
        reason: checked.reason,
      };
    }
    const secondary = effectiveSecondaryControls(vmcs);
    this.vpidEnabled = (secondary & SecondaryControl.EnableVpid) !== 0;
    const removed = this.vpidEnabled ? 0 : invalidateVpidZero(this.targets);
    this.vmcs = vmcs;
    this.vpid = this.vpidEnabled ? vmcs.readNumber(VmcsField.Vpid) : 0;
    this.ep4ta = -1;
    if ((secondary & SecondaryControl.EnableEpt) !== 0) {
      const decoded = decodeEptp(
        vmcs.read(VmcsField.Eptp),
        this.capabilities.maxPhysicalAddressBits,
        this.capabilities,
      );
      if (typeof decoded !== 'string') this.ep4ta = decoded.root;
    }
    return { entered: true, vpid: this.vpid, ep4ta: this.ep4ta, removed };
  }

  /**
   * A VM exit with `exitReason` and `qualification` (and, for EPT violations and misconfigurations,
   * the guest-physical and guest-linear addresses): writes them to the VMCS, returns to VMX root
   * operation (VPID 0, no EPT) and, when the guest ran without "enable VPID", invalidates the VPID-0
   * mappings again. Returns the number of entries removed.
   */
  vmExit(
    exitReason: number,
    qualification: bigint | number = 0n,
    addresses: { readonly guestPhysical?: bigint | number; readonly guestLinear?: bigint | number } = {},
  ): number {
    const vmcs = this.vmcs;
    if (vmcs === null) throw new Error('VM exit from VMX root operation');
    vmcs.write(VmcsField.ExitReason, exitReason);
    vmcs.write(VmcsField.ExitQualification, qualification);
    if (addresses.guestPhysical !== undefined)
      vmcs.write(VmcsField.GuestPhysicalAddress, addresses.guestPhysical);
    if (addresses.guestLinear !== undefined) vmcs.write(VmcsField.GuestLinearAddress, addresses.guestLinear);
    this.vmcs = null;
    this.vpid = 0;
    this.ep4ta = -1;
    return this.vpidEnabled ? 0 : invalidateVpidZero(this.targets);
  }
}
