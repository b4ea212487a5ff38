import { type BitField, bitOf, type DecodedValue, flag, hex, ignored, range, reserved } from './decoded.js';

/*
 * x86 paging-structure entries, decoded bit by bit (Intel SDM vol. 3A §4.3 Tables 4-4 to 4-10,
 * §4.4 Tables 4-11 to 4-15, §4.5 Tables 4-14 to 4-20; AMD APM vol. 2 §5.3-5.4). AMD nested tables
 * have exactly this format, in the host's paging mode (APM vol. 2 §15.25.3).
 */

/** The three x86 entry formats: 32-bit paging, PAE paging, and 4- and 5-level paging. */
export type X86EntryFormat = 'legacy32' | 'pae' | 'long';

/** The name of the entry at `level` of `format` (`PML4E`, `PDPTE`, `PDE`, `PTE`). */
export function x86LevelName(format: X86EntryFormat, level: number): string {
  if (format === 'legacy32') return level === 2 ? 'PDE' : 'PTE';
  return ['', 'PTE', 'PDE', 'PDPTE', 'PML4E', 'PML5E'][level] ?? `level-${level} entry`;
}

/** Options of `decodeX86Entry`. */
export interface X86EntryOptions {
  /** MAXPHYADDR (default 48): address bits at or above it are reserved. */
  readonly maxPhysicalAddressBits?: number;
  /** Prefix of the title (`guest`, `nested`). */
  readonly stage?: string;
  /**
   * Whose manual the decoding cites and names bits by (default `intel`): AMD calls bit 63 NX (APM
   * vol. 2 §5.4.1) where Intel says XD (SDM vol. 3A §4.6).
   */
  readonly vendor?: 'amd' | 'intel';
}

/** What the address of a non-large entry at each level points to. */
const NEXT = [
  '',
  'the 4 KiB page',
  'the page table',
  'the page directory',
  'the page-directory-pointer table',
  'the PML4 table',
];

const PAGE_SIZE_OF: Readonly<Record<string, string>> = {
  'long-2': '2 MiB',
  'long-3': '1 GiB',
  'pae-2': '2 MiB',
  'legacy32-2': '4 MiB',
};

/**
 * Decodes an x86 paging-structure entry of `format` at `level` (1 = PTE … 5 = PML5E): every bit
 * named, with what its value means at that level. A PDE or PDPTE with PS=1 is decoded as the leaf it
 * is (its D, G and PAT bits, a wider page frame, and the reserved bits between).
 */
export function decodeX86Entry(
  entry: bigint,
  format: X86EntryFormat,
  level: number,
  options: X86EntryOptions = {},
): DecodedValue {
  const m = options.maxPhysicalAddressBits ?? 48;
  const name = x86LevelName(format, level);
  const modeName = { legacy32: '32-bit paging', pae: 'PAE paging', long: '4- and 5-level paging' }[format];
  const title = `${options.stage === undefined ? '' : `${options.stage} `}${name}, ${modeName}`;
  const amd = options.vendor === 'amd';
  // AMD: legacy-mode (32-bit and PAE) tables in APM vol. 2 §5.2, long-mode tables in §5.3, the fields
  // of every entry in §5.4; nested tables have the same format in the host's mode (§15.25.3).
  const source = amd
    ? {
        legacy32: 'AMD APM vol. 2 §5.2, §5.4',
        pae: 'AMD APM vol. 2 §5.2, §5.4',
        long: 'AMD APM vol. 2 §5.3, §5.4',
      }[format] + (options.stage === 'nested' ? " (nested tables in the host's mode, §15.25.3)" : '')
    : {
        legacy32: 'Intel SDM vol. 3A §4.3, Tables 4-4 to 4-10',
        pae: 'Intel SDM vol. 3A §4.4, Tables 4-11 to 4-15',
        long: 'Intel SDM vol. 3A §4.5, Tables 4-14 to 4-20',
      }[format];
  const fields: BitField[] = [];
  const present = bitOf(entry, 0);
  fields.push(
    flag(entry, 0, 'P', 'present', 'not present: the walk ends here with a #PF (or a nested fault)'),
  );
  if (format === 'pae' && level === 3) {
    // The PAE PDPTE has no R/W, U/S or A bit (SDM vol. 3A Table 4-8).
    fields.push(
      reserved(entry, 2, 1),
      flag(entry, 3, 'PWT', 'page-level write-through', 'write-back'),
      flag(entry, 4, 'PCD', 'page-level cache disable', 'cacheable'),
      reserved(entry, 8, 5),
      ignored(entry, 11, 9),
      range(entry, m - 1, 12, 'address', 'physical address of the page directory', true),
    );
    if (m < 52) fields.push(reserved(entry, 51, m, `at or above MAXPHYADDR ${m}`));
    fields.push(reserved(entry, 63, 52));
    return { value: hex(entry), title, source, fields: present ? fields : fields.slice(0, 1) };
  }
  const ps = bitOf(entry, 7);
  const canBeLarge =
    (format === 'long' && (level === 2 || level === 3)) || (format !== 'long' && level === 2);
  const large = canBeLarge && ps;
  const leaf = level === 1 || large;
  fields.push(
    flag(entry, 1, 'R/W', 'writable', 'read-only: writes fault (at CPL 3, or with CR0.WP=1)'),
    flag(entry, 2, 'U/S', 'user: CPL 3 may access', 'supervisor only: CPL 3 accesses fault'),
    flag(entry, 3, 'PWT', 'page-level write-through', 'write-back'),
    flag(entry, 4, 'PCD', 'page-level cache disable', 'cacheable'),
    flag(entry, 5, 'A', 'accessed: the CPU has used this entry', 'not accessed yet'),
  );
  fields.push(
    leaf
      ? flag(entry, 6, 'D', 'dirty: the page has been written', 'clean: the first write sets D')
      : ignored(entry, 6, 6),
  );
  if (level === 1) fields.push(flag(entry, 7, 'PAT', 'PAT index bit 2', 'PAT index bit 2 clear'));
  else if (canBeLarge) {
    const size = PAGE_SIZE_OF[`${format}-${level}`];
    fields.push(flag(entry, 7, 'PS', `page size: maps a ${size} page`, 'references a table'));
  } else fields.push(reserved(entry, 7, 7, 'PS must be 0 at this level'));
  fields.push(leaf ? flag(entry, 8, 'G', 'global (with CR4.PGE)', 'not global') : ignored(entry, 8, 8));
  fields.push(ignored(entry, 11, 9));
  const top = format === 'legacy32' ? 31 : m - 1;
  if (format === 'legacy32' && large) {
    fields.push(
      flag(entry, 12, 'PAT', 'PAT index bit 2', 'PAT index bit 2 clear'),
      range(entry, 20, 13, 'address 39:32', 'physical address bits 39:32 (PSE-36)'),
      reserved(entry, 21, 21),
      range(entry, 31, 22, 'address', 'physical address bits 31:22 of the 4 MiB page', true),
    );
  } else if (large) {
    const low = level === 3 ? 30 : 21;
    fields.push(
      flag(entry, 12, 'PAT', 'PAT index bit 2', 'PAT index bit 2 clear'),
      reserved(entry, low - 1, 13),
      range(
        entry,
        top,
        low,
        'address',
        `physical address of the ${PAGE_SIZE_OF[`${format}-${level}`]} page`,
        true,
      ),
    );
  } else {
    fields.push(range(entry, top, 12, 'address', `physical address of ${NEXT[level]}`, true));
  }
  if (format !== 'legacy32') {
    if (m < 52) fields.push(reserved(entry, 51, m, `at or above MAXPHYADDR ${m}`));
    if (format === 'long' && leaf) {
      fields.push(
        ignored(entry, 58, 52),
        range(entry, 62, 59, 'PK', 'protection key (with CR4.PKE or PKS; else ignored)'),
      );
    } else fields.push(ignored(entry, 62, 52));
    fields.push(
      flag(
        entry,
        63,
        amd ? 'NX' : 'XD',
        `${amd ? 'no-execute' : 'execute-disable'}: fetches fault (with EFER.NXE=1; reserved otherwise)`,
        'executable at this level',
      ),
    );
  }
  // A not-present entry's other bits mean nothing to the processor.
  return { value: hex(entry), title, source, fields: present ? fields : fields.slice(0, 1) };
}
