import { describe, expect, it } from 'vitest';
import type { DecodedValue } from './decoded.js';
import { decodeEptEntry } from './ept-entry.js';
import { decodeEptQualification, decodeNpfExitInfo1, decodePageFaultErrorCode } from './fault-codes.js';
import { decodeX86Entry } from './x86-entry.js';

/* Expected values from the manuals' bit layouts, worked out by hand for each value. */

const setBits = (d: DecodedValue) => d.fields.filter((f) => f.set).map((f) => `${f.bits} ${f.name}`);
const field = (d: DecodedValue, name: string) => d.fields.find((f) => f.name === name);

describe('#PF error code (Intel SDM vol. 3A §4.7, Figure 4-12)', () => {
  it('names bits 0-7 and 15', () => {
    const d = decodePageFaultErrorCode(0n);
    expect(d.fields.map((f) => `${f.bits} ${f.name}`)).toEqual([
      '0 P',
      '1 W/R',
      '2 U/S',
      '3 RSVD',
      '4 I/D',
      '5 PK',
      '6 SS',
      '7 HLAT',
      '15 SGX',
    ]);
    expect(field(d, 'P')?.meaning).toBe('a non-present page');
  });

  it('0x4: a user-mode read of a not-present page; 0x15: a user fetch that hit XD', () => {
    expect(setBits(decodePageFaultErrorCode(0x4n))).toEqual(['2 U/S']);
    expect(setBits(decodePageFaultErrorCode(0x15n))).toEqual(['0 P', '2 U/S', '4 I/D']);
    expect(field(decodePageFaultErrorCode(0x15n), 'P')?.meaning).toMatch(/protection violation/);
    // Bit 9 is not defined: shown as reserved rather than dropped.
    expect(setBits(decodePageFaultErrorCode(0x20an))).toEqual(['1 W/R', '3 RSVD', '9 reserved']);
  });
});

describe('EXITINFO1 of #VMEXIT(NPF) (AMD APM vol. 2 §15.25.6)', () => {
  it('0x100000007: a write to a read-only nested page, on the final guest-physical address', () => {
    const d = decodeNpfExitInfo1(0x1_0000_0007n);
    expect(setBits(d)).toEqual(['0 P', '1 RW', '2 US', '32 final']);
    expect(d.value).toBe('0x100000007');
  });

  it('0x200000006: a not-present nested entry met by a guest page-table access (a user write)', () => {
    const d = decodeNpfExitInfo1(0x2_0000_0006n);
    expect(setBits(d)).toEqual(['1 RW', '2 US', '33 guest table']);
    expect(field(d, 'P')?.meaning).toBe('a not-present nested entry');
  });
});

describe('EPT-violation exit qualification (Intel SDM vol. 3C Table 28-7)', () => {
  it('0x18a: a data write to a readable, not writable page, at the translation of a valid linear address', () => {
    const d = decodeEptQualification(0x18an);
    expect(setBits(d)).toEqual(['1 write', '3 readable', '7 linear valid', '8 translation']);
  });

  it('0x83: a guest paging-structure access (bit 8 clear) that read and wrote (accessed flag update)', () => {
    const d = decodeEptQualification(0x83n);
    expect(setBits(d)).toEqual(['0 read', '1 write', '7 linear valid']);
    expect(field(d, 'translation')?.meaning).toBe(
      'the access was to a guest paging-structure entry (when bit 7 is set)',
    );
    expect(d.fields.slice(0, 17).map((f) => Number(f.bits))).toEqual([...Array(17).keys()]);
  });
});

describe('x86 entries (Intel SDM vol. 3A §4.3-4.5)', () => {
  it('a 4-level PTE: P, R/W, U/S, A, D, the 4 KiB frame, XD (Table 4-20)', () => {
    const d = decodeX86Entry(0x8000_0000_0040_5067n, 'long', 1);
    expect(setBits(d)).toEqual(['0 P', '1 R/W', '2 U/S', '5 A', '6 D', '47:12 address', '63 XD']);
    expect(field(d, 'address')?.value).toBe('0x405000');
    expect(field(d, 'PAT')?.bits).toBe('7');
    expect(d.title).toBe('PTE, 4- and 5-level paging');
  });

  it("cites the scenario's vendor: AMD names bit 63 NX (APM vol. 2 §5.4.1), Intel XD", () => {
    const amd = decodeX86Entry(0x8000_0000_0040_5067n, 'long', 1, { vendor: 'amd', stage: 'nested' });
    expect(setBits(amd)).toEqual(['0 P', '1 R/W', '2 U/S', '5 A', '6 D', '47:12 address', '63 NX']);
    expect(amd.source).toMatch(/^AMD APM vol\. 2 §5\.3, §5\.4/);
    expect(amd.source).toContain('§15.25.3');
    const intel = decodeX86Entry(0x8000_0000_0040_5067n, 'long', 1, { vendor: 'intel' });
    expect(intel.source).toMatch(/^Intel SDM vol\. 3A §4\.5/);
    expect(field(intel, 'XD')?.bits).toBe('63');
  });

  it('a PDE with PS=1 maps a 2 MiB page: D, G and PAT (bit 12) are its own (Table 4-18)', () => {
    const d = decodeX86Entry(0x2000e7n, 'long', 2, { stage: 'nested' });
    expect(setBits(d)).toEqual(['0 P', '1 R/W', '2 U/S', '5 A', '6 D', '7 PS', '47:21 address']);
    expect(field(d, 'PS')?.meaning).toBe('page size: maps a 2 MiB page');
    expect(field(d, 'PAT')?.bits).toBe('12');
    expect(d.title).toBe('nested PDE, 4- and 5-level paging');
  });

  it('a PML4E: bit 7 is reserved, bit 6 ignored (Table 4-15); MAXPHYADDR 40 reserves 51:40', () => {
    const d = decodeX86Entry(0x1_0000_2027n, 'long', 4, { maxPhysicalAddressBits: 40 });
    expect(d.fields.find((f) => f.bits === '7')?.name).toBe('reserved');
    expect(d.fields.find((f) => f.bits === '6')?.name).toBe('ignored');
    expect(field(d, 'address')?.value).toBe('0x100002000');
    expect(d.fields.find((f) => f.bits === '51:40')?.set).toBe(false);
  });

  it('a PAE PDPTE has no R/W, U/S or A bit (Table 4-8)', () => {
    const d = decodeX86Entry(0x3001n, 'pae', 3);
    expect(d.fields.map((f) => f.name).slice(0, 5)).toEqual(['P', 'reserved', 'PWT', 'PCD', 'reserved']);
    expect(field(d, 'address')?.value).toBe('0x3000');
  });

  it('a 32-bit 4 MiB PDE: bits 20:13 are physical-address bits 39:32 (PSE-36, Table 4-4)', () => {
    const d = decodeX86Entry(0x0040_2083n, 'legacy32', 2);
    expect(field(d, 'address 39:32')?.value).toBe('0x1');
    expect(field(d, 'address')?.value).toBe('0x400000');
    expect(field(d, 'PS')?.set).toBe(true);
  });

  it('a not-present entry shows only P', () => {
    expect(decodeX86Entry(0x5006n, 'long', 1).fields.map((f) => f.name)).toEqual(['P']);
  });
});

describe('EPT entries (Intel SDM vol. 3C §29.3.2)', () => {
  it('an EPT PTE: R, W, X, memory type 6 (WB), the frame (Table 29-6)', () => {
    const d = decodeEptEntry(0x40_5037n, 1);
    expect(setBits(d)).toEqual(['0 R', '1 W', '2 X', '5:3 memory type', '47:12 address']);
    expect(field(d, 'memory type')?.meaning).toBe('EPT memory type WB (write-back)');
    expect(field(d, 'address')?.value).toBe('0x405000');
  });

  it('an EPT PDE with bit 7 maps a 2 MiB page; a non-leaf EPT PML4E has bits 7:3 reserved', () => {
    const pde = decodeEptEntry(0x20_00b7n, 2);
    expect(field(pde, 'PS')?.meaning).toBe('page size: maps a 2 MiB page');
    expect(field(pde, 'address')?.value).toBe('0x200000');
    const pml4e = decodeEptEntry(0x10_1107n, 4);
    expect(pml4e.fields.find((f) => f.bits === '7:3')?.set).toBe(false);
    expect(setBits(pml4e)).toEqual(['0 R', '1 W', '2 X', '8 A', '47:12 address']);
    expect(decodeEptEntry(0n, 1).title).toBe('EPT PTE (not present: bits 2:0 are 0)');
  });
});
