import { type BitField, bitOf, type DecodedValue, flag, hex, ignored, range, reserved } from './decoded.js';

/*
 * Intel EPT paging-structure entries, decoded bit by bit (Intel SDM vol. 3C §29.3.2, Tables 29-1 to
 * 29-6 in recent editions; §28.2.2 Tables 28-1 to 28-6 in 2016).
 */

/** The name of the EPT entry at `level` (`EPT PML4E` … `EPT PTE`). */
export function eptLevelName(level: number): string {
  return `EPT ${['', 'PTE', 'PDE', 'PDPTE', 'PML4E', 'PML5E'][level] ?? `level-${level} entry`}`;
}

const MEMORY_TYPE: Readonly<Record<number, string>> = {
  0: 'UC (uncacheable)',
  1: 'WC (write combining)',
  4: 'WT (write-through)',
  5: 'WP (write-protected)',
  6: 'WB (write-back)',
};

/** Decodes an EPT entry at `level` (1 = EPT PTE … 5 = EPT PML5E); MAXPHYADDR defaults to 48. */
export function decodeEptEntry(entry: bigint, level: number, maxPhysicalAddressBits = 48): DecodedValue {
  const m = maxPhysicalAddressBits;
  const large = (level === 2 || level === 3) && bitOf(entry, 7);
  const leaf = level === 1 || large;
  const fields: BitField[] = [
    flag(entry, 0, 'R', 'read access allowed', 'reads not allowed'),
    flag(entry, 1, 'W', 'write access allowed', 'writes not allowed'),
    flag(
      entry,
      2,
      'X',
      'instruction fetches allowed (supervisor-mode linear addresses, with mode-based execute control)',
      'instruction fetches not allowed',
    ),
  ];
  const present = (entry & 7n) !== 0n || bitOf(entry, 10);
  if (leaf) {
    const type = Number((entry >> 3n) & 7n);
    fields.push(
      {
        bits: '5:3',
        name: 'memory type',
        value: hex(type),
        meaning: `EPT memory type ${MEMORY_TYPE[type] ?? '(reserved: a misconfiguration)'}`,
        set: type !== 0,
      },
      flag(entry, 6, 'IPAT', 'ignore the guest PAT memory type', 'combine with the guest PAT memory type'),
    );
    fields.push(
      level === 1
        ? ignored(entry, 7, 7)
        : flag(
            entry,
            7,
            'PS',
            `page size: maps a ${level === 3 ? '1 GiB' : '2 MiB'} page`,
            'references a table',
          ),
    );
  } else {
    fields.push(
      level === 2
        ? reserved(entry, 6, 3, 'a misconfiguration if set')
        : reserved(entry, 7, 3, 'a misconfiguration if set'),
    );
    if (level === 2)
      fields.push(flag(entry, 7, 'PS', 'page size: maps a 2 MiB page', 'references a page table'));
  }
  fields.push(
    flag(entry, 8, 'A', 'accessed (with EPTP bit 6)', 'not accessed (or A/D flags disabled)'),
    leaf
      ? flag(entry, 9, 'D', 'dirty (with EPTP bit 6)', 'clean (or A/D flags disabled)')
      : ignored(entry, 9, 9),
    flag(
      entry,
      10,
      'XU',
      'user-mode execute allowed (with mode-based execute control; ignored otherwise)',
      'no user-mode execute (with mode-based execute control; ignored otherwise)',
    ),
    ignored(entry, 11, 11),
  );
  if (large) {
    const low = level === 3 ? 30 : 21;
    fields.push(
      reserved(entry, low - 1, 12, 'a misconfiguration if set'),
      range(
        entry,
        m - 1,
        low,
        'address',
        `host-physical address of the ${level === 3 ? '1 GiB' : '2 MiB'} page`,
        true,
      ),
    );
  } else {
    const what = [
      '',
      'the 4 KiB page',
      'the EPT page table',
      'the EPT page directory',
      'the EPT PDPT',
      'the EPT PML4 table',
    ][level];
    fields.push(range(entry, m - 1, 12, 'address', `host-physical address of ${what}`, true));
  }
  if (m < 52) fields.push(reserved(entry, 51, m, `at or above MAXPHYADDR ${m}: a misconfiguration`));
  fields.push(ignored(entry, 62, 52));
  fields.push(
    leaf ? flag(entry, 63, 'SVE', 'suppress #VE', 'EPT violations may become #VE') : ignored(entry, 63, 63),
  );
  return {
    value: hex(entry),
    title: `${eptLevelName(level)}${present ? '' : ' (not present: bits 2:0 are 0)'}`,
    source: 'Intel SDM vol. 3C §29.3.2, Tables 29-1 to 29-6',
    fields,
  };
}
