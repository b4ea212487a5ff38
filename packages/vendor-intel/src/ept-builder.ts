import type { PhysicalMemory } from '@hvsim/cpu-core';
import { TWO_32, tableIndex } from '@hvsim/cpu-core';

/** EPT entry bits (Intel SDM vol. 3C Tables 29-1 to 29-6). */
export const EptFlag = {
  R: 1 << 0,
  W: 1 << 1,
  X: 1 << 2,
  /** Bits 5:3 hold the memory type of a leaf; WB (6) is the usual one. */
  MEMORY_TYPE_WB: 6 << 3,
  IGNORE_PAT: 1 << 6,
  PS: 1 << 7,
  ACCESSED: 1 << 8,
  DIRTY: 1 << 9,
  USER_X: 1 << 10,
} as const;

/** How to map one guest-physical page in EPT. */
export interface EptMapOptions {
  /** 4 KiB (default), 2 MiB or 1 GiB. */
  readonly size?: 0x1000 | 0x20_0000 | 0x4000_0000;
  /** Low bits of the leaf (default R | W | X | WB memory type). */
  readonly flags?: number;
}

/**
 * Builds EPT paging structures in host memory: 4 or 5 levels, non-leaf entries with R, W and X set,
 * leaves as asked. For tests, examples and hypervisors; the EPT walk never uses it.
 */
export class EptBuilder {
  /** Host-physical address of the EPT PML4 (or PML5) table. */
  readonly root: number;
  readonly levels: 4 | 5;
  private readonly memory: PhysicalMemory;
  private readonly allocate: () => number;

  constructor(memory: PhysicalMemory, allocate: () => number, levels: 4 | 5 = 4) {
    this.memory = memory;
    this.allocate = allocate;
    this.levels = levels;
    this.root = allocate();
  }

  /** The EPTP for this table: WB paging-structure memory type, the walk length, and A/D flags if asked. */
  eptp(accessedDirty = false): bigint {
    return BigInt(this.root) | BigInt((this.levels - 1) << 3) | 6n | (accessedDirty ? 0x40n : 0n);
  }

  /** Maps guest-physical `gpa` to host-physical `hpa` (both aligned to the page size). */
  map(gpa: number, hpa: number, options: EptMapOptions = {}): void {
    const size = options.size ?? 0x1000;
    if (gpa % size !== 0 || hpa % size !== 0) {
      throw new RangeError(
        `EPT mapping 0x${gpa.toString(16)} -> 0x${hpa.toString(16)} is not aligned to its page size`,
      );
    }
    const leafLevel = size === 0x1000 ? 1 : size === 0x20_0000 ? 2 : 3;
    let table = this.root;
    for (let level = this.levels; level > leafLevel; level--) {
      const address = table + this.index(gpa, level) * 8;
      const lo = this.memory.readWord(address);
      if ((lo & 7) !== 0) {
        table = (this.memory.readWord(address + 4) & 0xf_ffff) * TWO_32 + ((lo & 0xffff_f000) >>> 0);
        continue;
      }
      const next = this.allocate();
      this.write(address, next, EptFlag.R | EptFlag.W | EptFlag.X);
      table = next;
    }
    let flags = options.flags ?? EptFlag.R | EptFlag.W | EptFlag.X | EptFlag.MEMORY_TYPE_WB;
    if (leafLevel > 1) flags |= EptFlag.PS;
    this.write(table + this.index(gpa, leafLevel) * 8, hpa, flags);
  }

  /** Removes the mapping of the page of `size` at `gpa` (its leaf becomes not present); whether one was present. */
  unmap(gpa: number, size: 0x1000 | 0x20_0000 | 0x4000_0000 = 0x1000): boolean {
    const level = size === 0x1000 ? 1 : size === 0x20_0000 ? 2 : 3;
    const address = this.entryAddress(gpa, level);
    if (address === null) return false;
    const present = (this.memory.readWord(address) & 7) !== 0;
    this.memory.writeWord(address, 0);
    this.memory.writeWord(address + 4, 0);
    return present;
  }

  /** Host-physical address of the entry for `gpa` at `level` (1 = PTE), or null where the walk stops earlier. */
  entryAddress(gpa: number, level: number): number | null {
    let table = this.root;
    for (let l: number = this.levels; l > level; l--) {
      const address = table + this.index(gpa, l) * 8;
      const lo = this.memory.readWord(address);
      if ((lo & 7) === 0 || ((l === 2 || l === 3) && (lo & EptFlag.PS) !== 0)) return null;
      table = (this.memory.readWord(address + 4) & 0xf_ffff) * TWO_32 + ((lo & 0xffff_f000) >>> 0);
    }
    return table + this.index(gpa, level) * 8;
  }

  private index(gpa: number, level: number): number {
    return tableIndex(gpa >>> 0, Math.floor(gpa / TWO_32), level);
  }

  private write(address: number, physical: number, flags: number): void {
    const hi = Math.floor(physical / TWO_32);
    this.memory.writeWord(address, (physical - hi * TWO_32 + flags) >>> 0);
    this.memory.writeWord(address + 4, hi >>> 0);
  }
}
