import { AccessKind } from '@hvsim/cpu-core';
import { TranslateStatus } from '@hvsim/mmu-nested';
import { GuestAccess } from '@hvsim/platform';
import { describe, expect, it } from 'vitest';
import { ExitAction, ExitKind } from './exits.js';
import { FakeExtension } from './fake-extension.test-helper.js';
import { HostMachine } from './host-machine.js';
import { NestedPaging } from './nested-paging.js';
import type { PagingBackend, PagingVm, VcpuPaging } from './paging-backend.js';

/*
 * Paging is a strategy the VM chooses once (`VirtualMachineOptions.paging`). A backend of the caller's
 * own is built from the interfaces of paging-backend.ts alone: here one that runs nested paging and
 * counts what the vCPU hands it, and takes a hypercall-like exit of its own through the exit port.
 */

function countingBackend(vm: PagingVm, seen: string[]): PagingBackend {
  const inner = new NestedPaging(vm);
  return {
    kind: 'counting',
    tables: inner.tables,
    attach(vcpu, port): VcpuPaging {
      const paging = inner.attach(vcpu, port);
      return {
        renewOnMigration: paging.renewOnMigration,
        idOwner: () => paging.idOwner(),
        install(cpu, id) {
          seen.push(`install ${cpu.index} ${id}`);
          paging.install(cpu, id);
        },
        access(cpu, lo, hi, access, who, out) {
          seen.push('access');
          return paging.access(cpu, lo, hi, access, who, out);
        },
        writePhysical: (gpa, value) => paging.writePhysical(gpa, value),
        writeCr3(noFlush) {
          // Intercept MOV CR3 as shadow paging would, then let nested paging do the rest.
          const exit = port.takeExit(ExitKind.Cr3Write, { kind: 'cr-write', cr: 3, gpr: 0 });
          port.resume();
          seen.push(`cr3 exit ${exit.action}`);
          return paging.writeCr3(noFlush);
        },
        setControlRegisters: (before) => paging.setControlRegisters(before),
        invlpg: (linear, hi) => paging.invlpg(linear, hi),
        invalidatePage: (linear, hi) => paging.invalidatePage(linear, hi),
      };
    },
    mapped: (gpa, hpa, size) => inner.mapped(gpa, hpa, size),
    unmapped: (gpa, size) => inner.unmapped(gpa, size),
    invalidateBacking: () => inner.invalidateBacking(),
  };
}

describe('paging backends', () => {
  it('a VM takes a backend of its own from a factory; the vCPU drives it and lends it its exit port', () => {
    const host = new HostMachine({ extension: new FakeExtension() });
    const seen: string[] = [];
    const vm = host.createVm({ memorySize: 0x100_0000, paging: (v) => countingBackend(v, seen) });
    expect(vm.paging).toBe('counting');
    expect(vm.shadow).toBeNull();
    expect(vm.tables).toBe(vm.backend.tables);
    const handled: string[] = [];
    vm.onExit((_vcpu, exit) => {
      handled.push(exit.kind);
      return exit.kind === ExitKind.Cr3Write ? ExitAction.Resume : undefined;
    });
    const vcpu = vm.createVcpu();
    vcpu.run(host.cpus[0]);
    const out = new GuestAccess();
    expect(vcpu.access(0x1000, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
    expect(vcpu.writeCr3(0x2000)).toBe(TranslateStatus.Ok);
    expect(seen).toEqual([`install 0 ${vcpu.id}`, 'access', `cr3 exit ${ExitAction.Resume}`]);
    // The nested fault of the first access (backing the page), then the backend's own CR3 exit.
    expect(handled).toEqual(['NPF', ExitKind.Cr3Write]);
    expect(host.stats.exitsByKind.get(ExitKind.Cr3Write)).toBe(1);
  });

  it('only nested paging builds nested tables', () => {
    const host = new HostMachine({ extension: new FakeExtension() });
    const shadow = host.createVm({ memorySize: 0x100_0000, paging: 'shadow' });
    expect(shadow.tables).toBeNull();
    expect(shadow.paging).toBe('shadow');
    expect(host.frameOwner.size).toBe(0);
    const nested = host.createVm({ memorySize: 0x100_0000 });
    expect(nested.tables).not.toBeNull();
    expect(nested.paging).toBe('nested');
  });

  it('rejects an unknown paging choice, naming it', () => {
    const host = new HostMachine({ extension: new FakeExtension() });
    expect(() => host.createVm({ memorySize: 0x100_0000, paging: 'agile' as unknown as 'nested' })).toThrow(
      /paging must be 'nested', 'shadow' or a backend factory, got "agile"/,
    );
  });
});
