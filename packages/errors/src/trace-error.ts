import { InputError } from './input-error.js';

/** Where in its input a {@link TraceError} was found. */
export interface TraceErrorLocation {
  /** The input's name: its path, `<stdin>`, `<stream>`, `<bytes>`, or the `name` option. */
  readonly file: string;
  /** 1-based line number (text formats). */
  readonly line?: number;
  /** Byte offset in the decompressed content (binary formats). */
  readonly offset?: number;
  /** 0-based record index (binary formats: ChampSim instruction or hvsim record). */
  readonly record?: number;
}

/**
 * A trace that cannot be read: a missing file, an unknown format, a bad line or record, a truncated
 * or corrupt file. The message names the file, the line (text) or the byte offset and record index
 * (binary), and what is wrong; the same facts are fields for programs.
 */
export class TraceError extends InputError {
  /** The input's name (also `source`). */
  declare readonly file: string;
  declare readonly line: number | undefined;
  declare readonly offset: number | undefined;
  declare readonly record: number | undefined;
  /** What is wrong, without the location. */
  declare readonly problem: string;

  constructor(location: TraceErrorLocation, problem: string, options?: { cause?: unknown }) {
    super(`${formatLocation(location)}: ${problem}`, location.file, options);
    this.name = 'TraceError';
    this.file = location.file;
    this.line = location.line;
    this.offset = location.offset;
    this.record = location.record;
    this.problem = problem;
  }
}

function formatLocation(at: TraceErrorLocation): string {
  let s = at.file;
  if (at.line !== undefined) s += `:${at.line}`;
  if (at.offset !== undefined) s += ` at byte ${at.offset}`;
  if (at.record !== undefined) s += ` (record ${at.record})`;
  return s;
}

/** Shows a piece of a bad input in an error: printable ASCII as is, the rest escaped, cut at 60. */
export function quoteBytes(bytes: Uint8Array, start: number, end: number): string {
  const max = 60;
  let s = '';
  const stop = Math.min(end, start + max);
  for (let i = start; i < stop; i++) {
    const c = bytes[i];
    if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) s += String.fromCharCode(c);
    else if (c === 0x09) s += '\\t';
    else if (c === 0x0d) s += '\\r';
    else s += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return `"${s}"${end > stop ? '...' : ''}`;
}
