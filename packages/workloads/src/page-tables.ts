import { PagingMode, PteFlag, TWO_32, type WordMemory } from '@hvsim/cpu-core';

/**
 * Bits of a page-table entry the guest kernel uses for itself. Bits 11:9 of every entry that maps a
 * page are ignored by the processor (Intel SDM vol. 3A Tables 4-6, 4-11 and 4-19; AMD APM vol. 2
 * §5.3-5.4 "AVL"), and a not-present entry's other bits are all free for software (SDM vol. 3A §4.5,
 * "If the P flag is 0 ... software may use the other bits"), as Linux keeps its PROT_NONE pages.
 */
export const SoftBit = {
  /** The page is shared copy-on-write: read-only until a write fault copies (or reclaims) it. */
  Cow: 1 << 9,
  /** With P=0: a PROT_NONE page that keeps its frame. */
  ProtNone: 1 << 10,
} as const;

/** What the guest kernel needs to know of the paging mode's table format. */
export interface TableFormat {
  readonly mode: PagingMode;
  readonly levels: number;
  /** 8-byte entries (PAE and long modes) rather than 4-byte (32-bit paging). */
  readonly wide: boolean;
  /** 4- or 5-level paging. */
  readonly long: boolean;
  /** The large page the kernel uses for transparent huge pages: 2 MiB, or 4 MiB in 32-bit paging (SDM vol. 3A §4.3). */
  readonly hugeSize: number;
}

/** The table format of `mode`. */
export function tableFormat(mode: PagingMode): TableFormat {
  switch (mode) {
    case PagingMode.Legacy32:
      return { mode, levels: 2, wide: false, long: false, hugeSize: 0x40_0000 };
    case PagingMode.Pae:
      return { mode, levels: 3, wide: true, long: false, hugeSize: 0x20_0000 };
    case PagingMode.Level4:
      return { mode, levels: 4, wide: true, long: true, hugeSize: 0x20_0000 };
    case PagingMode.Level5:
      return { mode, levels: 5, wide: true, long: true, hugeSize: 0x20_0000 };
    default:
      throw new RangeError(`a guest kernel needs a paging mode (32-bit, PAE, 4- or 5-level), got ${mode}`);
  }
}

/** Entries in one table at `level` (1 = page table): 1024 in 32-bit paging, 4 in the PAE PDPT, else 512 (SDM vol. 3A §4.3-4.5). */
export function entriesAt(format: TableFormat, level: number): number {
  if (!format.wide) return 1024;
  return format.mode === PagingMode.Pae && level === 3 ? 4 : 512;
}

/** The 4 KiB pages one entry at `level` maps. */
export function spanAt(format: TableFormat, level: number): number {
  if (!format.wide) return level === 2 ? 1024 : 1;
  return 512 ** (level - 1);
}

/** Whether an entry at `level` with low half `lo` maps a page (rather than referencing a table): PS in a PDE, or a PDPTE in long modes (SDM vol. 3A §4.3, §4.5). */
export function isLeaf(format: TableFormat, level: number, lo: number): boolean {
  return level === 1 || ((lo & PteFlag.PS) !== 0 && (level === 2 || (level === 3 && format.long)));
}

/**
 * The physical address an entry holds: bits 51:12 (bits 51:21 for a 2 MiB page, whose bit 12 is PAT;
 * 31:22 for a 32-bit 4 MiB page, whose PSE-36 bits the kernel never sets because its memory is below
 * 4 GiB in 32-bit paging).
 */
export function entryAddressField(format: TableFormat, lo: number, hi: number, large: boolean): number {
  const low = (lo & (large ? -format.hugeSize : 0xffff_f000)) >>> 0;
  return format.wide ? (hi & 0xf_ffff) * TWO_32 + low : low;
}

/** Visits a process's tables: each mapped leaf, and each table after its entries. */
export interface TableVisitor {
  /** A leaf entry that is present, or not present but kept for PROT_NONE. */
  leaf?(entryAddress: number, lo: number, hi: number, vpn: number, level: number): void;
  /** A present entry referencing the table at `table` (level `level`), after that table's entries were visited. */
  table?(entryAddress: number, lo: number, hi: number, table: number, level: number, vpn: number): void;
}

/** Guest-physical memory a table walk reads: words, and optionally a whole 4 KiB page at once (`GuestCpu.readPhysicalPage`). */
export interface TableMemory extends WordMemory {
  readPage?(address: number, into: Uint32Array): void;
}

/**
 * Walks the tables under `root` through `memory` (the guest's view: `GuestCpu.readPhysical`) for
 * the 4 KiB page numbers [startVpn, endVpn), depth first in address order. A visitor may write the
 * entry it is given, nothing else of the table being walked (a table read as a page is read once).
 */
export function walkTables(
  memory: TableMemory,
  format: TableFormat,
  root: number,
  startVpn: number,
  endVpn: number,
  visitor: TableVisitor,
): void {
  visit(memory, format, root, format.levels, 0, startVpn, endVpn, visitor, 0);
}

/** Page buffers by recursion depth, for tables read as one page. */
const pages: Uint32Array[] = [];
/** Below this many entries a table's entries are read one by one rather than as a page. */
const PAGE_READ_ENTRIES = 32;

function visit(
  memory: TableMemory,
  format: TableFormat,
  table: number,
  level: number,
  base: number,
  startVpn: number,
  endVpn: number,
  visitor: TableVisitor,
  depth: number,
): void {
  const span = spanAt(format, level);
  const bytes = format.wide ? 8 : 4;
  const first = Math.max(0, Math.floor((startVpn - base) / span));
  const last = Math.min(entriesAt(format, level) - 1, Math.floor((endVpn - 1 - base) / span));
  let words: Uint32Array | null = null;
  if (memory.readPage !== undefined && last - first + 1 >= PAGE_READ_ENTRIES) {
    pages[depth] ??= new Uint32Array(1024);
    words = pages[depth] as Uint32Array;
    memory.readPage(table, words);
  }
  const firstWord = (table % 0x1000) >>> 2;
  for (let i = first; i <= last; i++) {
    const address = table + i * bytes;
    const w = firstWord + i * (bytes >>> 2);
    const lo = words === null ? memory.readWord(address) : (words[w] as number);
    if ((lo & (PteFlag.P | SoftBit.ProtNone)) === 0) continue;
    const hi = format.wide ? (words === null ? memory.readWord(address + 4) : (words[w + 1] as number)) : 0;
    const vpn = base + i * span;
    if (isLeaf(format, level, lo)) {
      visitor.leaf?.(address, lo, hi, vpn, level);
    } else if ((lo & PteFlag.P) !== 0) {
      const next = entryAddressField(format, lo, hi, false);
      visit(memory, format, next, level - 1, vpn, startVpn, endVpn, visitor, depth + 1);
      visitor.table?.(address, lo, hi, next, level - 1, vpn);
    }
  }
}
