/**
 * hvsim's compact binary trace format (specified in the package README, "The hvsim trace format").
 * Records are the same in both versions: a tag byte (kind in bits 0-1, size 1..62 in bits 2-7, 63 =
 * size follows) and the zigzag LEB128 delta of the address from the previous address of its stream
 * (fetches, data). Version 1 is a 12-byte header, the records and an end marker with the record
 * count; version 2 (written) is a 32-byte header with the count, then the records in brotli blocks
 * (hvsim-blocks.ts), which the reader decompresses before this decoder sees them.
 *
 * Speed: the decoder reads a record without bounds checks while 16 bytes (the longest record) are
 * left; the file's last bytes are decoded from a zero-padded copy and checked against the real end.
 */

import { TraceError } from '@hvsim/errors';
import {
  compressBlock,
  crcOf,
  HVSIM_BLOCK_BYTES,
  HVSIM_HEADER_BYTES,
  HVSIM_MAGIC,
  HVSIM_VERSION,
  hvsimHeader,
  readU64,
} from './hvsim-blocks.js';
import type { RecordDecoder } from './record-decoder.js';
import {
  MAX_ACCESS_SIZE,
  MAX_RECORD_SIZE,
  pushSplit,
  type RecordBatch,
  recordsForSize,
} from './trace-batch.js';
import { TraceKind } from './trace-kind.js';

export { HVSIM_HEADER_BYTES, HVSIM_MAGIC, HVSIM_VERSION, hasHvsimMagic } from './hvsim-blocks.js';

/** Bytes in the version-1 header: magic, version (u16 LE), flags (u16 LE, 0). */
const V1_HEADER_BYTES = 12;
/** The longest record: tag, a 10-byte delta and a 5-byte size. */
export const HVSIM_MAX_RECORD_BYTES = 16;
/** The size field value that says an explicit LEB128 size follows the delta. */
const SIZE_FOLLOWS = 63;

/** Options of {@link HvsimEncoder}. */
export interface HvsimEncoderOptions {
  /** Record bytes per compressed block (default and most 1 MiB; smaller only to test many blocks). */
  blockBytes?: number;
}

/**
 * Writes hvsim format, version 2: {@link push} each access, take the bytes with {@link takeBytes}
 * whenever {@link pending} is large, and {@link finish}. The first bytes taken start with a
 * placeholder header; `finish` returns the real one, to write over the first
 * {@link HVSIM_HEADER_BYTES} bytes (it is already in place when nothing was taken before `finish`).
 */
export class HvsimEncoder {
  /** Record bytes of the block being filled. */
  declare private raw: Uint8Array;
  declare private rawAt: number;
  declare private readonly blockBytes: number;
  /** Compressed bytes not yet taken (the header placeholder first). */
  declare private out: Uint8Array;
  declare private at: number;
  declare private taken: boolean;
  declare private bodyBytes: number;
  declare private crc: number;
  declare private fetchLo: number;
  declare private fetchHi: number;
  declare private dataLo: number;
  declare private dataHi: number;
  /** Records written so far. */
  declare records: number;

  constructor(options: HvsimEncoderOptions = {}) {
    const blockBytes = options.blockBytes ?? HVSIM_BLOCK_BYTES;
    if (!Number.isInteger(blockBytes) || blockBytes < 1 || blockBytes > HVSIM_BLOCK_BYTES) {
      throw new RangeError(`blockBytes must be an integer in 1..${HVSIM_BLOCK_BYTES}, not ${blockBytes}`);
    }
    this.blockBytes = blockBytes;
    this.raw = new Uint8Array(blockBytes + HVSIM_MAX_RECORD_BYTES);
    this.rawAt = 0;
    this.out = new Uint8Array(1 << 16);
    this.out.set(hvsimHeader(0, 0, 0), 0);
    this.at = HVSIM_HEADER_BYTES;
    this.taken = false;
    this.bodyBytes = 0;
    this.crc = 0;
    this.fetchLo = 0;
    this.fetchHi = 0;
    this.dataLo = 0;
    this.dataHi = 0;
    this.records = 0;
  }

  /** Compressed bytes written and not yet taken. */
  get pending(): number {
    return this.at;
  }

  /** Appends one access (`kind` a TraceKind, `size` 1..MAX_ACCESS_SIZE). */
  push(kind: number, lo: number, hi: number, size: number): void {
    if (!(size >= 1 && size <= MAX_ACCESS_SIZE) || !(kind >= 0 && kind <= 3)) this.badRecord(kind, size);
    const out = this.raw;
    let at = this.rawAt;
    let plo: number;
    let phi: number;
    if (kind === TraceKind.Fetch) {
      plo = this.fetchLo;
      phi = this.fetchHi;
      this.fetchLo = lo;
      this.fetchHi = hi;
    } else {
      plo = this.dataLo;
      phi = this.dataHi;
      this.dataLo = lo;
      this.dataHi = hi;
    }
    // 64-bit delta = address - previous, then zigzag, on 32-bit halves.
    const dl = lo - plo;
    const dlo = dl >>> 0;
    const dhi = (hi - phi - (dl < 0 ? 1 : 0)) | 0;
    const sign = dhi >> 31;
    let zlo = ((dlo << 1) ^ sign) >>> 0;
    let zhi = (((dhi << 1) | (dlo >>> 31)) ^ sign) >>> 0;
    out[at++] = kind | (Math.min(size, SIZE_FOLLOWS) << 2);
    while (zhi !== 0 || zlo >= 0x80) {
      out[at++] = (zlo & 0x7f) | 0x80;
      zlo = ((zlo >>> 7) | (zhi << 25)) >>> 0;
      zhi >>>= 7;
    }
    out[at++] = zlo;
    if (size >= SIZE_FOLLOWS) {
      let s = size >>> 0;
      while (s >= 0x80) {
        out[at++] = (s & 0x7f) | 0x80;
        s >>>= 7;
      }
      out[at++] = s;
    }
    this.rawAt = at;
    this.records++;
    if (at >= this.blockBytes) this.flushBlock();
  }

  /** Appends every record of a batch. */
  pushBatch(batch: {
    length: number;
    kind: Uint8Array;
    addressLo: Uint32Array;
    addressHi: Uint32Array;
    size: Uint8Array;
  }): void {
    for (let i = 0; i < batch.length; i++) {
      this.push(batch.kind[i], batch.addressLo[i], batch.addressHi[i], batch.size[i]);
    }
  }

  /** Returns the bytes written since the last call and empties the buffer: a view, valid until the next push. */
  takeBytes(): Uint8Array {
    const bytes = this.out.subarray(0, this.at);
    this.at = 0;
    this.taken = true;
    return bytes;
  }

  /**
   * Compresses the last block and returns the header (record count, body length, CRC-32), to write
   * over the placeholder at the start of the output; when nothing was taken yet it is also put in
   * place. Push nothing after it.
   */
  finish(): Uint8Array {
    this.flushBlock();
    const header = hvsimHeader(this.records, this.bodyBytes, this.crc);
    if (!this.taken) this.out.set(header, 0);
    return header;
  }

  private flushBlock(): void {
    if (this.rawAt === 0) return;
    const block = compressBlock(this.raw.subarray(0, this.rawAt));
    this.rawAt = 0;
    if (this.at + block.length > this.out.length) {
      const bigger = new Uint8Array(Math.max(this.out.length * 2, this.at + block.length));
      bigger.set(this.out.subarray(0, this.at));
      this.out = bigger;
    }
    this.out.set(block, this.at);
    this.at += block.length;
    this.bodyBytes += block.length;
    this.crc = crcOf(block, this.crc);
  }

  private badRecord(kind: number, size: number): never {
    throw new RangeError(
      `hvsim record ${this.records}: kind ${kind} (0..3) or size ${size} (1..${MAX_ACCESS_SIZE}) out of range`,
    );
  }
}

/**
 * Decodes hvsim format, checking the header, every tag, and the record count: version 1's end
 * marker, or version 2's header count (its blocks arrive decompressed, after the header).
 */
export class HvsimDecoder implements RecordDecoder {
  declare base: number;
  declare readonly file: string;
  declare private headerDone: boolean;
  /** Version 2: no end marker, the count is the header's. */
  declare private v2: boolean;
  declare private expected: number;
  /** The records a version-2 header counts (null before it is read, and for version 1). */
  declare expectedRecords: number | null;
  declare private ended: boolean;
  /** Decoding the zero-padded copy of the last bytes: records must end by `realEnd`. */
  declare private final: boolean;
  declare private realEnd: number;
  declare private fetchLo: number;
  declare private fetchHi: number;
  declare private dataLo: number;
  declare private dataHi: number;
  /** Records decoded (before any splitting of large accesses). */
  declare records: number;
  /** Scratch output of {@link longVarint}. */
  declare private vlo: number;
  declare private vhi: number;

  constructor(file: string) {
    this.base = 0;
    this.file = file;
    this.headerDone = false;
    this.v2 = false;
    this.expected = 0;
    this.expectedRecords = null;
    this.ended = false;
    this.final = false;
    this.realEnd = 0;
    this.fetchLo = 0;
    this.fetchHi = 0;
    this.dataLo = 0;
    this.dataHi = 0;
    this.records = 0;
    this.vlo = 0;
    this.vhi = 0;
  }

  decode(bytes: Uint8Array, pos: number, batch: RecordBatch, limit: number): number {
    let p = pos;
    const end = this.final ? this.realEnd : bytes.length;
    if (!this.headerDone) {
      if (end - p < V1_HEADER_BYTES) {
        if (this.final) this.fail(p, `too short for the ${V1_HEADER_BYTES}-byte hvsim header`);
        return p;
      }
      const length = this.readHeader(bytes, p, end);
      if (length === 0) return p;
      p += length;
    }
    if (this.ended) {
      if (p < end) this.fail(p, 'data after the end marker');
      return p;
    }
    const safeEnd = this.final ? this.realEnd : bytes.length - HVSIM_MAX_RECORD_BYTES;
    const kinds = batch.kind;
    const los = batch.addressLo;
    const his = batch.addressHi;
    const sizes = batch.size;
    let n = batch.length;
    let fetchLo = this.fetchLo;
    let fetchHi = this.fetchHi;
    let dataLo = this.dataLo;
    let dataHi = this.dataHi;
    let records = this.records;
    while (p < safeEnd && n < limit) {
      const start = p;
      const tag = bytes[p++];
      let size = tag >>> 2;
      const kind = tag & 3;
      if (size === 0) {
        this.records = records;
        p = this.readEnd(bytes, start, end);
        break;
      }
      let b = bytes[p++];
      let zlo = b & 0x7f;
      let zhi = 0;
      if (b >= 0x80) {
        b = bytes[p++];
        zlo |= (b & 0x7f) << 7;
        if (b >= 0x80) {
          p = this.longVarint(bytes, p, zlo, 14, start, records);
          zlo = this.vlo;
          zhi = this.vhi;
        }
      }
      if (size === SIZE_FOLLOWS) {
        p = this.longVarint(bytes, p, 0, 0, start, records);
        size = this.vlo;
        if (this.vhi !== 0 || size === 0 || size > MAX_ACCESS_SIZE) {
          const shown = this.vhi === 0 ? String(size) : 'over 2^32';
          this.fail(start, `access size ${shown} out of range 1..${MAX_ACCESS_SIZE}`, records);
        }
      }
      // Undo the zigzag, delta = (z >>> 1) ^ -(z & 1), and add the delta to the stream's last address.
      const sign = -(zlo & 1);
      const dlo = (((zlo >>> 1) | (zhi << 31)) ^ sign) >>> 0;
      const dhi = ((zhi >>> 1) ^ sign) >>> 0;
      const fetch = kind === TraceKind.Fetch;
      let lo = (fetch ? fetchLo : dataLo) + dlo;
      const hi = ((fetch ? fetchHi : dataHi) + dhi + (lo > 0xffff_ffff ? 1 : 0)) >>> 0;
      lo >>>= 0;
      if (size <= MAX_RECORD_SIZE) {
        kinds[n] = kind;
        los[n] = lo;
        his[n] = hi;
        sizes[n] = size;
        n++;
      } else {
        if (n + recordsForSize(size) > limit) {
          p = start; // not room for its pieces: stop before this record
          break;
        }
        n = pushSplit(batch, n, kind, lo, hi, size);
      }
      if (fetch) {
        fetchLo = lo;
        fetchHi = hi;
      } else {
        dataLo = lo;
        dataHi = hi;
      }
      records++;
    }
    this.fetchLo = fetchLo;
    this.fetchHi = fetchHi;
    this.dataLo = dataLo;
    this.dataHi = dataHi;
    if (!this.ended) this.records = records;
    batch.length = n;
    if (this.final && p > this.realEnd) this.fail(this.realEnd, 'truncated: the file ends inside a record');
    return p;
  }

  /**
   * Reads the rest of a LEB128 varint whose first groups are in `lo` and whose next byte, at `p`,
   * holds bits from `shift` up; leaves the 64-bit value in vlo/vhi and returns the position after it.
   */
  private longVarint(
    bytes: Uint8Array,
    p: number,
    lo: number,
    shift: number,
    start: number,
    records: number,
  ): number {
    let hi = 0;
    for (;;) {
      if (shift > 63) this.fail(start, 'varint longer than 10 bytes', records);
      const b = bytes[p++];
      const bits = b & 0x7f;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= bits << 28;
        hi = bits >>> 4;
      } else if (shift < 63) hi |= bits << (shift - 32);
      else {
        if (bits > 1) this.fail(start, 'varint over 64 bits', records);
        hi |= bits << 31;
      }
      if (b < 0x80) break;
      shift += 7;
    }
    this.vlo = lo >>> 0;
    this.vhi = hi >>> 0;
    return p;
  }

  /** The header's length (0: a version-2 header not all here yet); checks magic, version, flags. */
  private readHeader(bytes: Uint8Array, p: number, end: number): number {
    for (let i = 0; i < HVSIM_MAGIC.length; i++) {
      if (bytes[p + i] !== HVSIM_MAGIC[i]) this.fail(p + i, 'not an hvsim trace (bad magic)');
    }
    const version = bytes[p + 8] | (bytes[p + 9] << 8);
    if (version === 2) {
      // Compression, flags, length and checksum were checked by hvsimBlockContent; the count is ours.
      if (end - p < HVSIM_HEADER_BYTES) {
        if (this.final) this.fail(p, `too short for the ${HVSIM_HEADER_BYTES}-byte hvsim header`);
        return 0;
      }
      this.v2 = true;
      this.expected = readU64(bytes, p + 12);
      this.expectedRecords = this.expected;
      this.headerDone = true;
      return HVSIM_HEADER_BYTES;
    }
    if (version !== 1) {
      this.fail(
        p + 8,
        `hvsim trace version ${version} is not supported (this reader knows versions 1 and ${HVSIM_VERSION})`,
      );
    }
    const flags = bytes[p + 10] | (bytes[p + 11] << 8);
    if (flags !== 0) this.fail(p + 10, `unknown header flags 0x${flags.toString(16)} (version 1 has none)`);
    this.headerDone = true;
    return V1_HEADER_BYTES;
  }

  private readEnd(bytes: Uint8Array, start: number, end: number): number {
    const tag = bytes[start];
    if (this.v2) {
      this.fail(
        start,
        `reserved tag 0x${tag.toString(16).padStart(2, '0')} (version 2 has no end marker)`,
        this.records,
      );
    }
    if (tag !== 0) this.fail(start, `reserved tag 0x${tag.toString(16).padStart(2, '0')}`, this.records);
    let p = start + 1;
    // The count may sit in bytes not yet read: wait for them unless this is the end.
    let q = p;
    while (q < bytes.length && bytes[q] >= 0x80) q++;
    if (q >= bytes.length || (this.final && q >= end)) {
      if (this.final) this.fail(start, 'truncated: the file ends inside the end marker', this.records);
      return start;
    }
    p = this.longVarint(bytes, p, 0, 0, start, this.records);
    const count = this.vhi * 2 ** 32 + this.vlo;
    if (count !== this.records) {
      this.fail(
        start,
        `the end marker counts ${count} records but the file has ${this.records}`,
        this.records,
      );
    }
    this.ended = true;
    if (p < end) this.fail(p, 'data after the end marker');
    return p;
  }

  private fail(at: number, problem: string, record?: number): never {
    const location =
      record === undefined
        ? { file: this.file, offset: this.base + at }
        : { file: this.file, offset: this.base + at, record };
    throw new TraceError(location, problem);
  }

  end(tail: Uint8Array): Uint8Array | null {
    if (this.ended) {
      if (tail.length > 0) this.fail(0, 'data after the end marker');
      return null;
    }
    if (tail.length === 0 && this.headerDone) {
      if (this.v2) return null;
      this.fail(0, `truncated: no end marker after record ${this.records}`, this.records);
    }
    const padded = new Uint8Array(tail.length + HVSIM_MAX_RECORD_BYTES);
    padded.set(tail);
    this.final = true;
    this.realEnd = tail.length;
    return padded;
  }

  finish(): void {
    if (this.v2) {
      if (this.records !== this.expected) {
        throw new TraceError(
          { file: this.file, offset: 12 },
          `the header counts ${this.expected} records but the blocks hold ${this.records}`,
        );
      }
      return;
    }
    if (!this.ended) this.fail(0, `truncated: no end marker after record ${this.records}`, this.records);
  }
}
