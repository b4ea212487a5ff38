import { AccessKind, Cr0, Cr4, Efer, FrameAllocator, PageTableBuilder, PagingMode } from '@hvsim/cpu-core';
import { EntryFlush, HostMachine } from '@hvsim/hypervisor';
import { TranslateStatus } from '@hvsim/mmu-nested';
import { GuestAccess } from '@hvsim/platform';
import { makeCaches, type Planted, plant, survivors } from '@hvsim/test-utils';
import { NO_NESTED_ROOT, skylakeTlb } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { VmxExtension } from './vmx-extension.js';

/*
 * A shadow-paging VM under VMX runs with "enable EPT" = 0: the CPU creates linear mappings, tagged by
 * VPID and PCID only, never combined mappings with an EP4TA (SDM vol. 3C §29.4.1: "Linear mappings ...
 * are created when EPT is not in use"). INVVPID single-context removes the linear and combined
 * mappings of one VPID and nothing else (§29.4.3.3, INVVPID in vol. 2); with no EPTP there is no
 * INVEPT to issue.
 */

const EP4TA = 0x10_0000;

describe('VMX under shadow paging: linear mappings, no EP4TA', () => {
  it('tags a shadow translation by VPID and PCID alone', () => {
    const caches = makeCaches();
    const vmx = new VmxExtension();
    const context = vmx.guestContext(caches, 7, 0, null);
    expect(context).toBe(caches.tags.context(7, 0));
    expect(caches.tags.nestedRootOf(context)).toBe(NO_NESTED_ROOT);
    expect(caches.tags.asidOf(context)).toBe(7);
  });

  it('a Guest flush at VM entry without nested tables is INVVPID single-context only', () => {
    const caches = makeCaches();
    const plan: readonly Planted[] = [
      { name: 'vpid 7 linear', where: 'tlb', vpid: 7, vpn: 0x10 },
      { name: 'vpid 7 combined', where: 'tlb', vpid: 7, ep4ta: EP4TA, vpn: 0x11 },
      { name: 'vpid 8 linear', where: 'tlb', vpid: 8, vpn: 0x10 },
      { name: 'guest-physical', where: 'nested', vpid: 0, ep4ta: EP4TA, vpn: 0x30 },
    ];
    plant(caches, plan);
    new VmxExtension().enterGuest(caches, 7, null, EntryFlush.Guest);
    expect(survivors(caches, plan)).toEqual(['vpid 8 linear', 'guest-physical']);
  });

  it('a shadow VM builds no EPT tables; its translations are found under the VPID-only context', () => {
    const host = new HostMachine({ extension: new VmxExtension(), caches: { tlb: skylakeTlb.config } });
    const nested = host.createVm({ memorySize: 0x100_0000 });
    expect(nested.tables).not.toBeNull();
    const tableFrames = host.frameOwner.size;
    expect(tableFrames).toBe(1); // the EPT PML4 of the nested VM
    const vm = host.createVm({ memorySize: 0x100_0000, paging: 'shadow' });
    expect(vm.tables).toBeNull();
    expect(host.frameOwner.size).toBe(tableFrames);

    const vcpu = vm.createVcpu();
    vcpu.run(host.cpus[0]);
    const frames = new FrameAllocator(0x10_0000, 0x20_0000);
    const memory = {
      readWord: (a: number) => vcpu.readPhysical(a),
      writeWord: vcpu.writePhysical.bind(vcpu),
    };
    const tables = new PageTableBuilder(memory, PagingMode.Level4, () => frames.allocate());
    tables.map(0x40_0000, 0x80_0000);
    expect(
      vcpu.setControlRegisters({
        cr0: Cr0.PE | Cr0.PG,
        cr3: tables.root,
        cr4: Cr4.PAE,
        efer: Efer.LME,
      }),
    ).toBe(TranslateStatus.Ok);
    const out = new GuestAccess();
    expect(vcpu.access(0x40_0000, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
    const tlb = host.cpus[0].caches.tlb;
    const tags = tlb?.tags;
    if (tlb == null || tags === undefined) throw new Error('the CPU has a TLB');
    // The shadow leaf is cached as a linear mapping of the vCPU's VPID (PCID 0: CR3 is the shadow root's).
    expect(tlb.lookup(tags.context(vcpu.id, 0), 0x400, AccessKind.Read, 0)).toBeGreaterThanOrEqual(0);
    expect(vcpu.access(0x40_0000, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
    expect(out.translation.tlbHit).toBe(true);
  });
});
