import { linearFromBigInt, linearToBigInt, TWO_32, tableIndex } from './linear-address.js';
import { PagingMode } from './paging-mode.js';

/**
 * What the builder needs of a memory: 32-bit words at 4-byte-aligned addresses. `PhysicalMemory` is
 * one; a hypervisor's view of a guest's physical memory (written through the nested mapping) is another.
 */
export interface WordMemory {
  readWord(address: number): number;
  writeWord(address: number, value: number): void;
}

/** Page-table entry flag bits common to all x86 formats (Intel SDM vol. 3A Tables 4-4 to 4-20). */
export const PteFlag = {
  P: 1 << 0,
  RW: 1 << 1,
  US: 1 << 2,
  PWT: 1 << 3,
  PCD: 1 << 4,
  A: 1 << 5,
  D: 1 << 6,
  PS: 1 << 7,
  G: 1 << 8,
} as const;

/**
 * Page sizes a translation can have, in bytes (Intel SDM vol. 3A §4.3, §4.4, §4.5; AMD APM vol. 2
 * §5.2-5.4): 4 KiB everywhere, 2 MiB with PAE and 4/5-level paging, 4 MiB with 32-bit paging and
 * CR4.PSE, 1 GiB with 4/5-level paging.
 */
export const PageSize = {
  Size4K: 0x1000,
  Size2M: 0x20_0000,
  Size4M: 0x40_0000,
  Size1G: 0x4000_0000,
} as const;
export type PageSize = (typeof PageSize)[keyof typeof PageSize];

/** How to map one page. */
export interface MapOptions {
  /** Page size (default 4 KiB). 4 MiB pages exist only in 32-bit paging, 2 MiB in PAE and long modes, 1 GiB in long modes. */
  readonly size?: PageSize;
  /** Low flag bits of the leaf (default P | RW | US). P is always set. */
  readonly flags?: number;
  /** XD (bit 63) in the leaf (PAE and long modes). */
  readonly noExecute?: boolean;
  /** Protection key of the leaf, bits 62:59 (long modes). */
  readonly protectionKey?: number;
  /** Low flag bits of intermediate entries created for this mapping (default P | RW | US). */
  readonly tableFlags?: number;
}

/** Hands out zeroed, 4 KiB-aligned physical frames from a region. */
export class FrameAllocator {
  private next: number;
  private readonly end: number;

  /** Allocates from [start, end); both multiples of 4096. */
  constructor(start: number, end: number) {
    if (start % 4096 !== 0 || end % 4096 !== 0 || end <= start) {
      throw new RangeError(
        `frame region [0x${start.toString(16)}, 0x${end.toString(16)}) is not 4 KiB aligned and non-empty`,
      );
    }
    this.next = start;
    this.end = end;
  }

  /** The next free frame's physical address. */
  allocate(): number {
    if (this.next >= this.end) throw new RangeError('frame allocator exhausted');
    const frame = this.next;
    this.next += 4096;
    return frame;
  }

  /** Frames handed out so far end here. */
  get watermark(): number {
    return this.next;
  }
}

/**
 * Builds x86 paging structures in physical memory for any paging mode: allocates tables as needed
 * and writes the entries of a mapping. For tests, examples and workloads; the walkers never use it.
 */
export class PageTableBuilder {
  /** Physical address of the root table (what CR3 points to; for PAE the 32-byte PDPT). */
  readonly root: number;
  readonly mode: PagingMode;
  private readonly memory: WordMemory;
  private readonly allocate: () => number;

  constructor(memory: WordMemory, mode: PagingMode, allocate: () => number) {
    if (mode === PagingMode.None) throw new RangeError('no page tables exist without paging');
    this.memory = memory;
    this.mode = mode;
    this.allocate = allocate;
    this.root = allocate();
  }

  /** Number of levels of the mode (PAE counts its PDPT as level 3). */
  get levels(): number {
    return this.mode === PagingMode.Level5
      ? 5
      : this.mode === PagingMode.Level4
        ? 4
        : this.mode === PagingMode.Pae
          ? 3
          : 2;
  }

  /** Bytes per entry. */
  get entryBytes(): 4 | 8 {
    return this.mode === PagingMode.Legacy32 ? 4 : 8;
  }

  /** Maps the page at `linear` to `physical` (both aligned to the page size); returns the leaf entry's address. */
  map(linear: number | bigint, physical: number, options: MapOptions = {}): number {
    const size = options.size ?? PageSize.Size4K;
    const leafLevel = this.leafLevel(size);
    this.split(linear);
    const lo = this.lo;
    const hi = this.hi;
    // Page sizes divide 2^32, so the low half alone decides the alignment.
    if (lo % size !== 0 || physical % size !== 0) {
      throw new RangeError(
        `mapping 0x${linearToBigInt(lo, hi).toString(16)} -> 0x${physical.toString(16)} is not aligned to its page size`,
      );
    }
    if (this.mode === PagingMode.Legacy32) {
      // A 32-bit PTE holds physical-address bits 31:12 only; a 4 MiB PDE adds bits 39:32 (PSE-36,
      // SDM vol. 3A Table 4-4).
      const limit = size === PageSize.Size4M ? 2 ** 40 : 2 ** 32;
      if (physical >= limit) {
        throw new RangeError(
          `32-bit paging cannot map physical 0x${physical.toString(16)} with a ${size === PageSize.Size4M ? '4 MiB' : '4 KiB'} page (limit 0x${limit.toString(16)})`,
        );
      }
    }
    const tableFlags = (options.tableFlags ?? PteFlag.P | PteFlag.RW | PteFlag.US) | PteFlag.P;
    let table = this.root;
    const memory = this.memory;
    const wide = this.entryBytes === 8;
    for (let level = this.levels; level > leafLevel; level--) {
      const address = this.entryAddressIn(table, lo, hi, level);
      const elo = memory.readWord(address);
      if ((elo & PteFlag.P) !== 0) {
        const ehi = wide ? memory.readWord(address + 4) : 0;
        table = (ehi & 0xf_ffff) * TWO_32 + ((elo & 0xffff_f000) >>> 0);
        continue;
      }
      const next = this.allocate();
      // PAE PDPTEs have no R/W or U/S bits (they are reserved, SDM Table 4-8): only P.
      const flags = this.mode === PagingMode.Pae && level === 3 ? PteFlag.P : tableFlags;
      this.write(address, next, flags, 0);
      table = next;
    }
    let flags = (options.flags ?? PteFlag.P | PteFlag.RW | PteFlag.US) | PteFlag.P;
    if (leafLevel > 1) flags |= PteFlag.PS;
    let hiFlags = 0;
    if (options.noExecute) hiFlags |= 0x8000_0000;
    if (options.protectionKey !== undefined) hiFlags |= (options.protectionKey & 0xf) << 27;
    const address = this.entryAddressIn(table, lo, hi, leafLevel);
    if (this.mode === PagingMode.Legacy32 && size === PageSize.Size4M) {
      // PSE-36: physical-address bits 39:32 go to PDE bits 20:13 (SDM Table 4-4).
      const high = Math.floor(physical / TWO_32);
      this.memory.writeWord(address, ((physical % TWO_32) + flags + high * 8192) >>> 0);
      return address;
    }
    this.write(address, physical, flags, hiFlags);
    return address;
  }

  /**
   * Removes the mapping of the page at `linear` of `size` (default 4 KiB): its leaf entry becomes not
   * present. Returns whether a present leaf was cleared. Tables are kept. The caller invalidates
   * whatever caches hold the translation (INVLPG, INVLPGA, INVEPT…), as software must.
   */
  unmap(linear: number | bigint, size: PageSize = PageSize.Size4K): boolean {
    const address = this.entryAddress(linear, this.leafLevel(size));
    if (address === null) return false;
    const present = (this.memory.readWord(address) & PteFlag.P) !== 0;
    this.memory.writeWord(address, 0);
    if (this.entryBytes === 8) this.memory.writeWord(address + 4, 0);
    return present;
  }

  /**
   * The physical address of the entry that translates `linear` at `level` (1 = PTE), following the
   * entries already present; null when an upper entry is missing or maps a large page.
   */
  entryAddress(linear: number | bigint, level: number): number | null {
    this.split(linear);
    const lo = this.lo;
    const hi = this.hi;
    const memory = this.memory;
    const wide = this.entryBytes === 8;
    const long = this.mode === PagingMode.Level4 || this.mode === PagingMode.Level5;
    let table = this.root;
    for (let l = this.levels; l > level; l--) {
      const address = this.entryAddressIn(table, lo, hi, l);
      const elo = memory.readWord(address);
      if ((elo & PteFlag.P) === 0) return null;
      if ((elo & PteFlag.PS) !== 0 && (l === 2 || (l === 3 && long))) return null;
      const ehi = wide ? memory.readWord(address + 4) : 0;
      table = (ehi & 0xf_ffff) * TWO_32 + ((elo & 0xffff_f000) >>> 0);
    }
    return this.entryAddressIn(table, lo, hi, level);
  }

  /** Halves of the last address `split` was given (no allocation per mapping). */
  private lo = 0;
  private hi = 0;

  /** Splits a linear address, a number (exact below 2^53, or any double the address is) or a BigInt, into `lo` and `hi`. */
  private split(linear: number | bigint): void {
    if (typeof linear === 'bigint') {
      const { lo, hi } = linearFromBigInt(linear);
      this.lo = lo;
      this.hi = hi;
      return;
    }
    if (!Number.isInteger(linear) || linear < 0 || linear >= 2 ** 64) {
      throw new RangeError(`linear address ${linear} is not an integer from 0 to 2^64`);
    }
    const hi = Math.floor(linear / TWO_32);
    this.hi = hi;
    this.lo = linear - hi * TWO_32;
  }

  private leafLevel(size: PageSize): number {
    const mode = this.mode;
    switch (size) {
      case PageSize.Size4K:
        return 1;
      case PageSize.Size4M:
        if (mode === PagingMode.Legacy32) return 2;
        break;
      case PageSize.Size2M:
        if (mode !== PagingMode.Legacy32) return 2;
        break;
      case PageSize.Size1G:
        if (mode === PagingMode.Level4 || mode === PagingMode.Level5) return 3;
        break;
    }
    throw new RangeError(`page size 0x${size.toString(16)} does not exist in this paging mode`);
  }

  /**
   * The entry for (lo, hi) in `table` at `level`: 10-bit indices in 32-bit paging (SDM vol. 3A §4.3),
   * the 2-bit PDPT index of PAE (§4.4.1), 9-bit indices otherwise (`tableIndex`).
   */
  private entryAddressIn(table: number, lo: number, hi: number, level: number): number {
    if (this.mode === PagingMode.Legacy32) {
      return table + (level === 2 ? lo >>> 22 : (lo >>> 12) & 0x3ff) * 4;
    }
    if (this.mode === PagingMode.Pae && level === 3) return table + ((lo >>> 30) & 3) * 8;
    return table + tableIndex(lo, hi, level) * 8;
  }

  private write(address: number, physical: number, flags: number, hiFlags: number): void {
    const hi = Math.floor(physical / TWO_32);
    const lo = physical - hi * TWO_32;
    this.memory.writeWord(address, (lo + flags) >>> 0);
    if (this.entryBytes === 8) this.memory.writeWord(address + 4, (hi | hiFlags) >>> 0);
  }
}
