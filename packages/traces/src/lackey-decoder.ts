/**
 * Valgrind lackey `--trace-mem=yes` text: one access a line, `I  ADDR,SIZE` for an instruction
 * fetch and ` L ADDR,SIZE`, ` S ADDR,SIZE`, ` M ADDR,SIZE` for a load, a store and a modify, ADDR in
 * hex (up to 64 bits), SIZE in decimal; valgrind's own `==PID==` lines and blank lines are skipped.
 *
 * Speed: bytes are parsed where they lie (no strings, no per-line allocation); the buffer is cut at
 * its last newline once, so the line loop needs no bounds checks.
 */

import { quoteBytes, TraceError } from '@hvsim/errors';
import type { RecordDecoder } from './record-decoder.js';
import {
  MAX_ACCESS_SIZE,
  MAX_RECORD_SIZE,
  pushSplit,
  type RecordBatch,
  recordsForSize,
} from './trace-batch.js';
import { TraceKind } from './trace-kind.js';

const NL = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const COMMA = 0x2c;

/** Hex digit values by byte, -1 for a byte that is not a hex digit. */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[0x41 + i] = 10 + i;
  HEX[0x61 + i] = 10 + i;
}

/** Kind by the letter after a data line's leading space, -1 for any other byte. */
const DATA_KIND = new Int8Array(256).fill(-1);
DATA_KIND[0x4c] = TraceKind.Load; // L
DATA_KIND[0x53] = TraceKind.Store; // S
DATA_KIND[0x4d] = TraceKind.Modify; // M

/**
 * Longest line accepted, in bytes before its newline; a longer one is garbage (lackey's lines are
 * under 40 bytes) and an error whatever it holds, so the answer is the same whether the reader has
 * seen the line's end or only its first LACKEY_MAX_LINE + 1 bytes.
 */
export const LACKEY_MAX_LINE = 4096;

const TOO_LONG = `line too long (over ${LACKEY_MAX_LINE} bytes)`;

/**
 * Whether a line is valgrind's own: `==PID==` (its commentary), `--PID--` (its warnings) or
 * `**PID**` (its internal errors), PID in decimal.
 */
function isValgrindLine(bytes: Uint8Array, p: number, end: number): boolean {
  const mark = bytes[p];
  if ((mark !== 0x3d && mark !== 0x2d && mark !== 0x2a) || bytes[p + 1] !== mark) return false;
  let q = p + 2;
  while (q < end && bytes[q] >= 0x30 && bytes[q] <= 0x39) q++;
  return q > p + 2 && q + 1 < end + 1 && bytes[q] === mark && bytes[q + 1] === mark;
}

/** Decodes lackey text; counts lines for error messages. */
export class LackeyDecoder implements RecordDecoder {
  declare base: number;
  declare readonly file: string;
  /** Lines fully consumed so far; the line being parsed is `line + 1`. */
  declare line: number;
  /** True when decoding the last line, which had no newline (one was added). */
  declare atEnd: boolean;

  constructor(file: string) {
    this.base = 0;
    this.file = file;
    this.line = 0;
    this.atEnd = false;
  }

  decode(bytes: Uint8Array, pos: number, batch: RecordBatch, limit: number): number {
    const last = bytes.lastIndexOf(NL);
    if (last < pos) {
      if (bytes.length - pos > LACKEY_MAX_LINE) this.fail(bytes, pos, TOO_LONG);
      return pos;
    }
    const kinds = batch.kind;
    const los = batch.addressLo;
    const his = batch.addressHi;
    const sizes = batch.size;
    let n = batch.length;
    let p = pos;
    let line = this.line;
    while (p <= last && n < limit) {
      const start = p;
      let c = bytes[p];
      // The canonical shapes: ` L `, ` S `, ` M ` or `I ` first; anything else goes the slow way.
      let kind = -1;
      if (c === SPACE) {
        kind = DATA_KIND[bytes[p + 1]];
        if (kind >= 0 && bytes[p + 2] !== SPACE) kind = -1;
        p += 3;
      } else if (c === 0x49 && bytes[p + 1] === SPACE) {
        kind = TraceKind.Fetch;
        p += 2;
      }
      if (kind >= 0) {
        while (bytes[p] === SPACE) p++;
        let lo = 0;
        let hi = 0;
        const hexStart = p;
        let d = HEX[bytes[p]];
        while (d >= 0) {
          hi = (hi << 4) | (lo >>> 28);
          lo = (lo << 4) | d;
          d = HEX[bytes[++p]];
        }
        const digits = p - hexStart;
        if (digits > 0 && digits <= 16 && bytes[p] === COMMA) {
          let size = 0;
          c = bytes[++p] - 0x30;
          const sizeStart = p;
          while (c >= 0 && c <= 9) {
            size = size * 10 + c;
            c = bytes[++p] - 0x30;
          }
          if (
            c === NL - 0x30 &&
            p > sizeStart &&
            p - sizeStart <= 5 &&
            size > 0 &&
            size <= MAX_RECORD_SIZE &&
            p - start <= LACKEY_MAX_LINE
          ) {
            kinds[n] = kind;
            los[n] = lo;
            his[n] = hi;
            sizes[n] = size;
            n++;
            p++;
            line++;
            continue;
          }
        }
      }
      // Banners, blank lines, other spacing, accesses larger than a record, errors.
      this.line = line;
      n = this.slowLine(bytes, start, batch, n, limit);
      if (n < 0) {
        batch.length = -n - 1;
        return start; // the line's records do not fit: it starts the next batch
      }
      p = bytes.indexOf(NL, start) + 1;
      line++;
    }
    this.line = line;
    batch.length = n;
    if (p > last && bytes.length - p > LACKEY_MAX_LINE) this.fail(bytes, p, TOO_LONG);
    return p;
  }

  /**
   * Parses one line carefully (any spacing, CRLF, banner and blank lines, sizes over a record's)
   * and appends its records. Returns the new length, or `-(n + 1)` when the line does not fit in
   * the batch (the caller stops before it). Throws on a bad line.
   */
  private slowLine(bytes: Uint8Array, start: number, batch: RecordBatch, n: number, limit: number): number {
    let end = bytes.indexOf(NL, start);
    if (end - start > LACKEY_MAX_LINE) this.fail(bytes, start, TOO_LONG);
    if (end > start && bytes[end - 1] === CR) end--;
    let p = start;
    if (isValgrindLine(bytes, p, end)) return n;
    while (p < end && (bytes[p] === SPACE || bytes[p] === 0x09)) p++;
    if (p === end) return n; // blank line
    let kind: number;
    const letter = bytes[p];
    if (letter === 0x49) kind = TraceKind.Fetch;
    else {
      kind = DATA_KIND[letter];
      if (kind < 0) {
        this.fail(bytes, start, `not a lackey line (expected I, L, S or M, or a ==PID== line)`, end);
      }
    }
    p++;
    if (bytes[p] !== SPACE && bytes[p] !== 0x09)
      this.fail(bytes, start, 'expected a space after the kind', end);
    while (bytes[p] === SPACE || bytes[p] === 0x09) p++;
    let lo = 0;
    let hi = 0;
    const hexStart = p;
    while (p < end && HEX[bytes[p]] >= 0) {
      hi = (hi << 4) | (lo >>> 28);
      lo = (lo << 4) | HEX[bytes[p]];
      p++;
    }
    if (p === hexStart) this.fail(bytes, start, 'expected a hex address', end);
    if (p - hexStart > 16) this.fail(bytes, start, 'address has more than 16 hex digits (over 64 bits)', end);
    if (bytes[p] !== COMMA || p >= end)
      this.fail(bytes, start, "expected ',' and a size after the address", end);
    p++;
    let size = 0;
    const sizeStart = p;
    while (p < end && bytes[p] >= 0x30 && bytes[p] <= 0x39) {
      size = size * 10 + bytes[p] - 0x30;
      p++;
      if (p - sizeStart > 6) this.fail(bytes, start, 'size too large', end);
    }
    if (p === sizeStart) this.fail(bytes, start, 'expected a decimal size after the comma', end);
    while (p < end && (bytes[p] === SPACE || bytes[p] === 0x09)) p++;
    if (p !== end) this.fail(bytes, start, 'unexpected text after the size', end);
    if (size === 0) this.fail(bytes, start, 'size 0', end);
    if (size > MAX_ACCESS_SIZE) this.fail(bytes, start, `size ${size} over ${MAX_ACCESS_SIZE} bytes`, end);
    const count = recordsForSize(size);
    if (n + count > limit) return -(n + 1);
    if (count === 1) {
      batch.kind[n] = kind;
      batch.addressLo[n] = lo >>> 0;
      batch.addressHi[n] = hi >>> 0;
      batch.size[n] = size;
      return n + 1;
    }
    return pushSplit(batch, n, kind, lo >>> 0, hi >>> 0, size);
  }

  private fail(bytes: Uint8Array, start: number, problem: string, end = -1): never {
    if (end < 0) end = Math.min(bytes.length, start + 80);
    const truncated = this.atEnd ? ' (the file ends inside this line: truncated?)' : '';
    throw new TraceError(
      { file: this.file, line: this.line + 1 },
      `${problem}${truncated}: ${quoteBytes(bytes, start, end)}`,
    );
  }

  end(tail: Uint8Array): Uint8Array | null {
    if (tail.length === 0) return null;
    const last = new Uint8Array(tail.length + 1);
    last.set(tail);
    last[tail.length] = NL;
    this.atEnd = true;
    return last;
  }

  finish(): void {}
}
