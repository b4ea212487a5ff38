/**
 * The container of hvsim's trace format, version 2 (specified in the package README, "The hvsim
 * trace format"): a 32-byte header with the magic, the version, the compression, the record count,
 * the length of the body and its CRC-32, then the body, a sequence of blocks that each hold up to
 * 1 MiB of version-1 records compressed with brotli (RFC 7932, from node:zlib).
 *
 * Why blocks: each is compressed and decompressed in one synchronous call (no stream machinery per
 * record batch), and an error can name the block's byte offset. Why brotli: on the `sort` trace the
 * records take 0.13 bytes each against 0.20 with deflate at level 6, and decompress as fast.
 */
import { brotliCompressSync, brotliDecompressSync, crc32, constants as zlib } from 'node:zlib';
import { TraceError } from '@hvsim/errors';

/** The 8 bytes an hvsim trace starts with: 0x89, then `HVTRACE` in ASCII. */
export const HVSIM_MAGIC: readonly number[] = [0x89, 0x48, 0x56, 0x54, 0x52, 0x41, 0x43, 0x45];
/** The format version this package writes (it reads versions 1 and 2). */
export const HVSIM_VERSION = 2;
/** Bytes in the version-2 header: magic, version, compression, flags, record count, body length, CRC-32. */
export const HVSIM_HEADER_BYTES = 32;
/** The compression code of version 2's blocks: brotli. */
export const HVSIM_BROTLI = 1;
/** Bytes of records a block holds at most when this package writes it (1 MiB, the reader's chunk size). */
export const HVSIM_BLOCK_BYTES = 1 << 20;
/** The most record bytes a block may claim (larger claims are corruption, not allocated). */
const MAX_BLOCK_RECORD_BYTES = 16 << 20;
/** Bytes before each block's compressed data: its compressed length and its records' length, u32 LE each. */
const BLOCK_HEADER_BYTES = 8;
/** Brotli quality 5: 4 % larger than quality 9 on the `sort` trace, in a third of the time. */
const BROTLI_QUALITY = 5;

/** Whether `head` starts with the hvsim magic (a partial head that agrees so far counts). */
export function hasHvsimMagic(head: Uint8Array): boolean {
  if (head.length === 0) return false;
  const n = Math.min(head.length, HVSIM_MAGIC.length);
  for (let i = 0; i < n; i++) if (head[i] !== HVSIM_MAGIC[i]) return false;
  return true;
}

/** The version field of a head that starts with the magic (0 when the head is too short). */
export function hvsimVersion(head: Uint8Array): number {
  return head.length < 10 ? 0 : head[8] | (head[9] << 8);
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

function putU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = value >>> 24;
}

/** A u64 LE field as a number (exact below 2^53, far above any trace's count or length). */
export function readU64(bytes: Uint8Array, at: number): number {
  return u32(bytes, at + 4) * 2 ** 32 + u32(bytes, at);
}

function putU64(bytes: Uint8Array, at: number, value: number): void {
  putU32(bytes, at, value >>> 0);
  putU32(bytes, at + 4, Math.floor(value / 2 ** 32));
}

/** A version-2 header for `records` records in `bodyBytes` bytes of blocks whose CRC-32 is `crc`. */
export function hvsimHeader(records: number, bodyBytes: number, crc: number): Uint8Array {
  const header = new Uint8Array(HVSIM_HEADER_BYTES);
  header.set(HVSIM_MAGIC, 0);
  header[8] = HVSIM_VERSION;
  header[9] = 0;
  header[10] = HVSIM_BROTLI;
  header[11] = 0;
  putU64(header, 12, records);
  putU64(header, 20, bodyBytes);
  putU32(header, 28, crc >>> 0);
  return header;
}

/** One block: the block header, then `records` (version-1 record bytes) compressed. */
export function compressBlock(records: Uint8Array): Uint8Array {
  const data = brotliCompressSync(records, {
    params: {
      [zlib.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [zlib.BROTLI_PARAM_SIZE_HINT]: records.length,
    },
  });
  const block = new Uint8Array(BLOCK_HEADER_BYTES + data.length);
  putU32(block, 0, data.length);
  putU32(block, 4, records.length);
  block.set(data, BLOCK_HEADER_BYTES);
  return block;
}

/** The CRC-32 (ISO-HDLC, as gzip and PNG use) of `bytes` continued from `crc`. */
export function crcOf(bytes: Uint8Array, crc: number): number {
  return crc32(bytes, crc);
}

/** Takes exact byte counts from a sequence of chunks: views when they lie in one chunk, copies when not. */
class ChunkCursor {
  declare private readonly source: AsyncIterator<Uint8Array>;
  declare private chunk: Uint8Array;
  declare private at: number;

  constructor(source: AsyncIterator<Uint8Array>) {
    this.source = source;
    this.chunk = new Uint8Array(0);
    this.at = 0;
  }

  /** The next `n` bytes, fewer only at the end of the input. */
  async take(n: number): Promise<Uint8Array> {
    if (this.chunk.length - this.at >= n) {
      const view = this.chunk.subarray(this.at, this.at + n);
      this.at += n;
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    for (;;) {
      const piece = Math.min(n - filled, this.chunk.length - this.at);
      out.set(this.chunk.subarray(this.at, this.at + piece), filled);
      filled += piece;
      this.at += piece;
      if (filled === n) return out;
      const r = await this.source.next();
      if (r.done) return out.subarray(0, filled);
      this.chunk = r.value;
      this.at = 0;
    }
  }

  async close(): Promise<void> {
    await this.source.return?.(undefined);
  }
}

/**
 * The content of a version-2 hvsim trace whose first bytes are `chunks`' as a version-1 decoder
 * takes it: the 32-byte header, then each block's records, decompressed. Checks the header, every
 * block's lengths, the body's length against the header's (at once when `fileBytes`, the input's
 * size, is known) and its CRC-32 (before the last block's records are handed on); every failure is a
 * TraceError naming `file` and the byte offset.
 */
export async function* hvsimBlockContent(
  chunks: AsyncIterator<Uint8Array>,
  file: string,
  fileBytes: number | null,
  sliceBytes: number,
): AsyncGenerator<Uint8Array> {
  const fail = (offset: number, problem: string): never => {
    throw new TraceError({ file, offset }, problem);
  };
  const cursor = new ChunkCursor(chunks);
  try {
    const header = (await cursor.take(HVSIM_HEADER_BYTES)).slice();
    if (header.length < HVSIM_HEADER_BYTES) {
      fail(header.length, `truncated: too short for the ${HVSIM_HEADER_BYTES}-byte hvsim header`);
    }
    if (header[10] !== HVSIM_BROTLI) {
      fail(10, `unknown compression ${header[10]} (version 2 knows ${HVSIM_BROTLI}, brotli)`);
    }
    if (header[11] !== 0) {
      fail(11, `unknown header flags 0x${header[11].toString(16)} (version 2 has none)`);
    }
    const body = readU64(header, 20);
    const expectedCrc = u32(header, 28);
    const end = HVSIM_HEADER_BYTES + body;
    if (fileBytes !== null && fileBytes < end) {
      fail(
        fileBytes,
        `truncated: the header says ${body} bytes of blocks follow it, the file ends after ${fileBytes - HVSIM_HEADER_BYTES}`,
      );
    }
    if (fileBytes !== null && fileBytes > end) {
      fail(end, `${fileBytes - end} bytes after the last block (the header says ${body} bytes of blocks)`);
    }
    yield header;
    let at = HVSIM_HEADER_BYTES;
    let crc = 0;
    while (at < end) {
      const blockHeader = await cursor.take(BLOCK_HEADER_BYTES);
      if (blockHeader.length === 0) {
        fail(at, `truncated: the file ends before the ${end - at} more bytes of blocks the header gives`);
      }
      if (blockHeader.length < BLOCK_HEADER_BYTES) {
        fail(at + blockHeader.length, 'truncated: the file ends inside a block header');
      }
      if (end - at < BLOCK_HEADER_BYTES) {
        fail(at, `a block header of 8 bytes: more than the ${end - at} left of the body the header gives`);
      }
      const compressed = u32(blockHeader, 0);
      const recordBytes = u32(blockHeader, 4);
      if (compressed === 0 || compressed > end - at - BLOCK_HEADER_BYTES) {
        fail(
          at,
          `a block of ${compressed} compressed bytes: more than the ${end - at - BLOCK_HEADER_BYTES} left of the body the header gives`,
        );
      }
      if (recordBytes === 0 || recordBytes > MAX_BLOCK_RECORD_BYTES) {
        fail(at + 4, `a block of ${recordBytes} record bytes (1..${MAX_BLOCK_RECORD_BYTES})`);
      }
      crc = crc32(blockHeader, crc);
      const data = await cursor.take(compressed);
      if (data.length < compressed) {
        fail(at + BLOCK_HEADER_BYTES + data.length, 'truncated: the file ends inside a block');
      }
      crc = crc32(data, crc);
      let records: Uint8Array = new Uint8Array(0);
      try {
        records = brotliDecompressSync(data, { maxOutputLength: MAX_BLOCK_RECORD_BYTES });
      } catch (error) {
        fail(at, `the block does not decompress: corrupt brotli data (${(error as Error).message})`);
      }
      if (records.length !== recordBytes) {
        fail(at + 4, `the block decompresses to ${records.length} bytes, its header says ${recordBytes}`);
      }
      at += BLOCK_HEADER_BYTES + compressed;
      if (at === end && crc >>> 0 !== expectedCrc) badChecksum(fail, expectedCrc, crc, body);
      // Views of the reader's chunk size: one huge buffer decodes slower than the same bytes in pieces.
      for (let from = 0; from < records.length; from += sliceBytes) {
        yield records.subarray(from, Math.min(records.length, from + sliceBytes));
      }
    }
    if (body === 0 && expectedCrc !== 0) badChecksum(fail, expectedCrc, 0, body);
    const extra = await cursor.take(1);
    if (extra.length > 0) fail(end, `data after the last block (the header says ${body} bytes of blocks)`);
  } finally {
    await cursor.close();
  }
}

function badChecksum(
  fail: (offset: number, problem: string) => never,
  expected: number,
  actual: number,
  body: number,
): never {
  const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
  return fail(
    28,
    `checksum mismatch: the header says CRC-32 ${hex(expected)}, the ${body} bytes of blocks give ${hex(actual)}: the file is corrupt`,
  );
}
