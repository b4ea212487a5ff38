import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describeFileError, TraceError } from '@hvsim/errors';
import type { TraceSource } from './byte-source.js';
import { HvsimEncoder } from './hvsim-format.js';
import { type OpenTraceOptions, openTrace } from './trace-reader.js';

/** What {@link convertTrace} wrote. */
export interface ConvertResult {
  /** Records written. */
  readonly records: number;
  /** Size of the written file in bytes. */
  readonly bytes: number;
  /** The input's format. */
  readonly format: string;
}

/** Options of {@link convertTrace}: those of openTrace, and a progress callback. */
export interface ConvertTraceOptions extends OpenTraceOptions {
  /** Called after each batch with the records written and the input's raw bytes read so far. */
  onProgress?: (records: number, bytesRead: number, totalBytes: number | null) => void;
}

/** Bytes gathered before each write to the output. */
const WRITE_BYTES = 1 << 20;

/**
 * Converts a trace of any readable format but ChampSim's CloudSuite (whose ASIDs hvsim's format
 * cannot carry: a TraceError) to hvsim's compact format (version 2) at `output`,
 * streaming; an hvsim trace of version 1 is converted too. It is
 * written to a temporary file beside `output` and renamed over it only when complete, so a failure
 * leaves nothing half-written.
 */
export async function convertTrace(
  input: TraceSource,
  output: string,
  options: ConvertTraceOptions = {},
): Promise<ConvertResult> {
  const cannotWrite = (error: unknown): TraceError => {
    const code = (error as { code?: unknown }).code;
    const why = code === 'ENOENT' ? `the folder ${dirname(output)} does not exist` : describeFileError(error);
    return new TraceError({ file: output }, `cannot write: ${why}`, { cause: error });
  };
  // Before any record is read: an output that cannot be is the caller's to fix.
  if (options.format === 'champsim-cloudsuite') {
    // (The format is never detected, so only a named one can be CloudSuite.)
    throw new TraceError(
      { file: output },
      "cannot convert a ChampSim CloudSuite trace: hvsim's format carries no ASIDs, so its records would lose their address spaces",
    );
  }
  const existing = await fsp.stat(output).catch(() => null);
  if (existing?.isDirectory()) throw new TraceError({ file: output }, 'cannot write: it is a directory');
  const reader = openTrace(input, options);
  const temp = join(dirname(output), `.${basename(output)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(temp, 'wx');
  } catch (error) {
    await reader.close();
    throw cannotWrite(error);
  }
  const encoder = new HvsimEncoder();
  let bytes = 0;
  const write = async (chunk: Uint8Array, position?: number): Promise<void> => {
    try {
      await handle.write(chunk, 0, chunk.length, position ?? null);
    } catch (error) {
      throw cannotWrite(error);
    }
  };
  const writeTaken = async (): Promise<void> => {
    const chunk = encoder.takeBytes();
    bytes += chunk.length;
    await write(chunk);
  };
  try {
    for await (const batch of reader) {
      encoder.pushBatch(batch);
      if (encoder.pending >= WRITE_BYTES) await writeTaken();
      options.onProgress?.(encoder.records, reader.bytesRead, reader.totalBytes);
    }
    const header = encoder.finish();
    await writeTaken();
    await write(header, 0); // over the placeholder, now that count and checksum are known
    await handle.close();
    await fsp.rename(temp, output).catch((error) => {
      throw cannotWrite(error);
    });
  } catch (error) {
    await handle.close().catch(() => {});
    await fsp.rm(temp, { force: true });
    throw error;
  }
  return { records: encoder.records, bytes, format: reader.format };
}
