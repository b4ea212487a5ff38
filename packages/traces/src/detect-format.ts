import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { TraceError } from '@hvsim/errors';
import { looksLikeChampSim } from './champsim-decoder.js';
import { looksLikeCloudSuite } from './cloudsuite-decoder.js';
import { HVSIM_MAGIC, hasHvsimMagic } from './hvsim-blocks.js';
import { LackeyDecoder } from './lackey-decoder.js';
import { RecordBatch } from './trace-batch.js';
import type { TraceFormat } from './trace-kind.js';

/** A compression wrapped around a trace, told by its magic bytes. */
export type TraceCompression = 'gzip' | 'xz';

/** The first bytes of a gzip member (RFC 1952 §2.3.1: ID1, ID2). */
const GZIP_MAGIC = [0x1f, 0x8b];
/** The first bytes of an xz stream (The .xz File Format 1.0.4, §2.1.1.1 Header Magic Bytes). */
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

function startsWith(head: Uint8Array, magic: readonly number[]): boolean {
  if (head.length < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (head[i] !== magic[i]) return false;
  return true;
}

/** The compression of content starting with `head`, from its magic bytes (never the file name). */
export function detectCompression(head: Uint8Array): TraceCompression | null {
  if (startsWith(head, GZIP_MAGIC)) return 'gzip';
  if (startsWith(head, XZ_MAGIC)) return 'xz';
  return null;
}

/** Bytes of (decompressed) content that detection looks at. */
export const DETECT_BYTES = 8192;

/**
 * The trace format of content starting with `head`: hvsim by its magic; lackey when the lines are
 * lackey's; ChampSim when the head is binary whose 64-byte records are plausible. A gzip head is
 * inflated (as far as it goes) and detected; for xz, which cannot be inflated here synchronously,
 * the answer is null: {@link openTrace} decompresses before it detects. Null when nothing fits, and
 * when the bytes could be ChampSim's CloudSuite records (`champsim-cloudsuite`), which cannot always
 * be told from the original ones by their bytes and so are never detected: that format is named.
 */
export function detectTraceFormat(head: Uint8Array): TraceFormat | null {
  const compression = detectCompression(head);
  if (compression === 'gzip') {
    let inner: Uint8Array;
    try {
      inner = gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch {
      return null;
    }
    return detectTraceFormat(inner.subarray(0, DETECT_BYTES));
  }
  if (compression === 'xz') return null;
  const fits = formatsFitting(head, false);
  return fits.length === 1 && fits[0] !== 'champsim-cloudsuite' ? (fits[0] as TraceFormat) : null;
}

/**
 * Every format whose rules (de)compressed content starting with `head` passes; `complete`: `head`
 * is all of it (so a record size must divide its length). hvsim and lackey exclude the others;
 * the two ChampSim layouts may both fit.
 */
export function formatsFitting(head: Uint8Array, complete: boolean): TraceFormat[] {
  if (head.length >= HVSIM_MAGIC.length && hasHvsimMagic(head)) return ['hvsim'];
  if (looksLikeLackey(head, complete)) return ['lackey'];
  const fits: TraceFormat[] = [];
  if (looksLikeChampSim(head)) fits.push('champsim');
  if (looksLikeCloudSuite(head, complete)) fits.push('champsim-cloudsuite');
  return fits;
}

/** Room for a detection head's records, decoded in rounds (a lackey line is at most MAX_PIECES records). */
const SCRATCH_RECORDS = 1024;

/**
 * Whether `head` is lackey text: only text bytes, at least one line that is not blank, and every
 * line one the lackey decoder reads (a record in any spacing lackey or a hand may write, a valgrind
 * line `==PID==`, `--PID--`, `**PID**`, or blank): detection accepts exactly what the reader
 * does. The last line counts only when the head ends with its newline, or is all the content.
 */
function looksLikeLackey(head: Uint8Array, complete: boolean): boolean {
  const text = head.subarray(0, Math.min(head.length, DETECT_BYTES));
  let seen = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ((c < 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) || c === 0x7f) return false;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) seen = true;
  }
  if (!seen) return false;
  const decoder = new LackeyDecoder('<head>');
  const batch = new RecordBatch(SCRATCH_RECORDS);
  const lines = text.lastIndexOf(0x0a) + 1;
  try {
    const body = text.subarray(0, lines);
    for (let pos = 0; pos < body.length; ) {
      batch.length = 0;
      pos = decoder.decode(body, pos, batch, SCRATCH_RECORDS);
    }
    if (complete && lines < text.length) {
      const last = decoder.end(text.subarray(lines));
      if (last !== null) {
        batch.length = 0;
        decoder.decode(last, 0, batch, SCRATCH_RECORDS);
      }
    } else if (lines === 0) {
      return false; // not one whole line to judge by
    }
  } catch (error) {
    if (error instanceof TraceError) return false;
    throw error;
  }
  return true;
}
