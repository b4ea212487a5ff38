import { makeCaches, type Planted, plant, survivors } from '@hvsim/test-utils';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOST_PAGING } from './npt-stage.js';
import { TlbControl, TlbControlAction } from './tlb-control.js';
import { SvmIntercept, Vmcb } from './vmcb.js';
import { VmExitCode } from './vmexit-code.js';
import { VmrunCheck } from './vmrun-checks.js';
import { SvmWorldSwitch } from './world-switch.js';

/*
 * The TLB across SVM world switches (AMD APM vol. 2): VMRUN loads the guest's CR0, CR3, CR4 and EFER
 * without flushing "since address spaces are switched" (§15.5.1); #VMEXIT "resets the current ASID
 * register to zero (host ASID)" (§15.6); both write paging registers "but these writes do not flush the
 * TLB" (§15.16). A CPU without ASID tags cannot keep translations of two address spaces apart and must
 * flush on every switch.
 */

const plan: readonly Planted[] = [
  { name: 'host page', where: 'tlb', asid: 0, vpn: 0x10 },
  { name: 'host global', where: 'tlb', asid: 0, vpn: 0x11, global: true },
  { name: 'guest page', where: 'tlb', asid: 5, vpn: 0x10 },
  { name: 'guest nested translation', where: 'nested', asid: 5, vpn: 0x30 },
];

function guestVmcb(asid = 5, tlbControl: number = TlbControl.DoNotFlush): Vmcb {
  const vmcb = new Vmcb();
  vmcb.set('efer', 0x1d00n); // SVME, LME, LMA, NXE
  vmcb.set('cr0', 0x8000_0011n);
  vmcb.set('cr4', 0x20n);
  vmcb.set('cr3', 0x1000n);
  vmcb.set('gPat', 0x0007_0406_0007_0406n);
  vmcb.setIntercept(SvmIntercept.VMRUN);
  vmcb.npEnable = true;
  vmcb.asid = asid;
  vmcb.tlbControl = tlbControl;
  return vmcb;
}

describe('SVM world switches and the TLB (APM vol. 2 §15.5.1, §15.6, §15.16)', () => {
  it('with ASIDs, host and guest translations survive VMRUN and #VMEXIT', () => {
    const caches = makeCaches();
    plant(caches, plan);
    const cpu = new SvmWorldSwitch(caches);
    expect(cpu.asid).toBe(0);
    const entered = cpu.vmrun(guestVmcb());
    expect(entered).toEqual({
      entered: true,
      asid: 5,
      tlb: { action: TlbControlAction.None, defined: true, removed: 0 },
    });
    expect(cpu.asid).toBe(5);
    expect(cpu.inGuest).toBe(true);
    expect(cpu.vmexit(VmExitCode.VMMCALL)).toBe(0);
    expect(cpu.asid).toBe(0);
    expect(cpu.inGuest).toBe(false);
    expect(survivors(caches, plan)).toEqual(plan.map((p) => p.name));
  });

  it('#VMEXIT writes EXITCODE and EXITINFO to the VMCB; VMRUN leaves TLB_CONTROL as it was', () => {
    const caches = makeCaches();
    const cpu = new SvmWorldSwitch(caches);
    const vmcb = guestVmcb(5, TlbControl.FlushGuest);
    cpu.vmrun(vmcb);
    expect(vmcb.tlbControl).toBe(TlbControl.FlushGuest); // "reads, but does not change" (§15.16.1)
    cpu.vmexit(VmExitCode.NPF, 0x1_0000_0007n, 0x40_0000n);
    expect(vmcb.exitCode).toBe(0x400);
    expect(vmcb.get('exitInfo1')).toBe(0x1_0000_0007n);
    expect(vmcb.get('exitInfo2')).toBe(0x40_0000n);
  });

  it('VMRUN applies TLB_CONTROL to the guest being entered', () => {
    const caches = makeCaches();
    plant(caches, plan);
    const cpu = new SvmWorldSwitch(caches);
    const r = cpu.vmrun(guestVmcb(5, TlbControl.FlushGuest));
    expect(r.entered && r.tlb.removed).toBe(2);
    expect(survivors(caches, plan)).toEqual(['host page', 'host global']);
  });

  it('a failed VMRUN writes VMEXIT_INVALID, stays in the host and flushes nothing', () => {
    const caches = makeCaches();
    plant(caches, plan);
    const cpu = new SvmWorldSwitch(caches);
    const vmcb = guestVmcb(0, TlbControl.FlushAll);
    const r = cpu.vmrun(vmcb);
    expect(r).toMatchObject({ entered: false, exitCode: -1, check: VmrunCheck.AsidZero });
    expect(vmcb.exitCode).toBe(-1);
    expect(cpu.asid).toBe(0);
    expect(cpu.inGuest).toBe(false);
    expect(survivors(caches, plan)).toHaveLength(plan.length);
  });

  it('without ASID tags every VMRUN and every #VMEXIT flushes the whole TLB', () => {
    const caches = makeCaches();
    plant(caches, plan);
    const cpu = new SvmWorldSwitch(caches, { asidTagging: false });
    const r = cpu.vmrun(guestVmcb());
    expect(r.entered && r.tlb).toEqual({
      action: TlbControlAction.FlushAll,
      defined: true,
      removed: plan.length,
    });
    expect(survivors(caches, plan)).toEqual([]);
    plant(caches, [plan[2]]);
    expect(cpu.vmexit(VmExitCode.HLT)).toBe(1);
    expect(survivors(caches, plan)).toEqual([]);
  });

  it('refuses VMRUN inside a guest and #VMEXIT in the host', () => {
    const cpu = new SvmWorldSwitch(makeCaches());
    expect(() => cpu.vmexit(VmExitCode.HLT)).toThrow();
    cpu.vmrun(guestVmcb(), DEFAULT_HOST_PAGING);
    expect(() => cpu.vmrun(guestVmcb())).toThrow();
  });
});
