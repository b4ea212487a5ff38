import { makeCaches, type Planted, plant, survivors } from '@hvsim/test-utils';
import { describe, expect, it } from 'vitest';
import { VmEntryCheck } from './vm-entry-checks.js';
import { Vmcs, VmcsField } from './vmcs.js';
import { EntryControl, PrimaryControl, SecondaryControl } from './vmx-controls.js';
import { VmxExitReason } from './vmx-exit-reason.js';
import { VmxWorldSwitch } from './world-switch.js';

/*
 * Intel SDM vol. 3C §29.4.3.1 (§28.3.3.1 in the 2016 edition): "If the 'enable VPID' VM-execution
 * control is 0, VM entries and VM exits invalidate linear mappings and combined mappings associated
 * with VPID 0000H (for all PCIDs and, for combined mappings, all EP4TAs)." Guest-physical mappings are
 * not VPID-tagged. With "enable VPID" = 1 entries and exits invalidate nothing; the current VPID is
 * the VMCS's in non-root operation and 0000H in root operation (§29.1).
 */

const EP4TA = 0x10_0000;
const EPTP = BigInt(EP4TA) | 6n | (3n << 3n);

const plan: readonly Planted[] = [
  { name: 'host linear', where: 'tlb', vpid: 0, vpn: 0x10 },
  { name: 'host global', where: 'tlb', vpid: 0, vpn: 0x11, global: true },
  { name: 'vpid 0 combined', where: 'tlb', vpid: 0, ep4ta: EP4TA, vpn: 0x12 },
  { name: 'host walk-cache PDE', where: 'walk', vpid: 0, vpn: 0x10 },
  { name: 'guest vpid 7 combined', where: 'tlb', vpid: 7, ep4ta: EP4TA, vpn: 0x10 },
  { name: 'guest-physical', where: 'nested', vpid: 0, ep4ta: EP4TA, vpn: 0x30 },
];
const all = plan.map((p) => p.name);

function guestVmcs(secondary: number, vpid = 7): Vmcs {
  const vmcs = new Vmcs();
  vmcs.write(VmcsField.PrimaryProcessorControls, PrimaryControl.ActivateSecondaryControls);
  vmcs.write(VmcsField.SecondaryProcessorControls, secondary);
  vmcs.write(VmcsField.Vpid, vpid);
  vmcs.write(VmcsField.Eptp, EPTP);
  vmcs.write(VmcsField.VmEntryControls, EntryControl.Ia32eModeGuest);
  vmcs.write(VmcsField.GuestCr0, 0x8000_0021);
  vmcs.write(VmcsField.GuestCr4, 0x2020);
  vmcs.write(VmcsField.GuestRflags, 2);
  return vmcs;
}

const WITH_VPID = SecondaryControl.EnableEpt | SecondaryControl.EnableVpid;
const WITHOUT_VPID = SecondaryControl.EnableEpt;

describe('VMX transitions and cached mappings (SDM vol. 3C §29.4.3.1)', () => {
  it('with "enable VPID", VM entry and VM exit invalidate nothing', () => {
    const caches = makeCaches();
    plant(caches, plan);
    const cpu = new VmxWorldSwitch(caches);
    expect(cpu.vmEntry(guestVmcs(WITH_VPID))).toEqual({ entered: true, vpid: 7, ep4ta: EP4TA, removed: 0 });
    expect([cpu.vpid, cpu.ep4ta, cpu.inGuest]).toEqual([7, EP4TA, true]);
    expect(cpu.vmExit(VmxExitReason.Cpuid)).toBe(0);
    expect([cpu.vpid, cpu.ep4ta, cpu.inGuest]).toEqual([0, -1, false]);
    expect(survivors(caches, plan)).toEqual(all);
  });

  it('without "enable VPID", VM entry and VM exit each invalidate the VPID-0000H linear and combined mappings', () => {
    const caches = makeCaches();
    plant(caches, plan);
    const cpu = new VmxWorldSwitch(caches);
    const entered = cpu.vmEntry(guestVmcs(WITHOUT_VPID));
    expect(entered).toMatchObject({ entered: true, vpid: 0, ep4ta: EP4TA, removed: 4 });
    const vpidZero = ['host linear', 'host global', 'vpid 0 combined', 'host walk-cache PDE'];
    expect(survivors(caches, plan)).toEqual(all.filter((n) => !vpidZero.includes(n)));
    // The guest runs as VPID 0 and fills; the exit drops its translations again.
    plant(caches, [plan[2]]);
    expect(cpu.vmExit(VmxExitReason.Hlt)).toBe(1);
    expect(survivors(caches, plan)).toEqual(['guest vpid 7 combined', 'guest-physical']);
  });

  it('a control failure is VMfailValid: error 7 in the VM-instruction error field, no transition, no invalidation', () => {
    const caches = makeCaches();
    plant(caches, plan);
    const cpu = new VmxWorldSwitch(caches);
    const vmcs = guestVmcs(WITH_VPID, 0);
    expect(cpu.vmEntry(vmcs)).toMatchObject({
      entered: false,
      kind: 'fail-valid',
      error: 7,
      check: VmEntryCheck.VpidZero,
    });
    expect(vmcs.read(VmcsField.VmInstructionError)).toBe(7n);
    expect(cpu.inGuest).toBe(false);
    expect(survivors(caches, plan)).toEqual(all);
  });

  it('a guest-state failure writes exit reason 33 with bit 31 and its qualification', () => {
    const cpu = new VmxWorldSwitch(makeCaches());
    const vmcs = guestVmcs(WITH_VPID | SecondaryControl.UnrestrictedGuest);
    vmcs.write(VmcsField.VmEntryControls, 0);
    vmcs.write(VmcsField.GuestCr0, 0x8000_0020); // PG without PE
    expect(cpu.vmEntry(vmcs)).toMatchObject({
      entered: false,
      kind: 'entry-failure',
      exitReason: 0x8000_0021,
    });
    expect(vmcs.read(VmcsField.ExitReason)).toBe(0x8000_0021n);
    expect(vmcs.read(VmcsField.ExitQualification)).toBe(0n);
  });

  it('a VM exit writes its reason, qualification and addresses', () => {
    const cpu = new VmxWorldSwitch(makeCaches());
    const vmcs = guestVmcs(WITH_VPID);
    cpu.vmEntry(vmcs);
    cpu.vmExit(VmxExitReason.EptViolation, 0x18a, { guestPhysical: 0x40_0000, guestLinear: 0x7000_0000 });
    expect(vmcs.read(VmcsField.ExitReason)).toBe(48n);
    expect(vmcs.read(VmcsField.ExitQualification)).toBe(0x18an);
    expect(vmcs.read(VmcsField.GuestPhysicalAddress)).toBe(0x40_0000n);
    expect(vmcs.read(VmcsField.GuestLinearAddress)).toBe(0x7000_0000n);
    expect(() => cpu.vmExit(VmxExitReason.Hlt)).toThrow();
    cpu.vmEntry(vmcs);
    expect(() => cpu.vmEntry(vmcs)).toThrow();
  });
});
