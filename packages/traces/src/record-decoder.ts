import type { RecordBatch } from './trace-batch.js';

/**
 * Turns the bytes of one trace format into records. The reader hands it its content a buffer at a
 * time; a decoder takes only complete records, leaving a record split across buffers to the reader,
 * which joins it to the next buffer's start.
 */
export interface RecordDecoder {
  /** The offset of the current buffer's first byte in the (decompressed) content, for errors. */
  base: number;
  /**
   * Decodes complete records from `bytes[pos..]` into `batch` (from `batch.length`), never past
   * `limit` records (stopping before an input record whose records do not all fit). Returns where
   * the first byte not consumed is, and updates `batch.length`. Throws a TraceError on bad input.
   */
  decode(bytes: Uint8Array, pos: number, batch: RecordBatch, limit: number): number;
  /**
   * The input ended with `tail` not consumed (possibly empty): returns the bytes to decode as the
   * last buffer (a final line without its newline, say), or null when there is nothing more. Throws
   * when the tail cannot be a complete record.
   */
  end(tail: Uint8Array): Uint8Array | null;
  /** After the last buffer is decoded: throws when the content is incomplete. */
  finish(): void;
}
