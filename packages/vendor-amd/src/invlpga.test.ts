import { makeCaches, type Planted, plant, survivors } from '@hvsim/test-utils';
import { PageSize } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { invlpga, SvmFault, svmInstructionFault } from './invlpga.js';
import { SvmIntercept, Vmcb } from './vmcb.js';

/*
 * INVLPGA (AMD APM vol. 2 §15.16.2): rAX = linear address, ECX = ASID; invalidates that page's
 * mappings in that ASID only. #UD when EFER.SVME=0 (§15.4), #GP(0) when CPL is not 0, and the
 * intercept (exit code 7Ah) is checked after the exceptions (Table 15-7).
 */

const SVME = 1 << 12;
const HOST = { efer: SVME | 0xd00, cpl: 0 } as const;
const PAGE = 0x7f00_1234_5000; // a canonical user address above 4 GiB
const VPN = PAGE / 4096;
const LARGE = 0x4000_0000; // start of a 2 MiB page in ASID 1
const IN_LARGE = LARGE + 0x3_4567; // an address inside it

const plan: readonly Planted[] = [
  { name: 'asid 1 page', where: 'tlb', asid: 1, vpn: VPN },
  { name: 'asid 1 page, PCID 3', where: 'tlb', asid: 1, pcid: 3, vpn: VPN },
  { name: 'asid 1 PCID 7, other page', where: 'tlb', asid: 1, pcid: 7, vpn: VPN + 0x200 },
  { name: 'asid 1 next page', where: 'tlb', asid: 1, vpn: VPN + 1 },
  { name: 'asid 1 2M page', where: 'tlb', asid: 1, vpn: LARGE / 4096, size: PageSize.Size2M },
  { name: 'asid 1 nested translation', where: 'nested', asid: 1, vpn: VPN % 2 ** 20 },
  { name: 'asid 2 page', where: 'tlb', asid: 2, vpn: VPN },
  { name: 'asid 2 walk-cache PDE', where: 'walk', asid: 2, vpn: VPN },
  { name: 'host page', where: 'tlb', asid: 0, vpn: VPN },
];

function setUp() {
  const caches = makeCaches();
  plant(caches, plan);
  return caches;
}

describe('INVLPGA (APM vol. 2 §15.16.2)', () => {
  it('removes exactly that page in that ASID, in every PCID, and nothing of another ASID', () => {
    const caches = setUp();
    const r = invlpga({ ...HOST, rax: PAGE, ecx: 1 }, caches);
    expect(r).toEqual({ kind: 'done', removed: 2 });
    expect(survivors(caches, plan)).toEqual([
      'asid 1 PCID 7, other page',
      'asid 1 next page',
      'asid 1 2M page',
      'asid 1 nested translation',
      'asid 2 page',
      'asid 2 walk-cache PDE',
      'host page',
    ]);
  });

  it('removes a global entry of the page too', () => {
    const caches = makeCaches();
    const global: Planted = { name: 'global', where: 'tlb', asid: 1, pcid: 7, vpn: VPN, global: true };
    plant(caches, [global]);
    invlpga({ ...HOST, rax: BigInt(PAGE), ecx: 1 }, caches);
    expect(survivors(caches, [global])).toEqual([]);
  });

  it('removes the larger page that covers the address', () => {
    const caches = setUp();
    invlpga({ ...HOST, rax: IN_LARGE, ecx: 1 }, caches);
    expect(survivors(caches, plan)).not.toContain('asid 1 2M page');
    expect(survivors(caches, plan)).toContain('asid 1 page');
  });

  it('invalidates ASID 0, the host, when ECX is 0', () => {
    const caches = setUp();
    invlpga({ ...HOST, rax: PAGE, ecx: 0 }, caches);
    expect(survivors(caches, plan)).not.toContain('host page');
    expect(survivors(caches, plan)).toContain('asid 1 page');
  });

  it('takes rAX at the effective address size', () => {
    const caches = makeCaches();
    const low: Planted = { name: 'low', where: 'tlb', asid: 1, vpn: 0x5 };
    plant(caches, [low]);
    invlpga({ ...HOST, rax: 0xffff_ffff_0000_5000n, ecx: 1, addressSize: 32 }, caches);
    expect(survivors(caches, [low])).toEqual([]);
    // At 64 bits the whole address counts: the TLBs key it by bits 56:12, 2^45 - 2^35 + 1 here.
    const high: Planted = { name: 'high', where: 'tlb', asid: 1, vpn: 2 ** 45 - 2 ** 35 + 1 };
    plant(caches, [high]);
    invlpga({ ...HOST, rax: 0xffff_8000_0000_1000n, ecx: 1 }, caches);
    expect(survivors(caches, [high])).toEqual([]);
  });

  it('#UD when EFER.SVME=0, in real mode or virtual-8086 mode; #GP(0) at CPL 3', () => {
    const caches = setUp();
    const ud = { kind: 'fault', vector: SvmFault.UD, errorCode: null };
    expect(invlpga({ efer: 0xd00, cpl: 0, rax: PAGE, ecx: 1 }, caches)).toEqual(ud);
    expect(invlpga({ ...HOST, protectedMode: false, rax: PAGE, ecx: 1 }, caches)).toEqual(ud);
    expect(invlpga({ ...HOST, virtual8086: true, cpl: 3, rax: PAGE, ecx: 1 }, caches)).toEqual(ud);
    expect(invlpga({ efer: 0xd00, cpl: 3, rax: PAGE, ecx: 1 }, caches)).toEqual(ud);
    expect(invlpga({ ...HOST, cpl: 3, rax: PAGE, ecx: 1 }, caches)).toEqual({
      kind: 'fault',
      vector: SvmFault.GP,
      errorCode: 0,
    });
    expect(survivors(caches, plan)).toHaveLength(plan.length);
  });

  it('a guest with the INVLPGA intercept set exits with 7Ah, after the #GP check (Table 15-7)', () => {
    const caches = setUp();
    const vmcb = new Vmcb();
    vmcb.setIntercept(SvmIntercept.INVLPGA);
    expect(invlpga({ ...HOST, rax: PAGE, ecx: 1, guestVmcb: vmcb }, caches)).toEqual({
      kind: 'vmexit',
      exitCode: 0x7a,
      exitInfo1: 0n,
      exitInfo2: 0n,
    });
    expect(invlpga({ ...HOST, cpl: 1, rax: PAGE, ecx: 1, guestVmcb: vmcb }, caches)).toMatchObject({
      kind: 'fault',
      vector: 13,
    });
    expect(survivors(caches, plan)).toHaveLength(plan.length);
    vmcb.setIntercept(SvmIntercept.INVLPGA, false);
    expect(invlpga({ ...HOST, rax: PAGE, ecx: 1, guestVmcb: vmcb }, caches).kind).toBe('done');
  });

  it('checks VMRUN-class faults the same way', () => {
    expect(svmInstructionFault({ efer: SVME, cpl: 0 })).toBeNull();
    expect(svmInstructionFault({ efer: 0n, cpl: 0 })).toMatchObject({ vector: 6 });
  });
});
