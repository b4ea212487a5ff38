import { makeCaches, type Planted, plant, survivors } from '@hvsim/test-utils';
import { PageSize } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import {
  InveptType,
  InvvpidType,
  invept,
  inveptDescriptor,
  invvpid,
  invvpidDescriptor,
  isCanonical,
  type VmxMode,
} from './invalidation.js';

/*
 * Intel SDM vol. 3C: INVEPT and INVVPID in §31.3 (operation pseudo-code), their effect on cached
 * mappings in §29.4.3.1 (§28.3.3.1 in the 2016 edition):
 * - INVEPT single-context invalidates the guest-physical and combined mappings of the EP4TA in the
 *   descriptor, "regardless of the VPID and PCID"; all-context those of every EP4TA;
 * - INVVPID invalidates linear and combined mappings of the VPID, "regardless of the EPTP and PCID":
 *   type 0 for one address, 1 all of them, 2 every VPID but 0000H, 3 all but global translations.
 */

const A = 0x10_0000; // EP4TA of EPTP A
const B = 0x20_0000; // EP4TA of EPTP B
const EPTP_A = BigInt(A) | 6n | (3n << 3n); // WB, 4-level
const ROOT: VmxMode = { vmxOperation: true };

const plan: readonly Planted[] = [
  { name: 'vpid 1 linear', where: 'tlb', vpid: 1, vpn: 0x100 },
  { name: 'vpid 1 combined A', where: 'tlb', vpid: 1, ep4ta: A, vpn: 0x100 },
  { name: 'vpid 1 combined A, PCID 4', where: 'tlb', vpid: 1, pcid: 4, ep4ta: A, vpn: 0x100 },
  { name: 'vpid 1 combined B', where: 'tlb', vpid: 1, ep4ta: B, vpn: 0x101 },
  { name: 'vpid 1 global combined A', where: 'tlb', vpid: 1, ep4ta: A, vpn: 0x102, global: true },
  { name: 'vpid 1 2M combined A', where: 'tlb', vpid: 1, ep4ta: A, vpn: 0x200, size: PageSize.Size2M },
  { name: 'vpid 1 walk A', where: 'walk', vpid: 1, ep4ta: A, vpn: 0x100 },
  { name: 'vpid 2 combined A', where: 'tlb', vpid: 2, ep4ta: A, vpn: 0x100 },
  { name: 'vpid 2 combined B', where: 'tlb', vpid: 2, ep4ta: B, vpn: 0x100 },
  { name: 'vpid 2 walk B', where: 'walk', vpid: 2, ep4ta: B, vpn: 0x100 },
  { name: 'vpid 0 linear', where: 'tlb', vpid: 0, vpn: 0x100 },
  { name: 'vpid 0 global', where: 'tlb', vpid: 0, vpn: 0x103, global: true },
  { name: 'guest-physical A', where: 'nested', vpid: 0, ep4ta: A, vpn: 0x300 },
  { name: 'guest-physical B', where: 'nested', vpid: 0, ep4ta: B, vpn: 0x300 },
];
const all = plan.map((p) => p.name);
const without = (names: readonly string[]) => all.filter((n) => !names.includes(n));

function setUp() {
  const caches = makeCaches();
  plant(caches, plan);
  return caches;
}

describe('INVEPT (SDM vol. 3C §31.3, §29.4.3.1)', () => {
  it('type 1 removes the guest-physical and combined mappings of EPTP[51:12], every VPID and PCID', () => {
    const caches = setUp();
    const r = invept(InveptType.SingleContext, inveptDescriptor(EPTP_A), ROOT, caches);
    const removed = [
      'vpid 1 combined A',
      'vpid 1 combined A, PCID 4',
      'vpid 1 global combined A',
      'vpid 1 2M combined A',
      'vpid 1 walk A',
      'vpid 2 combined A',
      'guest-physical A',
    ];
    expect(r).toEqual({ status: 'succeed', removed: removed.length });
    expect(survivors(caches, plan)).toEqual(without(removed));
  });

  it('type 2 removes the mappings of every EP4TA; linear mappings stay', () => {
    const caches = setUp();
    expect(invept(InveptType.AllContext, inveptDescriptor(0), ROOT, caches).status).toBe('succeed');
    expect(survivors(caches, plan)).toEqual(['vpid 1 linear', 'vpid 0 linear', 'vpid 0 global']);
  });

  it('other types, unsupported types and an invalid EPTP are VMfail with error 28; nothing is removed', () => {
    const caches = setUp();
    const fail28 = { status: 'fail-valid', error: 28 };
    expect(invept(0, inveptDescriptor(EPTP_A), ROOT, caches)).toMatchObject(fail28);
    expect(invept(3, inveptDescriptor(EPTP_A), ROOT, caches)).toMatchObject(fail28);
    expect(invept(1, inveptDescriptor(EPTP_A), ROOT, caches, { inveptSingleContext: false })).toMatchObject(
      fail28,
    );
    expect(invept(2, inveptDescriptor(0), ROOT, caches, { inveptAllContext: false })).toMatchObject(fail28);
    expect(invept(1, inveptDescriptor((EPTP_A & ~7n) | 2n), ROOT, caches)).toMatchObject(fail28); // memory type 2
    expect(invept(1, inveptDescriptor(EPTP_A | 0x100n), ROOT, caches)).toMatchObject(fail28); // bit 8 reserved
    // VMfail without a current VMCS is VMfailInvalid.
    expect(invept(0, inveptDescriptor(EPTP_A), { ...ROOT, currentVmcs: false }, caches).status).toBe(
      'fail-invalid',
    );
    expect(survivors(caches, plan)).toEqual(all);
  });

  it('#UD outside VMX operation and in real, virtual-8086 or compatibility mode; VM exit 50 in non-root; #GP(0) at CPL > 0', () => {
    const caches = setUp();
    const d = inveptDescriptor(EPTP_A);
    const ud = { status: 'fault', vector: 6, errorCode: null };
    expect(invept(1, d, { vmxOperation: false }, caches)).toEqual(ud);
    expect(invept(1, d, { vmxOperation: false, nonRoot: true }, caches)).toEqual(ud);
    expect(invept(1, d, { ...ROOT, protectedMode: false }, caches)).toEqual(ud);
    expect(invept(1, d, { ...ROOT, virtual8086: true }, caches)).toEqual(ud);
    expect(invept(1, d, { ...ROOT, compatibilityMode: true }, caches)).toEqual(ud);
    expect(invept(1, d, ROOT, caches, { invept: false })).toEqual(ud);
    expect(invept(1, d, ROOT, caches, { ept: false })).toEqual(ud);
    expect(invept(1, d, { ...ROOT, nonRoot: true, cpl: 3 }, caches)).toEqual({
      status: 'vm-exit',
      exitReason: 50,
    });
    expect(invept(1, d, { ...ROOT, cpl: 3 }, caches)).toEqual({ status: 'fault', vector: 13, errorCode: 0 });
    expect(survivors(caches, plan)).toEqual(all);
  });
});

describe('INVVPID (SDM vol. 3C §31.3, §29.4.3.1)', () => {
  it('type 0 removes the VPID’s mappings of that page in every PCID and EP4TA, and nothing else', () => {
    const caches = setUp();
    const r = invvpid(InvvpidType.IndividualAddress, invvpidDescriptor(1, 0x10_0123), ROOT, caches);
    expect(r.status).toBe('succeed');
    // The walk cache drops every entry of the VPID, whatever the address (SDM vol. 3A §4.10.4.1 rule).
    expect(survivors(caches, plan)).toEqual(
      without(['vpid 1 linear', 'vpid 1 combined A', 'vpid 1 combined A, PCID 4', 'vpid 1 walk A']),
    );
  });

  it('type 0 removes a larger page that holds the address, and a global translation of it', () => {
    const caches = setUp();
    invvpid(0, invvpidDescriptor(1, 0x200 * 4096 + 0x5_4321), ROOT, caches);
    expect(survivors(caches, plan)).not.toContain('vpid 1 2M combined A');
    invvpid(0, invvpidDescriptor(1, 0x102 * 4096), ROOT, caches);
    expect(survivors(caches, plan)).not.toContain('vpid 1 global combined A');
  });

  it('type 1 removes every linear and combined mapping of the VPID, globals included', () => {
    const caches = setUp();
    invvpid(InvvpidType.SingleContext, invvpidDescriptor(1), ROOT, caches);
    expect(survivors(caches, plan)).toEqual(all.filter((n) => !n.startsWith('vpid 1 ')));
  });

  it('type 2 removes the mappings of every VPID except 0000H; guest-physical mappings stay', () => {
    const caches = setUp();
    invvpid(InvvpidType.AllContext, invvpidDescriptor(0), ROOT, caches);
    expect(survivors(caches, plan)).toEqual([
      'vpid 0 linear',
      'vpid 0 global',
      'guest-physical A',
      'guest-physical B',
    ]);
  });

  it('type 3 removes the VPID’s mappings except global translations', () => {
    const caches = setUp();
    invvpid(InvvpidType.SingleContextRetainingGlobals, invvpidDescriptor(1), ROOT, caches);
    expect(survivors(caches, plan)).toEqual(
      all.filter((n) => !n.startsWith('vpid 1 ') || n === 'vpid 1 global combined A'),
    );
  });

  it('fails with VM-instruction error 28: reserved bits 63:16, VPID 0 for types 0/1/3, non-canonical address, unsupported type', () => {
    const caches = setUp();
    const fail28 = { status: 'fail-valid', error: 28 };
    expect(invvpid(1, { low: 0x1_0001n }, ROOT, caches)).toMatchObject(fail28);
    expect(invvpid(2, { low: 1n << 63n }, ROOT, caches)).toMatchObject(fail28);
    for (const type of [0, 1, 3])
      expect(invvpid(type, invvpidDescriptor(0), ROOT, caches)).toMatchObject(fail28);
    expect(invvpid(0, invvpidDescriptor(1, 0x0000_8000_0000_0000n), ROOT, caches)).toMatchObject(fail28);
    expect(invvpid(0, invvpidDescriptor(1, 0xfff0_0000_0000_0000n), ROOT, caches)).toMatchObject(fail28);
    expect(invvpid(4, invvpidDescriptor(1), ROOT, caches)).toMatchObject(fail28);
    expect(
      invvpid(3, invvpidDescriptor(1), ROOT, caches, { invvpidSingleContextRetainingGlobals: false }),
    ).toMatchObject(fail28);
    expect(invvpid(1, invvpidDescriptor(0), { ...ROOT, currentVmcs: false }, caches).status).toBe(
      'fail-invalid',
    );
    expect(survivors(caches, plan)).toEqual(all);
  });

  it('accepts canonical upper-half addresses, and 57-bit ones where the processor has 5-level paging', () => {
    expect(isCanonical(0xffff_8000_0000_0000n, 48)).toBe(true);
    expect(isCanonical(0x0000_7fff_ffff_f000n, 48)).toBe(true);
    expect(isCanonical(0x0000_8000_0000_0000n, 48)).toBe(false);
    expect(isCanonical(0x0000_8000_0000_0000n, 57)).toBe(true);
    expect(isCanonical(0x0100_0000_0000_0000n, 57)).toBe(false);
    const caches = setUp();
    expect(invvpid(0, invvpidDescriptor(1, 0xffff_8000_0000_0000n), ROOT, caches).status).toBe('succeed');
    expect(
      invvpid(0, invvpidDescriptor(1, 0x0000_8000_0000_0000n), ROOT, caches, { linearAddressBits: 57 })
        .status,
    ).toBe('succeed');
  });

  it('#UD outside VMX operation or without INVVPID; VM exit 53 in non-root; #GP(0) at CPL > 0', () => {
    const caches = setUp();
    const d = invvpidDescriptor(1);
    expect(invvpid(1, d, { vmxOperation: false }, caches)).toMatchObject({ status: 'fault', vector: 6 });
    expect(invvpid(1, d, ROOT, caches, { invvpid: false })).toMatchObject({ status: 'fault', vector: 6 });
    expect(invvpid(1, d, ROOT, caches, { vpid: false })).toMatchObject({ status: 'fault', vector: 6 });
    expect(invvpid(1, d, { ...ROOT, virtual8086: true }, caches)).toMatchObject({
      status: 'fault',
      vector: 6,
    });
    expect(invvpid(1, d, { ...ROOT, nonRoot: true }, caches)).toEqual({ status: 'vm-exit', exitReason: 53 });
    expect(invvpid(1, d, { ...ROOT, cpl: 1 }, caches)).toEqual({ status: 'fault', vector: 13, errorCode: 0 });
    expect(survivors(caches, plan)).toEqual(all);
  });
});
