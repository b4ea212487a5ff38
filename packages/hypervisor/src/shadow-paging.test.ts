import {
  AccessKind,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  PageTableBuilder,
  PagingMode,
  PfError,
  Privilege,
  PteFlag,
  Segment,
  type WordMemory,
} from '@hvsim/cpu-core';
import { TranslateStatus } from '@hvsim/mmu-nested';
import { GuestAccess } from '@hvsim/platform';
import { skylakeTlb } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { ExitAction, ExitKind } from './exits.js';
import { EntryFlush } from './extension.js';
import { FakeExtension } from './fake-extension.test-helper.js';
import { HostMachine } from './host-machine.js';
import type { VirtualCpu } from './virtual-machine.js';

/*
 * Shadow paging, with expectations from the manuals: the guest's accessed and dirty bits as the
 * hardware walker sets them (SDM vol. 3A §4.8: A when an entry is used, D on the first write through
 * a leaf), #PF error codes (SDM vol. 3A §4.7, Figure 4-12: P=1 protection, W=2 write, U=4 user), CR2
 * (§4.7), and each exit the hypervisor takes counted by kind.
 */

const A = PteFlag.A;
const D = PteFlag.D;

function guestMemory(vcpu: VirtualCpu): WordMemory {
  return { readWord: (a) => vcpu.readPhysical(a), writeWord: (a, v) => vcpu.writePhysical(a, v) };
}

function longModeGuest(options: { tagged?: boolean; caches?: boolean } = {}) {
  const host = new HostMachine({
    extension: new FakeExtension(options.tagged ?? true),
    ...(options.caches ? { caches: { tlb: skylakeTlb.config } } : {}),
  });
  const vm = host.createVm({ memorySize: 0x100_0000, paging: 'shadow' });
  const vcpu = vm.createVcpu();
  vcpu.run(host.cpus[0]);
  const frames = new FrameAllocator(0x10_0000, 0x20_0000);
  const tables = [0, 1].map(
    () => new PageTableBuilder(guestMemory(vcpu), PagingMode.Level4, () => frames.allocate()),
  );
  tables[0].map(0x40_0000, 0x80_0000);
  tables[0].map(0x40_1000, 0x81_0000, { flags: PteFlag.P | PteFlag.RW });
  tables[1].map(0x40_0000, 0x90_0000);
  expect(
    vcpu.setControlRegisters({
      cr0: Cr0.PE | Cr0.PG | Cr0.WP,
      cr3: tables[0].root,
      cr4: Cr4.PAE,
      efer: Efer.LME | Efer.NXE,
    }),
  ).toBe(TranslateStatus.Ok);
  return { host, vm, vcpu, tables, out: new GuestAccess() };
}

const count = (host: HostMachine, kind: string) => host.stats.exitsByKind.get(kind) ?? 0;

describe('shadow paging: hidden faults, true faults, accessed and dirty bits', () => {
  it('fills on a hidden fault, keeps the shadow read-only until the guest D is set, sets A and D as hardware does', () => {
    const { host, vcpu, tables, out } = longModeGuest();
    const pte = tables[0].entryAddress(0x40_0000, 1) as number;
    expect(vcpu.access(0x40_0123, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
    expect(out.translation.guestPhysical).toBe(0x80_0123);
    expect(count(host, ExitKind.HiddenPageFault)).toBe(1);
    // A read sets A in every entry used, not D (SDM vol. 3A §4.8).
    expect(vcpu.readPhysical(pte) & (A | D)).toBe(A);
    // The first write faults again (the shadow leaf is read-only while D=0) and the walk sets D.
    expect(vcpu.access(0x40_0123, AccessKind.Write, out)).toBe(TranslateStatus.Ok);
    expect(count(host, ExitKind.HiddenPageFault)).toBe(2);
    expect(vcpu.readPhysical(pte) & (A | D)).toBe(A | D);
    // Now both run on the shadow tables without an exit.
    vcpu.access(0x40_0456, AccessKind.Write, out);
    vcpu.access(0x40_0789, AccessKind.Read, out);
    expect(count(host, ExitKind.HiddenPageFault)).toBe(2);
    expect(out.resolvedExits).toBe(0);
    // Each hidden fault is one fill, charged shadowFill beside the exit's handling.
    expect(host.stats.shadowFills).toBe(2);
    expect(host.stats.cyclesBy().shadowFills).toBe(2 * host.costs.shadowFill);
    expect(host.stats.cyclesBy().exitHandling[ExitKind.HiddenPageFault]).toBe(2 * host.costs.exitHandling);
  });

  it('reflects a true fault with the error code and CR2 the guest tables give', () => {
    const { host, vcpu, out } = longModeGuest();
    // Not present, supervisor read: error code 0.
    expect(vcpu.access(0x50_0010, AccessKind.Read, out)).toBe(TranslateStatus.PageFault);
    expect(out.translation.errorCode).toBe(0);
    expect([vcpu.state.cr2Hi, vcpu.state.cr2Lo]).toEqual([0, 0x50_0010]);
    // User write to a supervisor page: P | W | U.
    expect(vcpu.access(0x40_1008, AccessKind.Write, out, Privilege.User)).toBe(TranslateStatus.PageFault);
    expect(out.translation.errorCode).toBe(PfError.P | PfError.W | PfError.U);
    expect(vcpu.state.cr2Lo).toBe(0x40_1008);
    // User fetch from a supervisor page with NXE=1: P | U | I/D.
    expect(vcpu.access(0x40_1000, AccessKind.Execute, out, Privilege.User)).toBe(TranslateStatus.PageFault);
    expect(out.translation.errorCode).toBe(PfError.P | PfError.U | PfError.ID);
    expect(count(host, ExitKind.GuestPageFault)).toBe(3);
    expect(host.stats.guestPageFaults).toBe(3);
  });
});

describe('shadow paging: the guest tables are write-protected', () => {
  it('a store to a guest page-table page exits, lands, and zaps the shadow leaves derived from the entry', () => {
    const { host, vcpu, tables, out } = longModeGuest();
    vcpu.access(0x40_0000, AccessKind.Read, out);
    const pte = tables[0].entryAddress(0x40_0000, 1) as number;
    const before = count(host, ExitKind.PageTableWrite);
    const emulated = host.stats.emulations;
    // Remap the page to another frame: two stores (low and high word of the entry).
    tables[0].map(0x40_0000, 0x88_0000);
    expect(count(host, ExitKind.PageTableWrite)).toBe(before + 2);
    // Each trapped store is emulated, and charged for it.
    expect(host.stats.emulations).toBe(emulated + 2);
    expect(host.stats.cyclesBy().emulation).toBe(host.stats.emulations * host.costs.emulation);
    expect(vcpu.readPhysical(pte) & 0xffff_f000).toBe(0x88_0000);
    // No INVLPG: the zapped leaf already forces a new walk (a correct kernel would INVLPG too).
    expect(vcpu.access(0x40_0010, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
    expect(out.translation.guestPhysical).toBe(0x88_0010);
  });

  it('a change to an address space that is not current is seen when the guest switches back', () => {
    const { vcpu, tables, out } = longModeGuest();
    vcpu.access(0x40_0000, AccessKind.Read, out);
    expect(vcpu.writeCr3(tables[1].root)).toBe(TranslateStatus.Ok);
    expect(vcpu.access(0x40_0000, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
    expect(out.translation.guestPhysical).toBe(0x90_0000);
    tables[0].unmap(0x40_0000);
    vcpu.writeCr3(tables[0].root);
    expect(vcpu.access(0x40_0000, AccessKind.Read, out)).toBe(TranslateStatus.PageFault);
  });

  it('a write through a linear mapping of a page-table page is emulated, never made writable in the shadow', () => {
    const { host, vcpu, tables, out } = longModeGuest();
    vcpu.access(0x40_0000, AccessKind.Read, out);
    // The guest maps its own PML4 page at 0x60_0000 and writes through it.
    tables[0].map(0x60_0000, tables[0].root);
    const emulated = count(host, ExitKind.PageTableWrite);
    expect(vcpu.access(0x60_0008, AccessKind.Write, out)).toBe(TranslateStatus.Ok);
    expect(out.translation.guestPhysical).toBe(tables[0].root + 8);
    expect(vcpu.access(0x60_0008, AccessKind.Write, out)).toBe(TranslateStatus.Ok);
    expect(count(host, ExitKind.PageTableWrite)).toBe(emulated + 2);
  });
});

describe('shadow paging: MOV CR3, INVLPG and tags', () => {
  it('MOV CR3 exits and re-enters a cached root; with a tag per root its TLB entries survive the switches', () => {
    const { host, vm, vcpu, tables, out } = longModeGuest({ caches: true });
    vcpu.access(0x40_0000, AccessKind.Read, out);
    vcpu.writeCr3(tables[1].root);
    vcpu.access(0x40_0000, AccessKind.Read, out);
    const built = vm.shadow?.rootsBuilt;
    vcpu.writeCr3(tables[0].root);
    expect(count(host, ExitKind.Cr3Write)).toBe(2);
    expect(vm.shadow?.rootsBuilt).toBe(built);
    // Each root has its own id (APM vol. 2 §15.25.1): the first root's translation is still cached.
    expect(vcpu.access(0x40_0000, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
    expect(out.translation.tlbHit).toBe(true);
  });

  it('without tags the switch flushes, and the access walks the shadow again', () => {
    const { host, vcpu, tables, out } = longModeGuest({ caches: true, tagged: false });
    const ext = host.extension as FakeExtension;
    vcpu.access(0x40_0000, AccessKind.Read, out);
    vcpu.writeCr3(tables[1].root);
    expect(ext.log.at(-1)).toBe(`enter 1 flush ${EntryFlush.All}`);
    vcpu.writeCr3(tables[0].root);
    expect(ext.log.at(-1)).toBe(`enter 1 flush ${EntryFlush.All}`);
    // The root was kept: its shadow entries need no exit.
    expect(vcpu.access(0x40_0000, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
    expect(out.resolvedExits).toBe(0);
  });

  it('INVLPG exits with the address in its report and drops the page from the shadow and the TLB', () => {
    const { host, vcpu, out } = longModeGuest({ caches: true });
    vcpu.access(0x40_0000, AccessKind.Read, out);
    const seen: bigint[] = [];
    host.onExit((_v, exit) => {
      if (exit.kind === ExitKind.Invlpg) seen.push(exit.report.info1);
      return undefined;
    });
    vcpu.invlpg(0x40_0abc);
    expect(seen).toEqual([0x40_0abcn]);
    expect(vcpu.access(0x40_0000, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
    expect(out.translation.tlbHit).toBe(false);
    expect(out.resolvedExits).toBe(1);
  });
});

describe('shadow paging: several vCPUs', () => {
  it('a shootdown IPIs the other running vCPU, and each runs an INVLPG that exits', () => {
    const host = new HostMachine({ extension: new FakeExtension(), cpus: 2 });
    const vm = host.createVm({ memorySize: 0x100_0000, paging: 'shadow' });
    const [a, b] = [vm.createVcpu(), vm.createVcpu()];
    a.run(host.cpus[0]);
    b.run(host.cpus[1]);
    const frames = new FrameAllocator(0x10_0000, 0x20_0000);
    const tables = new PageTableBuilder(guestMemory(a), PagingMode.Level4, () => frames.allocate());
    tables.map(0x40_0000, 0x80_0000);
    for (const v of [a, b]) {
      v.setControlRegisters({ cr0: Cr0.PE | Cr0.PG, cr3: tables.root, cr4: Cr4.PAE, efer: Efer.LME });
    }
    const out = new GuestAccess();
    expect(b.access(0x40_0000, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
    // a unmaps the page (the store traps) and shoots it down.
    tables.unmap(0x40_0000);
    a.shootdown(0x40_0000);
    expect(host.stats.ipis).toBe(1);
    expect(count(host, ExitKind.Invlpg)).toBe(2);
    // The shadow tables are shared by the VM's vCPUs: b sees the unmapping.
    expect(b.access(0x40_0000, AccessKind.Read, out)).toBe(TranslateStatus.PageFault);
  });
});

describe('exit handlers', () => {
  it('a handler can surface a guest #PF to the caller, and answer a hypercall', () => {
    const { host, vm, vcpu, out } = longModeGuest();
    const off = vm.onExit((_v, exit) =>
      exit.kind === ExitKind.GuestPageFault ? ExitAction.Surface : undefined,
    );
    expect(vcpu.access(0x50_0000, AccessKind.Read, out)).toBe(TranslateStatus.Exit);
    expect(out.exit?.info2).toBe(0x50_0000n);
    off();
    expect(vcpu.access(0x50_0000, AccessKind.Read, out)).toBe(TranslateStatus.PageFault);
    expect(vcpu.hypercall(7)).toBe(-1000);
    host.onExit((_v, exit) => {
      if (exit.kind !== ExitKind.Hypercall) return undefined;
      exit.result = exit.args[0] + exit.args[1];
      return ExitAction.Resume;
    });
    expect(vcpu.hypercall(1, 41)).toBe(42);
    expect(count(host, ExitKind.Hypercall)).toBe(2);
  });
});

describe('legacy guests under shadow paging', () => {
  it('a real-mode guest runs on a shadow table that maps guest-physical memory (AMD paged real mode, APM vol. 2 §15.19)', () => {
    const host = new HostMachine({ extension: new FakeExtension() });
    const vm = host.createVm({ memorySize: 0x20_0000, paging: 'shadow' });
    const vcpu = vm.createVcpu();
    vcpu.run(host.cpus[0]);
    expect(vcpu.setControlRegisters({ cr0: 0, cr3: 0, cr4: 0, efer: 0 })).toBe(TranslateStatus.Ok);
    expect(vcpu.state.realMode).toBe(true);
    const out = new GuestAccess();
    vcpu.state.loadSegmentReal(Segment.DS, 0x1234);
    const linear = vcpu.state.linearAddress(Segment.DS, 0x10);
    // Real mode: linear = selector x 16 + offset (SDM vol. 3A §20.1.1), physical = linear.
    expect(linear).toBe(0x12350);
    expect(vcpu.access(linear, AccessKind.Write, out)).toBe(TranslateStatus.Ok);
    expect(out.translation.guestPhysical).toBe(0x12350);
    // The real-mode guest runs at CPL 0 (effectiveCpl) and sees no fault; the hypervisor took one hidden one.
    expect(count(host, ExitKind.HiddenPageFault)).toBe(1);
  });
});
