/**
 * The bytes of a trace, streamed: a file (or `-` for standard input), a Node stream, an async
 * iterable of chunks, or bytes in memory; gzip and xz content is decompressed on the way, told by
 * its magic bytes. Never holds more than a chunk or two.
 */
import { createReadStream, promises as fsp, fstatSync } from 'node:fs';
import { ReadableStream as WebReadableStream } from 'node:stream/web';
import { createGunzip } from 'node:zlib';
import { describeFileError, TraceError } from '@hvsim/errors';
import { detectCompression } from './detect-format.js';
import { HVSIM_HEADER_BYTES, hasHvsimMagic, hvsimBlockContent, hvsimVersion } from './hvsim-blocks.js';

/** Where a trace comes from: a path (`-` = standard input), a Node stream or async iterable of chunks, or bytes. */
export type TraceSource = string | NodeJS.ReadableStream | AsyncIterable<Uint8Array | string> | Uint8Array;

/** Chunk size for reading files and for decompressed output: big chunks keep per-chunk costs small. */
export const DEFAULT_CHUNK_BYTES = 1 << 20;

/** What a source knows about itself, filled in as it is read. */
export interface SourceInfo {
  name: string;
  /** Raw (possibly compressed) bytes taken from the source so far. */
  bytesRead: number;
  /** The raw size when known (a file, bytes), else null. */
  totalBytes: number | null;
}

/** The name errors use for a source that has no `name` option. */
export function sourceName(source: TraceSource): string {
  if (typeof source === 'string') return source === '-' ? '<stdin>' : source;
  if (source instanceof Uint8Array) return '<bytes>';
  return '<stream>';
}

function toBytes(chunk: Uint8Array | string): Uint8Array {
  return typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
}

/** The raw chunks of a source, counting them into `info`; read failures become TraceErrors. */
async function* rawChunks(
  source: TraceSource,
  info: SourceInfo,
  chunkBytes: number,
): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    info.totalBytes = source.length;
    // Zero-copy views of chunk size: one huge buffer decodes measurably slower (about 35 against
    // 55 million lackey records/s) than the same bytes in 1 MiB pieces.
    for (let at = 0; at < source.length; at += chunkBytes) {
      const piece = source.subarray(at, Math.min(source.length, at + chunkBytes));
      info.bytesRead += piece.length;
      yield piece;
    }
    return;
  }
  let stream: AsyncIterable<Uint8Array | string>;
  if (typeof source === 'string') {
    if (source === '-') {
      stream = process.stdin;
      try {
        const stat = fstatSync(0);
        if (stat.isFile()) info.totalBytes = stat.size;
      } catch {
        // standard input without a size (closed, or not a file): no progress total
      }
    } else {
      try {
        const stat = await fsp.stat(source);
        if (stat.isDirectory()) throw new TraceError({ file: info.name }, 'cannot read: it is a directory');
        info.totalBytes = stat.size;
      } catch (error) {
        if (error instanceof TraceError) throw error;
        throw new TraceError({ file: info.name }, `cannot read: ${describe(error)}`, { cause: error });
      }
      stream = createReadStream(source, { highWaterMark: chunkBytes });
    }
  } else {
    stream = source as AsyncIterable<Uint8Array | string>;
  }
  try {
    for await (const chunk of stream) {
      const bytes = toBytes(chunk);
      info.bytesRead += bytes.length;
      yield bytes;
    }
  } catch (error) {
    if (error instanceof TraceError) throw error;
    throw new TraceError({ file: info.name }, `cannot read: ${describe(error)}`, { cause: error });
  }
}

function describe(error: unknown): string {
  return describeFileError(error);
}

/** An async iterator of chunks that can look ahead without consuming. */
class Peekable {
  declare private readonly source: AsyncIterator<Uint8Array>;
  declare private readonly ahead: Uint8Array[];
  declare private aheadBytes: number;
  declare private ended: boolean;

  constructor(source: AsyncIterator<Uint8Array>) {
    this.source = source;
    this.ahead = [];
    this.aheadBytes = 0;
    this.ended = false;
  }

  /** The first `n` bytes still to come (fewer at the end), without consuming them. */
  async peek(n: number): Promise<Uint8Array> {
    while (this.aheadBytes < n && !this.ended) {
      const r = await this.source.next();
      if (r.done) this.ended = true;
      else if (r.value.length > 0) {
        this.ahead.push(r.value);
        this.aheadBytes += r.value.length;
      }
    }
    if (this.ahead.length === 1) return this.ahead[0].subarray(0, n);
    const joined = Buffer.concat(this.ahead);
    this.ahead.length = 0;
    if (joined.length > 0) this.ahead.push(joined);
    return joined.subarray(0, n);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      while (this.ahead.length > 0) {
        this.aheadBytes -= this.ahead[0].length;
        yield this.ahead.shift()!;
      }
      if (this.ended) return;
      for (;;) {
        const r = await this.source.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await this.source.return?.();
    }
  }
}

type XzStreamClass = new (compressed: WebReadableStream<Uint8Array>) => AsyncIterable<Uint8Array>;

/** xz-decompress (WASM xz-embedded) is CommonJS: its class is a named or a default export by loader. */
async function loadXz(): Promise<XzStreamClass> {
  const mod = (await import('xz-decompress')) as unknown as {
    XzReadableStream?: XzStreamClass;
    default?: { XzReadableStream: XzStreamClass };
  };
  return mod.XzReadableStream ?? mod.default!.XzReadableStream;
}

/** The xz decoder's error codes (xz-embedded's `enum xz_ret`), as words. */
const XZ_ERRORS: Record<string, string> = {
  '2': 'unsupported integrity check',
  '3': 'out of memory',
  '4': 'dictionary over the memory limit',
  '5': 'not xz data (bad header)',
  '6': 'unsupported xz options',
  '7': 'corrupt xz data',
  '8': 'truncated xz data (the file ends inside the compressed stream)',
};

/**
 * The content of a source: its bytes raw, gunzipped or un-xz'd according to its magic bytes, and
 * when that content is an hvsim trace of version 2, its header followed by its blocks' records,
 * decompressed (see hvsim-blocks.ts). Errors are TraceErrors naming the source and the offset in
 * the (gzip- or xz-decompressed) content.
 */
export async function* contentChunks(
  source: TraceSource,
  info: SourceInfo,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): AsyncGenerator<Uint8Array> {
  const raw = new Peekable(rawChunks(source, info, chunkBytes));
  const compression = detectCompression(await raw.peek(6));
  const content = new Peekable(
    compression === null ? raw[Symbol.asyncIterator]() : decompressed(raw, compression, info),
  );
  const head = await content.peek(HVSIM_HEADER_BYTES);
  if (head.length >= 10 && hasHvsimMagic(head) && hvsimVersion(head) === 2) {
    // The file's own size bounds the body only when no gzip or xz is around it.
    const fileBytes = compression === null ? info.totalBytes : null;
    yield* hvsimBlockContent(content[Symbol.asyncIterator](), info.name, fileBytes, chunkBytes);
  } else {
    yield* content;
  }
}

/**
 * Compressed bytes handed to a decompressor at a time, and its output chunk size: fixed, never the
 * source's chunking or `chunkBytes`, so the decompressor does the same steps, and fails at the same
 * decompressed offset, however the bytes arrive.
 */
const DECOMPRESS_BLOCK = 64 * 1024;

/** `chunks` re-cut into pieces of exactly `size` bytes (the last one shorter). */
async function* fixedBlocks(chunks: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let parts: Uint8Array[] = [];
  let held = 0;
  for await (const chunk of chunks) {
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(size - held, chunk.length - at);
      // A whole block inside one chunk is a view, not a copy.
      if (held === 0 && take === size) yield chunk.subarray(at, at + take);
      else {
        parts.push(chunk.subarray(at, at + take));
        held += take;
        if (held === size) {
          yield Buffer.concat(parts);
          parts = [];
          held = 0;
        }
      }
      at += take;
    }
  }
  if (held > 0) yield Buffer.concat(parts);
}

/**
 * Gunzips `blocks` one at a time, waiting for each to be processed before the next: the output of
 * each block (in chunks of DECOMPRESS_BLOCK) is whatever zlib makes of the same block sequence, so
 * the output and an error's place do not depend on timing.
 */
async function* gunzipBlocks(blocks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const gunzip = createGunzip({ chunkSize: DECOMPRESS_BLOCK });
  const out: Uint8Array[] = [];
  let failure: unknown = null;
  // zlib may stop on its own (trailing bytes that are not a gzip member): then no callback comes.
  let ended = false;
  let wake: (() => void) | null = null;
  const settle = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  gunzip.on('data', (chunk: Uint8Array) => out.push(chunk));
  gunzip.on('error', (error) => {
    failure ??= error;
    settle();
  });
  gunzip.on('end', () => {
    ended = true;
    settle();
  });
  gunzip.on('close', () => {
    ended = true;
    settle();
  });
  const step = (act: () => void): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve;
      if (ended || failure !== null) settle();
      else act();
    });
  try {
    for await (const block of blocks) {
      await step(() => gunzip.write(block, settle));
      while (out.length > 0) yield out.shift()!;
      if (failure !== null) throw failure;
      if (ended) return;
    }
    await step(() => gunzip.end());
    while (out.length > 0) yield out.shift()!;
    if (failure !== null) throw failure;
  } finally {
    gunzip.destroy();
  }
}

/** The decompressed chunks of `raw`; errors become TraceErrors naming the source and the decompressed offset. */
async function* decompressed(
  raw: Peekable,
  compression: 'gzip' | 'xz',
  info: SourceInfo,
): AsyncGenerator<Uint8Array> {
  let out = 0;
  const blocks = fixedBlocks(raw, DECOMPRESS_BLOCK);
  try {
    if (compression === 'gzip') {
      for await (const chunk of gunzipBlocks(blocks)) {
        out += chunk.length;
        yield chunk;
      }
    } else {
      const XzReadableStream = await loadXz();
      const web = new WebReadableStream<Uint8Array>({
        async pull(controller) {
          const r = await blocks.next();
          if (r.done) controller.close();
          else controller.enqueue(r.value);
        },
        async cancel() {
          await blocks.return(undefined);
        },
      });
      for await (const chunk of new XzReadableStream(web)) {
        out += chunk.length;
        yield chunk;
      }
    }
  } catch (error) {
    if (error instanceof TraceError) throw error;
    let problem = describe(error);
    const code = /error code (\d+)/.exec(problem);
    if (compression === 'xz' && code) problem = XZ_ERRORS[code[1]] ?? problem;
    throw new TraceError({ file: info.name, offset: out }, `${compression}: ${problem}`, { cause: error });
  } finally {
    await blocks.return(undefined);
  }
}
