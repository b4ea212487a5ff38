import {
  AccessKind,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  PageTableBuilder,
  PagingMode,
  PfError,
} from '@hvsim/cpu-core';
import { ExitKind, HostMachine, type VmExit } from '@hvsim/hypervisor';
import { NestedFault, NestedFaultKind, TranslateStatus } from '@hvsim/mmu-nested';
import { GuestAccess } from '@hvsim/platform';
import { describe, expect, it } from 'vitest';
import { SvmExtension } from './svm-extension.js';

/*
 * #VMEXIT codes and EXITINFO of the exits the hypervisor takes, from AMD APM vol. 2 Appendix C
 * (Table C-1): MOV to CRn = 10h + n, exception n = 40h + n (#PF 4Eh), INVLPG 79h, VMMCALL 81h, NPF 400h.
 * EXITINFO1/2: #PF error code and faulting address (§15.12.15); MOV CRx with decode assists bit 63 =
 * MOV, bits 3:0 = GPR (§15.8.1); INVLPG with decode assists the linear address (§15.8.3).
 */
describe('SvmExtension.describeExit', () => {
  const svm = new SvmExtension();

  it('a #PF intercept is 4Eh with the error code in EXITINFO1 and the address in EXITINFO2', () => {
    const r = svm.describeExit({
      kind: 'exception',
      vector: 14,
      errorCode: 7,
      addressLo: 0x1000,
      addressHi: 0xffff_8000,
    });
    expect(r).toMatchObject({ code: 0x4e, name: 'EXCP_PF', info1: 7n, info2: 0xffff_8000_0000_1000n });
  });

  it('MOV to CR3 is 13h; EXITINFO1 bit 63 and the GPR with decode assists, 0 without', () => {
    expect(svm.describeExit({ kind: 'cr-write', cr: 3, gpr: 2 })).toMatchObject({
      code: 0x13,
      name: 'CR3_WRITE',
      info1: (1n << 63n) | 2n,
    });
    expect(svm.describeExit({ kind: 'cr-write', cr: 0, gpr: 0 }).code).toBe(0x10);
    const old = new SvmExtension({ capabilities: { features: { DecodeAssists: false } } });
    expect(old.describeExit({ kind: 'cr-write', cr: 3, gpr: 2 }).info1).toBe(0n);
    expect(old.describeExit({ kind: 'invlpg', linearLo: 0x1234, linearHi: 0 }).info1).toBe(0n);
  });

  it('INVLPG is 79h with the address, VMMCALL 81h, NPF 400h', () => {
    expect(svm.describeExit({ kind: 'invlpg', linearLo: 0x7000_1234, linearHi: 0 })).toMatchObject({
      code: 0x79,
      info1: 0x7000_1234n,
    });
    expect(svm.describeExit({ kind: 'hypercall' })).toMatchObject({ code: 0x81, name: 'VMMCALL' });
    const fault = new NestedFault();
    fault.kind = NestedFaultKind.NestedPageFault;
    fault.infoLo = 0x6;
    fault.infoHi = 1;
    fault.guestPhysical = 0x5000;
    expect(svm.describeExit({ kind: 'nested-fault', fault })).toMatchObject({
      code: 0x400,
      info1: 0x1_0000_0006n,
      info2: 0x5000n,
    });
  });

  it('a shadow-paged guest exits with these codes, handed to the host handler', () => {
    const host = new HostMachine({ extension: svm });
    const vcpu = host.createVm({ memorySize: 0x100_0000, paging: 'shadow' }).createVcpu();
    vcpu.run(host.cpus[0]);
    const exits: VmExit[] = [];
    host.onExit((_v, exit) => {
      exits.push(exit);
      return undefined;
    });
    const frames = new FrameAllocator(0x10_0000, 0x20_0000);
    const memory = {
      readWord: (a: number) => vcpu.readPhysical(a),
      writeWord: (a: number, v: number) => vcpu.writePhysical(a, v),
    };
    const tables = new PageTableBuilder(memory, PagingMode.Level4, () => frames.allocate());
    tables.map(0x40_0000, 0x80_0000);
    vcpu.setControlRegisters({ cr0: Cr0.PE | Cr0.PG, cr3: tables.root, cr4: Cr4.PAE, efer: Efer.LME });
    vcpu.writeCr3(tables.root);
    const out = new GuestAccess();
    vcpu.access(0x40_0000, AccessKind.Read, out);
    vcpu.access(0x50_0000, AccessKind.Write, out);
    expect(out.status).toBe(TranslateStatus.PageFault);
    vcpu.invlpg(0x40_0000);
    vcpu.hypercall(0);
    const summary = exits.map((e) => [e.kind, e.report.code]);
    expect(summary).toEqual([
      [ExitKind.CrWrite, 0x10],
      [ExitKind.Cr3Write, 0x13],
      [ExitKind.HiddenPageFault, 0x4e],
      [ExitKind.GuestPageFault, 0x4e],
      [ExitKind.Invlpg, 0x79],
      [ExitKind.Hypercall, 0x81],
    ]);
    // The hidden fault's EXITINFO1 is the shadow walk's error code: not present, supervisor read (0).
    expect(exits[2].report.info1).toBe(0n);
    // The guest's own fault: not present, write: W (the intercept reports the hardware's code).
    expect(exits[3].report.info1).toBe(BigInt(PfError.W));
    expect(exits[3].report.info2).toBe(0x50_0000n);
  });
});
