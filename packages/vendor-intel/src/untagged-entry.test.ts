import { EntryFlush } from '@hvsim/hypervisor';
import { makeCaches, type Planted, plant, survivors } from '@hvsim/test-utils';
import { describe, expect, it } from 'vitest';
import { VmxExtension } from './vmx-extension.js';

/*
 * Intel SDM vol. 3C §29.4.3.1: "If the 'enable VPID' VM-execution control is 0, VM entries and VM
 * exits invalidate linear mappings and combined mappings associated with VPID 0000H (for all PCIDs
 * and, for combined mappings, all EP4TAs)." Guest-physical mappings are not VPID-tagged: only INVEPT,
 * an EPT change the processor is told of, removes them.
 */

const EP4TA = 0x10_0000;
const plan: readonly Planted[] = [
  { name: 'vpid 0 linear', where: 'tlb', vpid: 0, vpn: 0x10 },
  { name: 'vpid 0 combined', where: 'tlb', vpid: 0, ep4ta: EP4TA, vpn: 0x12 },
  { name: 'vpid 0 walk-cache PDE', where: 'walk', vpid: 0, vpn: 0x10 },
  { name: 'guest-physical', where: 'nested', vpid: 0, ep4ta: EP4TA, vpn: 0x30 },
];

describe('a world switch of the hypervisor on VMX without VPIDs', () => {
  it('flushes what the VM entry itself flushes, VPID 0000H, and keeps the guest-physical mappings', () => {
    const vmx = new VmxExtension({ capabilities: { vpid: false } });
    expect(vmx.tagged).toBe(false);
    for (const flush of [EntryFlush.None, EntryFlush.Guest, EntryFlush.All]) {
      const caches = makeCaches();
      plant(caches, plan);
      vmx.enterGuest(caches, 1, null, flush);
      expect(survivors(caches, plan), `flush ${flush}`).toEqual(['guest-physical']);
    }
  });

  it('with VPIDs, a full flush is INVVPID all-context and INVEPT all-context: guest-physical mappings go too', () => {
    const caches = makeCaches();
    plant(caches, plan);
    new VmxExtension().enterGuest(caches, 1, null, EntryFlush.All);
    // INVVPID all-context spares VPID 0000H (SDM vol. 2 "INVVPID"); INVEPT all-context removes the
    // combined mappings of every EP4TA and the guest-physical ones (§29.4.3.1): the host's linear
    // mapping and walk-cache entry stay.
    expect(survivors(caches, plan)).toEqual(['vpid 0 linear', 'vpid 0 walk-cache PDE']);
  });
});

describe('a shootdown on VMX without VPIDs', () => {
  it("reaches a running vCPU: its INVLPG drops VPID 0000H's mappings of that page, combined ones of every EP4TA", () => {
    const caches = makeCaches();
    const pages: readonly Planted[] = [
      { name: 'page 0x10', where: 'tlb', vpid: 0, vpn: 0x10 },
      { name: 'page 0x10 combined', where: 'tlb', vpid: 0, ep4ta: EP4TA, vpn: 0x10 },
      { name: 'page 0x11', where: 'tlb', vpid: 0, vpn: 0x11 },
      { name: 'guest-physical 0x10', where: 'nested', vpid: 0, ep4ta: EP4TA, vpn: 0x10 },
    ];
    plant(caches, pages);
    new VmxExtension({ capabilities: { vpid: false } }).invalidatePage(caches, 1, 0x10_000);
    expect(survivors(caches, pages)).toEqual(['page 0x11', 'guest-physical 0x10']);
  });
});
