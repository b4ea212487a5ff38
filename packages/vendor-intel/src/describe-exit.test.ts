import { AccessKind, CpuState, Cr0, PageTableBuilder, PagingMode } from '@hvsim/cpu-core';
import { HostMachine } from '@hvsim/hypervisor';
import { NestedFault, NestedFaultKind, TranslateStatus } from '@hvsim/mmu-nested';
import { GuestAccess } from '@hvsim/platform';
import { describe, expect, it } from 'vitest';
import { VmxExtension } from './vmx-extension.js';

/*
 * Basic exit reasons of the exits the hypervisor takes (SDM vol. 3C Appendix C): exception or NMI 0,
 * INVLPG 14, VMCALL 18, control-register access 28, EPT violation 48, EPT misconfiguration 49; exit
 * qualifications of SDM vol. 3C §27.2.1 (2016 edition): for #PF the faulting linear address, for
 * INVLPG the linear-address operand, for a CR access Table 27-3 (CR number in bits 3:0, access type
 * in 5:4 with 0 = MOV to CR, GPR in 11:8); the VM-exit interruption information of §24.9.2 (vector
 * 7:0, type 10:8 with 3 = hardware exception, error code valid bit 11, valid bit 31).
 */
describe('VmxExtension.describeExit', () => {
  const vmx = new VmxExtension();

  it('a #PF is exception or NMI (0): qualification = the linear address, error code in the interruption fields', () => {
    const r = vmx.describeExit({
      kind: 'exception',
      vector: 14,
      errorCode: 5,
      addressLo: 0x40_1000,
      addressHi: 0,
    });
    expect(r).toMatchObject({
      code: 0,
      info1: 0x40_1000n,
      interruptionInfo: 0x8000_0b0e,
      interruptionErrorCode: 5,
    });
  });

  it('MOV to CR3 from RDX is a control-register access (28) with qualification 0x203', () => {
    expect(vmx.describeExit({ kind: 'cr-write', cr: 3, gpr: 2 })).toMatchObject({ code: 28, info1: 0x203n });
    expect(vmx.describeExit({ kind: 'cr-write', cr: 4, gpr: 0 }).info1).toBe(4n);
  });

  it('INVLPG is 14 with the operand, VMCALL 18, EPT violation 48, EPT misconfiguration 49', () => {
    expect(vmx.describeExit({ kind: 'invlpg', linearLo: 0, linearHi: 0xffff_8000 })).toMatchObject({
      code: 14,
      info1: 0xffff_8000_0000_0000n,
    });
    expect(vmx.describeExit({ kind: 'hypercall' })).toMatchObject({ code: 18, info1: 0n });
    const fault = new NestedFault();
    fault.kind = NestedFaultKind.EptViolation;
    fault.infoLo = 0x181;
    fault.guestPhysical = 0x9000;
    expect(vmx.describeExit({ kind: 'nested-fault', fault })).toMatchObject({
      code: 48,
      info1: 0x181n,
      info2: 0x9000n,
    });
    fault.kind = NestedFaultKind.EptMisconfiguration;
    expect(vmx.describeExit({ kind: 'nested-fault', fault }).code).toBe(49);
  });
});

describe('VmxExtension.guestStateProblem: real-mode guests need "unrestricted guest" under EPT', () => {
  it('an unrestricted guest runs in real mode; without it VM entry fails (SDM vol. 3C §27.3.1.1; §26.3.1.1 in the 2016 edition)', () => {
    const real = { cr0: 0, cr3: 0, cr4: 0, efer: 0 };
    const unrestricted = new HostMachine({ extension: new VmxExtension() });
    const ok = unrestricted.createVm({ memorySize: 0x10_0000 }).createVcpu();
    ok.run(unrestricted.cpus[0]);
    expect(ok.setControlRegisters(real)).toBe(TranslateStatus.Ok);
    const out = new GuestAccess();
    expect(ok.access(0xb8000, AccessKind.Write, out)).toBe(TranslateStatus.Ok);

    const restricted = new HostMachine({
      extension: new VmxExtension({ capabilities: { unrestrictedGuest: false } }),
    });
    const vm = restricted.createVm({ memorySize: 0x10_0000 });
    const vcpu = vm.createVcpu();
    // A new vCPU is in protected mode with paging off: it cannot enter.
    expect(() => vcpu.run(restricted.cpus[0])).toThrow(/unrestricted guest/);
    const paged = vm.createVcpu();
    const frames = { next: 0x1000 };
    const memory = {
      readWord: (a: number) => paged.readPhysical(a),
      writeWord: (a: number, v: number) => paged.writePhysical(a, v),
    };
    const tables = new PageTableBuilder(memory, PagingMode.Legacy32, () => (frames.next += 0x1000));
    tables.map(0, 0);
    expect(paged.setControlRegisters({ cr0: Cr0.PE | Cr0.PG, cr3: tables.root, cr4: 0, efer: 0 })).toBe(
      TranslateStatus.Ok,
    );
    paged.run(restricted.cpus[0]);
    expect(() => paged.setControlRegisters(real)).toThrow(/unrestricted guest/);
    expect(paged.state.cr0).toBe((Cr0.PE | Cr0.PG) >>> 0);
    // PG=1 with PE=0 fails whatever the controls.
    expect(
      new VmxExtension().guestStateProblem(Object.assign(new CpuState(), { cr0: Cr0.PG }), 'shadow'),
    ).toMatch(/CR0.PG=1 with CR0.PE=0/);
  });
});
