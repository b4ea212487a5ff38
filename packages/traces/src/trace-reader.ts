/**
 * The streaming reader: takes decompressed chunks, detects the format, and runs the format's
 * decoder over each chunk into one reused batch. A record split across two chunks is decoded from a
 * small joined buffer (the leftover and the next chunk's first SPLICE_BYTES), never by copying
 * whole chunks.
 */
import { statSync } from 'node:fs';
import { quoteBytes, TraceError } from '@hvsim/errors';
import {
  contentChunks,
  DEFAULT_CHUNK_BYTES,
  type SourceInfo,
  sourceName,
  type TraceSource,
} from './byte-source.js';
import { ChampSimDecoder } from './champsim-decoder.js';
import { CloudSuiteDecoder } from './cloudsuite-decoder.js';
import { DETECT_BYTES, formatsFitting } from './detect-format.js';
import { HvsimDecoder } from './hvsim-format.js';
import { LackeyDecoder } from './lackey-decoder.js';
import type { RecordDecoder } from './record-decoder.js';
import { MAX_PIECES, RecordBatch, type TraceBatch } from './trace-batch.js';
import type { TraceFormat } from './trace-kind.js';

/** Options of {@link openTrace}. */
export interface OpenTraceOptions {
  /** The format, when known; otherwise it is detected from the content. */
  format?: TraceFormat;
  /** Records a batch holds (at least 64; default 65 536). */
  batchSize?: number;
  /** The name errors give the input (default: the path, `<stdin>`, `<stream>` or `<bytes>`). */
  name?: string;
  /** Bytes per chunk read from a file and per decompressed chunk (default 1 MiB). */
  chunkBytes?: number;
}

/** A trace being read: an async iterable of batches, with progress counters. */
export interface TraceReader extends AsyncIterable<TraceBatch> {
  /** The format (given, or detected: after {@link ready} or the first batch). */
  readonly format: TraceFormat;
  /** Records delivered so far. */
  readonly recordsRead: number;
  /** Raw bytes read from the source so far (compressed bytes for a compressed trace). */
  readonly bytesRead: number;
  /** The raw size of the source when known (a file, bytes), for progress bars; null otherwise. */
  readonly totalBytes: number | null;
  /**
   * The records the trace holds when it says so (an hvsim trace of version 2, from its header, once
   * the first batch is read); null otherwise. A better progress measure than bytes for a compressed
   * file, whose bytes are all read long before its records.
   */
  readonly totalRecords: number | null;
  /** The input's name, as errors give it. */
  readonly name: string;
  /** Opens the source and detects the format without consuming records. */
  ready(): Promise<TraceFormat>;
  /** Stops reading and releases the source; iteration then ends. */
  close(): Promise<void>;
}

export const DEFAULT_BATCH_SIZE = 65_536;
/** The least batch size: room for the largest access cut into pieces, twice. */
export const MIN_BATCH_SIZE = 2 * MAX_PIECES;
/** Bytes of the next chunk joined to a leftover partial record (more than the longest record). */
const SPLICE_BYTES = 8192;
const EMPTY = new Uint8Array(0);

function createDecoder(format: TraceFormat, name: string): RecordDecoder {
  switch (format) {
    case 'lackey':
      return new LackeyDecoder(name);
    case 'champsim':
      return new ChampSimDecoder(name);
    case 'champsim-cloudsuite':
      return new CloudSuiteDecoder(name);
    case 'hvsim':
      return new HvsimDecoder(name);
  }
}

/** The raw size of a source when it can be had at once: bytes, or a file's size (null if it cannot be read: the error comes on reading). */
function knownSize(source: TraceSource): number | null {
  if (source instanceof Uint8Array) return source.length;
  if (typeof source !== 'string' || source === '-') return null;
  try {
    return statSync(source).size;
  } catch {
    return null;
  }
}

class StreamTraceReader implements TraceReader, AsyncIterator<TraceBatch> {
  declare private readonly info: SourceInfo;
  declare private readonly chunks: AsyncGenerator<Uint8Array>;
  declare private batch: RecordBatch;
  declare private readonly wanted: TraceFormat | undefined;
  declare private detected: TraceFormat | undefined;
  declare private decoder: RecordDecoder | null;
  declare private opening: Promise<TraceFormat> | null;
  declare private started: boolean;
  declare private done: boolean;
  declare private records: number;
  /** The buffer being decoded, where, and the content offset of its first byte. */
  declare private buf: Uint8Array | null;
  declare private pos: number;
  declare private bufBase: number;
  /** When `buf` is leftover + the start of a chunk: that chunk, and the leftover's length. */
  declare private spliceChunk: Uint8Array | null;
  declare private spliceLen: number;
  /** Bytes of an incomplete record waiting for the next chunk, and their content offset. */
  declare private leftover: Uint8Array;
  declare private leftoverBase: number;
  /** The decoder has been given the input's last bytes. */
  declare private final: boolean;
  /** The detected head, to decode before the rest of the chunks. */
  declare private head: Uint8Array | null;
  /** The head read for detection is the whole content. */
  declare private headComplete: boolean;

  constructor(source: TraceSource, options: OpenTraceOptions) {
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < MIN_BATCH_SIZE) {
      throw new RangeError(`batchSize must be an integer of at least ${MIN_BATCH_SIZE}, not ${batchSize}`);
    }
    const name = options.name ?? sourceName(source);
    this.info = { name, bytesRead: 0, totalBytes: knownSize(source) };
    this.chunks = contentChunks(source, this.info, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    this.batch = new RecordBatch(batchSize);
    this.wanted = options.format;
    this.detected = options.format;
    this.decoder = null;
    this.opening = null;
    this.started = false;
    this.done = false;
    this.records = 0;
    this.buf = null;
    this.pos = 0;
    this.bufBase = 0;
    this.spliceChunk = null;
    this.spliceLen = 0;
    this.leftover = EMPTY;
    this.leftoverBase = 0;
    this.final = false;
    this.head = null;
    this.headComplete = false;
  }

  get format(): TraceFormat {
    if (this.detected === undefined) {
      throw new Error(`${this.info.name}: the format is not known yet: await reader.ready() first`);
    }
    return this.detected;
  }

  get recordsRead(): number {
    return this.records;
  }

  get bytesRead(): number {
    return this.info.bytesRead;
  }

  get totalBytes(): number | null {
    return this.info.totalBytes;
  }

  get name(): string {
    return this.info.name;
  }

  get totalRecords(): number | null {
    return this.decoder instanceof HvsimDecoder ? this.decoder.expectedRecords : null;
  }

  ready(): Promise<TraceFormat> {
    this.opening ??= this.open();
    return this.opening;
  }

  private async open(): Promise<TraceFormat> {
    let format = this.wanted;
    if (format === undefined) {
      const head = await this.readHead();
      if (head.length === 0) throw new TraceError({ file: this.info.name }, 'the trace is empty');
      // Exactly the first DETECT_BYTES, however many the chunks brought: the answer is the same in any chunking.
      const fits = formatsFitting(
        head.subarray(0, DETECT_BYTES),
        this.headComplete && head.length <= DETECT_BYTES,
      );
      if (fits.includes('champsim-cloudsuite')) {
        // The two ChampSim layouts cannot always be told apart by their bytes: never guess.
        throw new TraceError(
          { file: this.info.name },
          fits.length === 1
            ? "the format must be named: these bytes fit ChampSim's CloudSuite records (96 bytes, with ASIDs), which are not detected, since their bytes cannot always be told from the original records'; give the format champsim-cloudsuite (hvsim: --format champsim-cloudsuite)"
            : "the format must be named: these bytes fit both ChampSim's original records (64 bytes) and its CloudSuite records (96 bytes, with ASIDs); give the format champsim or champsim-cloudsuite (hvsim: --format champsim or --format champsim-cloudsuite)",
        );
      }
      const found = fits[0];
      if (found === undefined) {
        throw new TraceError(
          { file: this.info.name },
          `unknown trace format: not hvsim (no magic), lackey text or ChampSim records; it starts with ${quoteBytes(head, 0, Math.min(head.length, 32))}`,
        );
      }
      format = found;
      this.head = head;
    }
    // Only records that carry ASIDs get an asid array, so the other formats' batches stay as they were.
    if (format === 'champsim-cloudsuite') this.batch = new RecordBatch(this.batch.capacity, true);
    this.detected = format;
    this.decoder = createDecoder(format, this.info.name);
    return format;
  }

  /** At least DETECT_BYTES of content (less only at its end), joined. */
  private async readHead(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    while (total < DETECT_BYTES) {
      const r = await this.chunks.next();
      if (r.done) {
        this.headComplete = true;
        break;
      }
      parts.push(r.value);
      total += r.value.length;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  [Symbol.asyncIterator](): AsyncIterator<TraceBatch> {
    if (this.started) throw new Error(`${this.info.name}: a trace reader can be iterated only once`);
    this.started = true;
    return this;
  }

  async next(): Promise<IteratorResult<TraceBatch>> {
    if (this.done) return { done: true, value: undefined };
    try {
      if (this.decoder === null) await this.ready();
      return await this.fill();
    } catch (error) {
      await this.close().catch(() => {});
      throw error;
    }
  }

  async return(): Promise<IteratorResult<TraceBatch>> {
    await this.close();
    return { done: true, value: undefined };
  }

  private async fill(): Promise<IteratorResult<TraceBatch>> {
    const decoder = this.decoder!;
    const batch = this.batch;
    const capacity = batch.capacity;
    const full = capacity - MAX_PIECES;
    batch.length = 0;
    for (;;) {
      const buf = this.buf;
      if (buf !== null) {
        decoder.base = this.bufBase;
        const p = decoder.decode(buf, this.pos, batch, capacity);
        this.pos = p;
        if (batch.length > full) return this.deliver();
        // The buffer is used up to an incomplete record (or its end).
        const splice = this.spliceChunk;
        if (splice !== null) {
          this.spliceChunk = null;
          if (p >= this.spliceLen) {
            // Past the leftover: go on in the chunk itself.
            this.buf = splice;
            this.pos = p - this.spliceLen;
            this.bufBase += this.spliceLen;
            continue;
          }
          this.leftover = Buffer.concat([buf.subarray(p), splice.subarray(buf.length - this.spliceLen)]);
        } else {
          this.leftover = buf.subarray(p);
        }
        this.leftoverBase = this.bufBase + p;
        this.buf = null;
      }
      if (this.final) {
        decoder.finish();
        this.done = true;
        await this.close();
        return batch.length > 0 ? this.deliver() : { done: true, value: undefined };
      }
      let chunk: Uint8Array;
      if (this.head !== null) {
        chunk = this.head;
        this.head = null;
      } else {
        const r = await this.chunks.next();
        if (r.done) {
          decoder.base = this.leftoverBase;
          const last = decoder.end(this.leftover);
          this.final = true;
          if (last !== null) {
            this.buf = last;
            this.pos = 0;
            this.bufBase = this.leftoverBase;
          }
          this.leftover = EMPTY;
          continue;
        }
        chunk = r.value;
      }
      const left = this.leftover;
      this.bufBase = this.leftoverBase;
      this.pos = 0;
      if (left.length === 0) {
        this.buf = chunk;
      } else if (chunk.length <= SPLICE_BYTES) {
        this.buf = Buffer.concat([left, chunk]);
      } else {
        this.buf = Buffer.concat([left, chunk.subarray(0, SPLICE_BYTES)]);
        this.spliceChunk = chunk;
        this.spliceLen = left.length;
      }
      this.leftover = EMPTY;
    }
  }

  private deliver(): IteratorResult<TraceBatch> {
    this.records += this.batch.length;
    return { done: false, value: this.batch };
  }

  async close(): Promise<void> {
    this.done = true;
    this.buf = null;
    this.spliceChunk = null;
    await this.chunks.return(undefined);
  }
}

/**
 * Opens a trace for streaming: a path (`-` = standard input), a Node stream, an async iterable of
 * chunks, or bytes; gzip or xz content is decompressed (told by magic bytes), and the format is
 * detected from the content unless given. Nothing is read until {@link TraceReader.ready} or the
 * first batch; errors (a missing file, bad content) are TraceErrors from there.
 */
export function openTrace(source: TraceSource, options: OpenTraceOptions = {}): TraceReader {
  return new StreamTraceReader(source, options);
}
