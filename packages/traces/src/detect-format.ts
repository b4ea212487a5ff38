import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { looksLikeChampSim } from './champsim-decoder.js';
import { looksLikeCloudSuite } from './cloudsuite-decoder.js';
import { HVSIM_MAGIC, hasHvsimMagic } from './hvsim-blocks.js';
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
  if (looksLikeLackey(head)) return ['lackey'];
  const fits: TraceFormat[] = [];
  if (looksLikeChampSim(head)) fits.push('champsim');
  if (looksLikeCloudSuite(head, complete)) fits.push('champsim-cloudsuite');
  return fits;
}

const LACKEY_LINE =
  /^(?:==\d+==.*|--\d+--.*|\*\*\d+\*\*.*|[ \t]*|I {1,2}[0-9a-fA-F]{1,16},\d{1,4}|[ \t][LSM] +[0-9a-fA-F]{1,16},\d{1,4})\r?$/;

/**
 * Whether `head` is lackey text: only text bytes, and every complete line a lackey record, a
 * valgrind line (`==PID==`, `--PID--`, `**PID**`) or blank, with at least one of the first two. The last line counts only when the
 * head ends with its newline.
 */
function looksLikeLackey(head: Uint8Array): boolean {
  for (let i = 0; i < head.length; i++) {
    const c = head[i];
    if ((c < 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) || c === 0x7f) return false;
  }
  const text = String.fromCharCode(...head.subarray(0, Math.min(head.length, DETECT_BYTES)));
  const lines = text.split('\n');
  lines.pop(); // the part after the last newline: empty, or a line the head cut
  let seen = false;
  for (const line of lines) {
    if (!LACKEY_LINE.test(line)) return false;
    if (line.trim() !== '') seen = true;
  }
  return seen;
}
