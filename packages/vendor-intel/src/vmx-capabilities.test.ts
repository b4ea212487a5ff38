import { describe, expect, it } from 'vitest';
import { eptVpidCapMsr, RECENT_VMX, resolveVmxCapabilities } from './vmx-capabilities.js';

// IA32_VMX_EPT_VPID_CAP (SDM vol. 3C Appendix A.10): bit 0 execute-only, 6 page-walk length 4, 7
// page-walk length 5, 8 UC, 14 WB, 16 2 MiB pages, 17 1 GiB pages, 20 INVEPT, 21 EPT A/D flags, 22
// advanced EPT-violation information, 23 supervisor shadow stacks, 25 single-context INVEPT, 26
// all-context INVEPT, 32 INVVPID, 40 individual-address, 41 single-context, 42 all-context, 43
// single-context-retaining-globals INVVPID.
const bit = (n: number) => 1n << BigInt(n);

describe('VMX capabilities and IA32_VMX_EPT_VPID_CAP', () => {
  it('produces the MSR of the default part', () => {
    const expected = [0, 6, 7, 8, 14, 16, 17, 20, 21, 25, 26, 32, 40, 41, 42, 43].reduce(
      (m, n) => m | bit(n),
      0n,
    );
    expect(eptVpidCapMsr()).toBe(expected);
  });

  it('clears the bits of what a part lacks', () => {
    const msr = eptVpidCapMsr({
      executeOnly: false,
      fiveLevel: false,
      inveptSingleContext: false,
      invvpidSingleContextRetainingGlobals: false,
      advancedViolationInfo: true,
    });
    expect(msr & bit(0)).toBe(0n);
    expect(msr & bit(7)).toBe(0n);
    expect(msr & bit(25)).toBe(0n);
    expect(msr & bit(43)).toBe(0n);
    expect(msr & bit(22)).toBe(bit(22));
    expect(msr & bit(26)).toBe(bit(26));
  });

  it('fills in defaults and rejects impossible widths', () => {
    expect(resolveVmxCapabilities()).toEqual(RECENT_VMX);
    expect(resolveVmxCapabilities({ maxPhysicalAddressBits: 39 }).maxPhysicalAddressBits).toBe(39);
    expect(() => resolveVmxCapabilities({ maxPhysicalAddressBits: 60 })).toThrow(RangeError);
    expect(() => resolveVmxCapabilities({ linearAddressBits: 52 as 48 })).toThrow(RangeError);
  });
});
