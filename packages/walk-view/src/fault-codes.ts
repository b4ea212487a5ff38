import { type BitField, bitOf, type DecodedValue, flag, hex } from './decoded.js';

/*
 * The codes a translation fault reports, decoded bit by bit: the #PF error code, AMD's EXITINFO1 of
 * #VMEXIT(NPF), and Intel's exit qualification of an EPT violation.
 */

/** One named bit of a fault code: its number, name, and meaning when set and when clear. */
interface BitSpec {
  readonly bit: number;
  readonly name: string;
  readonly set: string;
  readonly clear: string;
}

function decodeBits(value: bigint, specs: readonly BitSpec[], width: number): BitField[] {
  const fields = specs.map((s) => flag(value, s.bit, s.name, s.set, s.clear));
  // Set bits the format does not name are shown too, so nothing in the value goes unexplained.
  for (let bit = 0; bit < width; bit++) {
    if (bitOf(value, bit) && !specs.some((s) => s.bit === bit)) {
      fields.push({
        bits: String(bit),
        name: 'reserved',
        value: '1',
        meaning: 'not defined here',
        set: true,
      });
    }
  }
  return fields.sort((a, b) => Number(a.bits) - Number(b.bits));
}

/** #PF error-code bits (Intel SDM vol. 3A §4.7, Figure 4-12; AMD APM vol. 2 §8.4.2). */
const PAGE_FAULT_BITS: readonly BitSpec[] = [
  {
    bit: 0,
    name: 'P',
    set: 'a page-level protection violation (or a reserved bit)',
    clear: 'a non-present page',
  },
  { bit: 1, name: 'W/R', set: 'the access was a write', clear: 'the access was a read (or a fetch)' },
  { bit: 2, name: 'U/S', set: 'a user-mode access', clear: 'a supervisor-mode access' },
  {
    bit: 3,
    name: 'RSVD',
    set: 'a reserved bit was set in a paging-structure entry',
    clear: 'no reserved bit was set',
  },
  {
    bit: 4,
    name: 'I/D',
    set: 'an instruction fetch',
    clear: 'not an instruction fetch (or neither NXE nor SMEP is on)',
  },
  { bit: 5, name: 'PK', set: 'a protection-key violation', clear: 'not a protection-key violation' },
  { bit: 6, name: 'SS', set: 'a shadow-stack access', clear: 'not a shadow-stack access' },
  { bit: 7, name: 'HLAT', set: 'during HLAT paging', clear: 'during ordinary paging' },
  { bit: 15, name: 'SGX', set: 'an SGX-specific access-control violation', clear: 'not SGX-specific' },
];

/** Decodes a #PF error code (Intel SDM vol. 3A §4.7). */
export function decodePageFaultErrorCode(code: bigint): DecodedValue {
  return {
    value: hex(code),
    title: '#PF error code',
    source: 'Intel SDM vol. 3A §4.7, Figure 4-12',
    fields: decodeBits(code, PAGE_FAULT_BITS, 32),
  };
}

/**
 * EXITINFO1 of #VMEXIT(NPF): the nested walk's fault as a #PF error code in bits 31:0, and where
 * it hit in bits 32-33 (AMD APM vol. 2 §15.25.6). Bits 31 and 34-36 are SEV-SNP's (APM vol. 2
 * §15.36.10), named but not produced by hvsim.
 */
const NPF_BITS: readonly BitSpec[] = [
  {
    bit: 0,
    name: 'P',
    set: 'a protection violation in the nested tables (or a reserved bit)',
    clear: 'a not-present nested entry',
  },
  {
    bit: 1,
    name: 'RW',
    set: 'a write (guest page-table accesses are writes at the nested level)',
    clear: 'a read (or a fetch)',
  },
  { bit: 2, name: 'US', set: 'a user access (every nested access is one)', clear: 'a supervisor access' },
  { bit: 3, name: 'RSV', set: 'a reserved bit was set in a nested entry', clear: 'no reserved bit was set' },
  { bit: 4, name: 'ID', set: 'a code read', clear: 'not a code read (or host NXE and SMEP are off)' },
  { bit: 6, name: 'SS', set: 'a shadow-stack access', clear: 'not a shadow-stack access' },
  { bit: 31, name: 'RMP', set: 'an RMP check failed (SEV-SNP)', clear: 'no RMP violation' },
  {
    bit: 32,
    name: 'final',
    set: "the fault hit the translation of the guest's final physical address",
    clear: "not the final physical address's translation",
  },
  {
    bit: 33,
    name: 'guest table',
    set: 'the fault hit the translation of a guest page-table access',
    clear: 'not a guest page-table access',
  },
  { bit: 34, name: 'ENC', set: 'an encrypted access (SEV-SNP)', clear: 'not flagged as encrypted' },
  { bit: 35, name: 'SIZEM', set: 'a page-size mismatch with the RMP (SEV-SNP)', clear: 'no size mismatch' },
  { bit: 36, name: 'VMPL', set: 'a VMPL permission violation (SEV-SNP)', clear: 'no VMPL violation' },
];

/** Decodes EXITINFO1 of #VMEXIT(NPF) (AMD APM vol. 2 §15.25.6). */
export function decodeNpfExitInfo1(exitInfo1: bigint): DecodedValue {
  return {
    value: hex(exitInfo1),
    title: 'EXITINFO1 of #VMEXIT(NPF)',
    source: 'AMD APM vol. 2 §15.25.6',
    fields: decodeBits(exitInfo1, NPF_BITS, 64),
  };
}

/** Exit-qualification bits of an EPT violation (Intel SDM vol. 3C §28.2.1, Table 28-7). */
const EPT_QUALIFICATION_BITS: readonly BitSpec[] = [
  { bit: 0, name: 'read', set: 'the access was a data read', clear: 'not a data read' },
  { bit: 1, name: 'write', set: 'the access was a data write', clear: 'not a data write' },
  { bit: 2, name: 'fetch', set: 'the access was an instruction fetch', clear: 'not an instruction fetch' },
  {
    bit: 3,
    name: 'readable',
    set: 'the guest-physical address was readable (bit 0 of every EPT entry used)',
    clear: 'not readable',
  },
  { bit: 4, name: 'writable', set: 'the guest-physical address was writable', clear: 'not writable' },
  {
    bit: 5,
    name: 'executable',
    set: 'executable (for supervisor-mode linear addresses, with mode-based execute control)',
    clear: 'not executable',
  },
  {
    bit: 6,
    name: 'user executable',
    set: 'executable for user-mode linear addresses (with mode-based execute control)',
    clear: 'not executable for user mode (or no mode-based execute control)',
  },
  {
    bit: 7,
    name: 'linear valid',
    set: 'the guest linear-address field is valid',
    clear: 'no guest linear address (a PDPTE load, say)',
  },
  {
    bit: 8,
    name: 'translation',
    set: 'the access was to the translation of the linear address (the final guest-physical address)',
    clear: 'the access was to a guest paging-structure entry (when bit 7 is set)',
  },
  {
    bit: 9,
    name: 'user linear',
    set: 'a user-mode linear address (advanced VM-exit information)',
    clear: 'supervisor-mode, or no advanced information',
  },
  {
    bit: 10,
    name: 'writable linear',
    set: 'the linear address is writable (advanced VM-exit information)',
    clear: 'read-only, or no advanced information',
  },
  {
    bit: 11,
    name: 'XD linear',
    set: 'the linear address is execute-disable (advanced VM-exit information)',
    clear: 'executable, or no advanced information',
  },
  { bit: 12, name: 'NMI unblocking', set: 'NMI unblocking due to IRET', clear: 'no NMI unblocking' },
  { bit: 13, name: 'shadow stack', set: 'a shadow-stack access', clear: 'not a shadow-stack access' },
  {
    bit: 14,
    name: 'supervisor shadow stack',
    set: 'the EPT entries allow supervisor shadow-stack access',
    clear: 'no supervisor shadow-stack access',
  },
  {
    bit: 15,
    name: 'guest paging verification',
    set: 'the access was a guest-paging verification',
    clear: 'no guest-paging verification',
  },
  {
    bit: 16,
    name: 'asynchronous',
    set: 'the access was asynchronous to instruction execution',
    clear: 'synchronous to instruction execution',
  },
];

/** Decodes the exit qualification of an EPT violation (Intel SDM vol. 3C Table 28-7). */
export function decodeEptQualification(qualification: bigint): DecodedValue {
  return {
    value: hex(qualification),
    title: 'Exit qualification of an EPT violation',
    source: 'Intel SDM vol. 3C §28.2.1, Table 28-7 (Table 27-7 in the 2016 edition)',
    fields: decodeBits(qualification, EPT_QUALIFICATION_BITS, 64),
  };
}
