import { AccessKind } from '@hvsim/cpu-core';
import { TranslateStatus } from '@hvsim/mmu-nested';
import { defaultCosts, GuestAccess } from '@hvsim/platform';
import { describe, expect, it } from 'vitest';
import { EntryFlush } from './extension.js';
import { FakeExtension } from './fake-extension.test-helper.js';
import { HostMachine } from './host-machine.js';
import { IdAllocator } from './id-allocator.js';

describe('IdAllocator: per-CPU pools with generations (as KVM hands out ASIDs)', () => {
  it('hands out 1..poolSize, then rolls over to a new generation starting at 1', () => {
    const ids = new IdAllocator(3);
    expect([ids.assign(), ids.assign(), ids.assign()].map((a) => a.id)).toEqual([1, 2, 3]);
    const next = ids.assign();
    expect(next).toEqual({ id: 1, generation: 2, rolledOver: true });
    expect(ids.isCurrent(1)).toBe(false);
    expect(ids.rollovers).toBe(1);
    expect(() => new IdAllocator(0)).toThrow(/at least one id/);
  });
});

describe('HostMachine, VMs and vCPUs', () => {
  it('backs guest memory on demand: the first touch exits, the hypervisor maps a zeroed frame and resumes', () => {
    const ext = new FakeExtension();
    const host = new HostMachine({ extension: ext });
    const vm = host.createVm({ memorySize: 0x100_0000 });
    const vcpu = vm.createVcpu();
    vcpu.run(host.cpus[0]);
    const out = new GuestAccess();
    expect(vcpu.access(0x12_3456, AccessKind.Write, out)).toBe(TranslateStatus.Ok);
    expect(out.resolvedExits).toBe(1);
    expect(out.translation.hostPhysical).toBe(vm.hostAddressOf(0x12_3456));
    expect(host.stats.exitsByKind.get('NPF')).toBe(1);
    expect(host.stats.pagesPopulated).toBe(1);
    expect(vcpu.access(0x12_3000, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
    expect(out.resolvedExits).toBe(0);
    // An access outside the VM's memory is reported, not resolved.
    expect(vcpu.access(0x200_0000, AccessKind.Read, out)).toBe(TranslateStatus.NestedFault);
    expect(out.exit?.name).toBe('NPF');
  });

  it('backs everything up front when asked, with large pages', () => {
    const host = new HostMachine({ extension: new FakeExtension() });
    const vm = host.createVm({ memorySize: 0x80_0000, backing: 0x20_0000, fill: 'up-front' });
    expect(host.stats.pagesPopulated).toBe(4);
    expect(vm.hostAddressOf(0x60_1234) % 0x20_0000).toBe(0x1234);
    expect(() => host.createVm({ memorySize: 0x1000, backing: 0x20_0000 })).toThrow(
      /multiple of the backing page size/,
    );
  });

  it('keeps an id on a CPU while its generation lasts, gets a new one after a rollover and on migration', () => {
    const ext = new FakeExtension();
    const host = new HostMachine({ extension: ext, cpus: 2, idPoolSize: 2 });
    const vm = host.createVm({ memorySize: 0x10_0000 });
    const [a, b, c] = [vm.createVcpu(), vm.createVcpu(), vm.createVcpu()];
    a.run(host.cpus[0]);
    expect(a.id).toBe(1);
    a.stop();
    a.run(host.cpus[0]);
    expect(a.id).toBe(1); // same generation: no new id, no flush
    expect(ext.log.at(-1)).toBe('enter 1 flush 0');
    a.stop();
    b.run(host.cpus[0]);
    expect(b.id).toBe(2);
    b.stop();
    c.run(host.cpus[0]); // pool of 2 exhausted: rollover, full flush
    expect(c.id).toBe(1);
    expect(ext.log.at(-1)).toBe(`enter 1 flush ${EntryFlush.All}`);
    expect(host.stats.idRollovers).toBe(1);
    c.stop();
    a.run(host.cpus[0]); // a's generation is over: new id
    expect(a.id).toBe(2);
    a.stop();
    a.run(host.cpus[1]); // migration: a fresh id on the other CPU
    expect(host.stats.migrations).toBe(1);
    expect(a.id).toBe(1);
  });

  it('without tags every world switch flushes', () => {
    const ext = new FakeExtension(false);
    const host = new HostMachine({ extension: ext });
    const vcpu = host.createVm({ memorySize: 0x10_0000 }).createVcpu();
    vcpu.run(host.cpus[0]);
    expect(ext.log.at(-1)).toBe(`enter 1 flush ${EntryFlush.All}`);
    expect(host.stats.entryFlushes).toBe(1);
    // Re-entry after an exit the hypervisor handled (here a nested fault it resolves) flushes too:
    // without ids every VMRUN / VM entry must (APM vol. 2 §15.16; SDM vol. 3C §29.4.3.1).
    vcpu.access(0x1000, AccessKind.Read, new GuestAccess());
    expect(
      ext.log.filter((l) => l.startsWith('enter')).every((l) => l.endsWith(`flush ${EntryFlush.All}`)),
    ).toBe(true);
    expect(host.stats.entryFlushes).toBe(2);
  });

  it('with tags re-entry after a handled exit keeps the guest translations', () => {
    const ext = new FakeExtension();
    const host = new HostMachine({ extension: ext });
    const vcpu = host.createVm({ memorySize: 0x10_0000 }).createVcpu();
    vcpu.run(host.cpus[0]);
    vcpu.access(0x1000, AccessKind.Read, new GuestAccess());
    expect(ext.log.filter((l) => l.startsWith('enter')).slice(1)).toEqual([
      `enter 1 flush ${EntryFlush.None}`,
    ]);
  });

  it('unmapping where the vendor cannot invalidate by guest-physical address kicks running vCPUs and flushes the others at entry', () => {
    const ext = new FakeExtension();
    const host = new HostMachine({ extension: ext, cpus: 2 });
    const vm = host.createVm({ memorySize: 0x10_0000 });
    const running = vm.createVcpu();
    const idle = vm.createVcpu();
    idle.run(host.cpus[1]);
    idle.stop();
    running.run(host.cpus[0]);
    const out = new GuestAccess();
    running.access(0x5000, AccessKind.Read, out);
    ext.log.length = 0;
    expect(vm.unmap(0x5000)).toBe(true);
    expect(vm.hostAddressOf(0x5000)).toBe(-1);
    // Running on CPU 0: an IPI kick (exit, entry with a flush of the guest).
    expect(ext.log).toContain(`enter 1 flush ${EntryFlush.Guest}`);
    idle.run(host.cpus[1]);
    expect(ext.log.at(-1)).toBe(`enter 1 flush ${EntryFlush.Guest}`);
    // The next access faults again and is backed by a new frame.
    expect(running.access(0x5000, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
    expect(out.resolvedExits).toBe(1);
  });

  it('a shootdown sends IPIs to the other running vCPUs and invalidates the page for every vCPU', () => {
    const ext = new FakeExtension();
    const host = new HostMachine({ extension: ext, cpus: 3 });
    const vm = host.createVm({ memorySize: 0x10_0000 });
    const v = [vm.createVcpu(), vm.createVcpu(), vm.createVcpu()];
    v[0].run(host.cpus[0]);
    v[1].run(host.cpus[1]);
    v[2].run(host.cpus[2]);
    v[2].stop();
    ext.log.length = 0;
    const before = host.stats.cyclesBy();
    vm.shootdown(0x7000, v[0]);
    expect(host.stats.ipis).toBe(1);
    expect(ext.log.filter((l) => l.startsWith('invalidate')).length).toBe(3);
    // The one IPI is charged, and nothing else is: no exit, no world switch.
    expect(host.stats.cyclesBy()).toEqual({ ...before, ipis: before.ipis + host.costs.ipi });
  });

  it('charges the cost model: world switches, exit handling, population, walk references', () => {
    const host = new HostMachine({ extension: new FakeExtension() });
    const vcpu = host.createVm({ memorySize: 0x10_0000 }).createVcpu();
    vcpu.run(host.cpus[0]);
    const out = new GuestAccess();
    vcpu.access(0x1000, AccessKind.Read, out);
    const c = defaultCosts;
    // Entry; walk (1 reference, faults); exit + handling + population + entry; walk (1 reference).
    const expected =
      c.worldSwitch / 2 +
      c.walkReference +
      c.worldSwitch / 2 +
      c.exitHandling +
      c.pagePopulate +
      c.worldSwitch / 2 +
      c.walkReference;
    expect(host.stats.cycles).toBe(expected);
    // Each charge in its own part: two entries and one exit at half a round trip each, the NPF's
    // handling, one page backed on the fault, two references.
    expect(host.stats.cyclesBy()).toEqual({
      tlbHits: [],
      walkReferences: 2 * c.walkReference,
      worldSwitches: (3 * c.worldSwitch) / 2,
      exitHandling: { NPF: c.exitHandling },
      pagePopulation: c.pagePopulate,
      ipis: 0,
      shadowFills: 0,
      emulation: 0,
    });
    expect(host.stats.pagesPopulatedOnFault).toBe(1);
    expect(() => new HostMachine({ extension: new FakeExtension(), costs: { ipi: -1 } })).toThrow(
      /costs.ipi/,
    );
    expect(() => new HostMachine({ extension: new FakeExtension(), idPoolSize: 9 })).toThrow(/idPoolSize/);
  });
});
