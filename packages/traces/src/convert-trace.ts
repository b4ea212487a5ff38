import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TraceError } from '@hvsim/errors';
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
 * Converts a trace of any readable format to hvsim's compact format (version 2) at `output`,
 * streaming; an hvsim trace of version 1 is converted too. It is
 * written to a temporary file beside `output` and renamed over it only when complete, so a failure
 * leaves nothing half-written.
 */
export async function convertTrace(
  input: TraceSource,
  output: string,
  options: ConvertTraceOptions = {},
): Promise<ConvertResult> {
  const reader = openTrace(input, options);
  const temp = join(dirname(output), `.${basename(output)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(temp, 'wx');
  } catch (error) {
    await reader.close();
    throw new TraceError({ file: output }, `cannot write: ${(error as Error).message}`, { cause: error });
  }
  const encoder = new HvsimEncoder();
  let bytes = 0;
  const write = async (): Promise<void> => {
    const chunk = encoder.takeBytes();
    bytes += chunk.length;
    try {
      await handle.write(chunk);
    } catch (error) {
      throw new TraceError({ file: output }, `cannot write: ${(error as Error).message}`, { cause: error });
    }
  };
  try {
    for await (const batch of reader) {
      encoder.pushBatch(batch);
      if (encoder.pending >= WRITE_BYTES) await write();
      options.onProgress?.(encoder.records, reader.bytesRead, reader.totalBytes);
    }
    const header = encoder.finish();
    await write();
    try {
      await handle.write(header, 0, header.length, 0); // over the placeholder, now that count and checksum are known
    } catch (error) {
      throw new TraceError({ file: output }, `cannot write: ${(error as Error).message}`, { cause: error });
    }
    await handle.close();
    await fsp.rename(temp, output);
  } catch (error) {
    await handle.close().catch(() => {});
    await fsp.rm(temp, { force: true });
    throw error;
  }
  return { records: encoder.records, bytes, format: reader.format };
}
