import { TWO_32 } from './linear-address.js';

/**
 * Sparse physical memory: 4 KiB frames allocated on first write, addresses up to 52 bits as plain
 * numbers (never through bitwise operators above bit 31), little-endian values.
 *
 * Frames live in one growable pool (an ArrayBuffer with 32-bit and byte views); a Map finds a frame's
 * slot, and a small direct-mapped look-aside array in front of the Map saves the hash lookup on the
 * page-walk hot path (a walk touches a handful of table pages over and over).
 */

const FRAME_BYTES = 4096;
const FRAME_WORDS = 1024;
const LOOKASIDE = 256;

/** Largest physical address width the architecture allows (Intel SDM vol. 3A §4.1.4: MAXPHYADDR ≤ 52). */
export const MAX_PHYSICAL_ADDRESS_BITS = 52;

/** The options of a physical memory. */
export interface PhysicalMemoryOptions {
  /** MAXPHYADDR, 32 to 52 (default 48). It decides which table-entry bits are reserved. */
  readonly maxPhysicalAddressBits?: number;
}

/** Sparse, byte-addressed physical memory of an x86 machine. Untouched memory reads as zero. */
export class PhysicalMemory {
  /** MAXPHYADDR: addresses are below 2^maxPhysicalAddressBits. */
  readonly maxPhysicalAddressBits: number;
  /** One past the highest address (2^maxPhysicalAddressBits). */
  readonly size: number;

  private readonly slots = new Map<number, number>();
  private readonly frameNumbers: number[] = [];
  private words: Uint32Array;
  private view: DataView;
  private readonly lookFrame = new Float64Array(LOOKASIDE).fill(-1);
  private readonly lookSlot = new Int32Array(LOOKASIDE);

  constructor(options: PhysicalMemoryOptions = {}) {
    const bits = options.maxPhysicalAddressBits ?? 48;
    if (!Number.isInteger(bits) || bits < 32 || bits > MAX_PHYSICAL_ADDRESS_BITS) {
      throw new RangeError(`maxPhysicalAddressBits must be an integer from 32 to 52, got ${bits}`);
    }
    this.maxPhysicalAddressBits = bits;
    this.size = 2 ** bits;
    const buffer = new ArrayBuffer(FRAME_BYTES * 16);
    this.words = new Uint32Array(buffer);
    this.view = new DataView(buffer);
  }

  /** Number of 4 KiB frames that have been written (the memory actually held). */
  get touchedFrames(): number {
    return this.frameNumbers.length;
  }

  /** Frame numbers of every touched frame, in ascending order. */
  touchedFrameNumbers(): number[] {
    return [...this.frameNumbers].sort((a, b) => a - b);
  }

  /** Word index (into the pool) of the frame holding `address`, or -1 when the frame is untouched. */
  private wordBase(frame: number): number {
    const i = frame & (LOOKASIDE - 1);
    if (this.lookFrame[i] === frame) return this.lookSlot[i] * FRAME_WORDS;
    const slot = this.slots.get(frame);
    if (slot === undefined) return -1;
    this.lookFrame[i] = frame;
    this.lookSlot[i] = slot;
    return slot * FRAME_WORDS;
  }

  private wordBaseForWrite(frame: number): number {
    const base = this.wordBase(frame);
    if (base >= 0) return base;
    const slot = this.frameNumbers.length;
    if ((slot + 1) * FRAME_WORDS > this.words.length) this.grow();
    this.slots.set(frame, slot);
    this.frameNumbers.push(frame);
    return slot * FRAME_WORDS;
  }

  private grow(): void {
    const buffer = new ArrayBuffer(this.words.byteLength * 2);
    const words = new Uint32Array(buffer);
    words.set(this.words);
    this.words = words;
    this.view = new DataView(buffer);
  }

  private checkWidth(bytes: number): void {
    // The type says 1 | 2 | 4, but callers in plain JavaScript (or behind a cast) can pass anything.
    if (bytes !== 1 && bytes !== 2 && bytes !== 4)
      throw new RangeError(`width ${bytes} is not 1, 2 or 4 bytes`);
  }

  private checkAddress(address: number, bytes: number): void {
    if (!Number.isInteger(address) || address < 0 || address + bytes > this.size) {
      throw new RangeError(
        `physical address ${describe(address)} (+${bytes} bytes) is outside the ${this.maxPhysicalAddressBits}-bit physical address space`,
      );
    }
  }

  /**
   * The 32-bit word at a 4-byte-aligned address. The walkers' hot path: no checks, no allocation.
   * A 64-bit table entry is `readWord(a)` (low half) and `readWord(a + 4)` (high half).
   */
  readWord(address: number): number {
    const frame = Math.floor(address / FRAME_BYTES);
    const base = this.wordBase(frame);
    if (base < 0) return 0;
    return this.words[base + ((address - frame * FRAME_BYTES) >>> 2)];
  }

  /**
   * Copies the 1024 words of the 4 KiB frame holding `address` into `into` (zeros for a frame never
   * written): one frame lookup for a whole table, where `readWord` makes one per word.
   */
  readFrame(address: number, into: Uint32Array): void {
    const base = this.wordBase(Math.floor(address / FRAME_BYTES));
    if (base < 0) into.fill(0, 0, FRAME_WORDS);
    else into.set(this.words.subarray(base, base + FRAME_WORDS));
  }

  /** High half of the last `readPair`. */
  pairHi = 0;

  /**
   * Reads the 64-bit entry at an 8-byte-aligned address with one frame lookup: returns the low half
   * and leaves the high half in `pairHi` (saves the second lookup of readWord(a + 4) on the walk path).
   */
  readPair(address: number): number {
    const frame = Math.floor(address / FRAME_BYTES);
    const base = this.wordBase(frame);
    if (base < 0) {
      this.pairHi = 0;
      return 0;
    }
    const i = base + ((address - frame * FRAME_BYTES) >>> 2);
    this.pairHi = this.words[i + 1];
    return this.words[i];
  }

  /** Zeroes the 4 KiB frame holding `address` (nothing to do for a frame never written). */
  zeroFrame(address: number): void {
    const base = this.wordBase(Math.floor(address / FRAME_BYTES));
    if (base >= 0) this.words.fill(0, base, base + FRAME_WORDS);
  }

  /** Copies the 4 KiB frame holding `from` over the frame holding `to` (nothing is written for an untouched source, which reads as zero; the target is zeroed). */
  copyFrame(from: number, to: number): void {
    const source = this.wordBase(Math.floor(from / FRAME_BYTES));
    if (source < 0) {
      this.zeroFrame(to);
      return;
    }
    const target = this.wordBaseForWrite(Math.floor(to / FRAME_BYTES));
    // wordBaseForWrite may have grown the pool: read through the current view.
    this.words.copyWithin(target, source, source + FRAME_WORDS);
  }

  /** Writes a 32-bit word at a 4-byte-aligned address (the walkers' accessed/dirty updates). */
  writeWord(address: number, value: number): void {
    const frame = Math.floor(address / FRAME_BYTES);
    const base = this.wordBaseForWrite(frame);
    this.words[base + ((address - frame * FRAME_BYTES) >>> 2)] = value;
  }

  /** Reads an unsigned little-endian value of 1, 2 or 4 bytes at any address. */
  read(address: number, bytes: 1 | 2 | 4): number {
    this.checkWidth(bytes);
    this.checkAddress(address, bytes);
    let value = 0;
    for (let i = bytes - 1; i >= 0; i--) value = value * 256 + this.readByte(address + i);
    return value;
  }

  /** Writes an unsigned little-endian value of 1, 2 or 4 bytes at any address. */
  write(address: number, bytes: 1 | 2 | 4, value: number): void {
    this.checkWidth(bytes);
    this.checkAddress(address, bytes);
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * bytes)) {
      throw new RangeError(`value ${value} does not fit in ${bytes} bytes`);
    }
    for (let i = 0; i < bytes; i++) {
      this.writeByte(address + i, value % 256);
      value = Math.floor(value / 256);
    }
  }

  /** Reads an unsigned 8-bit value. */
  read8(address: number): number {
    return this.read(address, 1);
  }
  /** Reads an unsigned little-endian 16-bit value. */
  read16(address: number): number {
    return this.read(address, 2);
  }
  /** Reads an unsigned little-endian 32-bit value. */
  read32(address: number): number {
    return this.read(address, 4);
  }
  /** Writes an 8-bit value. */
  write8(address: number, value: number): void {
    this.write(address, 1, value);
  }
  /** Writes a little-endian 16-bit value. */
  write16(address: number, value: number): void {
    this.write(address, 2, value);
  }
  /** Writes a little-endian 32-bit value. */
  write32(address: number, value: number): void {
    this.write(address, 4, value);
  }

  /** Reads a little-endian 64-bit value as a BigInt (for the edges: parsing and printing). */
  read64(address: number): bigint {
    this.checkAddress(address, 8);
    const lo = this.read(address, 4);
    const hi = this.read(address + 4, 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** Writes a little-endian 64-bit value given as a BigInt. */
  write64(address: number, value: bigint): void {
    this.checkAddress(address, 8);
    if (value < 0n || value >= 1n << 64n)
      throw new RangeError(`value 0x${value.toString(16)} does not fit in 64 bits`);
    this.write(address, 4, Number(value & 0xffff_ffffn));
    this.write(address + 4, 4, Number(value >> 32n));
  }

  /** Writes a 64-bit table entry given as two 32-bit halves at an 8-byte-aligned address. */
  writeEntry(address: number, lo: number, hi: number): void {
    this.checkAddress(address, 8);
    if (address % 8 !== 0)
      throw new RangeError(`table entry address ${describe(address)} is not 8-byte aligned`);
    this.writeWord(address, lo >>> 0);
    this.writeWord(address + 4, hi >>> 0);
  }

  /** Reads one byte; untouched memory is zero. */
  private readByte(address: number): number {
    const frame = Math.floor(address / FRAME_BYTES);
    const base = this.wordBase(frame);
    if (base < 0) return 0;
    return this.view.getUint8(base * 4 + (address - frame * FRAME_BYTES));
  }

  private writeByte(address: number, value: number): void {
    const frame = Math.floor(address / FRAME_BYTES);
    const base = this.wordBaseForWrite(frame);
    this.view.setUint8(base * 4 + (address - frame * FRAME_BYTES), value);
  }
}

function describe(address: number): string {
  return Number.isInteger(address) && address >= 0 ? `0x${address.toString(16)}` : String(address);
}

/** Splits a number below 2^53 into its low and high 32-bit halves. */
export function splitHalves(value: number): { lo: number; hi: number } {
  const hi = Math.floor(value / TWO_32);
  return { lo: value - hi * TWO_32, hi };
}
