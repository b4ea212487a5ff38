/**
 * ChampSim binary traces: a sequence of 64-byte `input_instr` records, little-endian, as declared in
 * ChampSim's `inc/trace_instruction.h` (ChampSim/ChampSim, commit b92dc114):
 *
 * | offset | field                         |
 * | -----: | ----------------------------- |
 * |      0 | `ip`, u64                     |
 * |      8 | `is_branch`, u8               |
 * |      9 | `branch_taken`, u8            |
 * |     10 | `destination_registers[2]`, u8 |
 * |     12 | `source_registers[4]`, u8     |
 * |     16 | `destination_memory[2]`, u64  |
 * |     32 | `source_memory[4]`, u64       |
 *
 * A zero memory operand is an unused slot. ChampSim records no access sizes: fetches get
 * {@link CHAMPSIM_FETCH_SIZE} and data accesses {@link CHAMPSIM_DATA_SIZE}, nominal sizes.
 */

import { TraceError } from '@hvsim/errors';
import type { RecordDecoder } from './record-decoder.js';
import type { RecordBatch } from './trace-batch.js';
import { TraceKind } from './trace-kind.js';

/** Bytes in one ChampSim `input_instr` record. */
export const CHAMPSIM_RECORD_BYTES = 64;
/** Offset of `destination_memory[0]` (stores) in a record. */
export const CHAMPSIM_DESTINATION_MEMORY = 16;
/** Offset of `source_memory[0]` (loads) in a record. */
export const CHAMPSIM_SOURCE_MEMORY = 32;
/** Size given to a ChampSim instruction fetch (the trace has no instruction lengths). */
export const CHAMPSIM_FETCH_SIZE = 4;
/** Size given to a ChampSim data access (the trace has no operand sizes). */
export const CHAMPSIM_DATA_SIZE = 8;

/** Records one instruction can become: its fetch, 4 loads and 2 stores. */
const MAX_PER_INSTRUCTION = 7;

/** Decodes ChampSim `input_instr` records: a Fetch, then a Load per source and a Store per destination. */
export class ChampSimDecoder implements RecordDecoder {
  declare base: number;
  declare readonly file: string;

  constructor(file: string) {
    this.base = 0;
    this.file = file;
  }

  decode(bytes: Uint8Array, pos: number, batch: RecordBatch, limit: number): number {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const kinds = batch.kind;
    const los = batch.addressLo;
    const his = batch.addressHi;
    const sizes = batch.size;
    const stop = bytes.length - CHAMPSIM_RECORD_BYTES;
    const room = limit - MAX_PER_INSTRUCTION;
    let n = batch.length;
    let p = pos;
    while (p <= stop && n <= room) {
      kinds[n] = TraceKind.Fetch;
      los[n] = view.getUint32(p, true);
      his[n] = view.getUint32(p + 4, true);
      sizes[n] = CHAMPSIM_FETCH_SIZE;
      n++;
      // The 4 sources (loads) at 32..63, then the 2 destinations (stores) at 16..31; zero = unused.
      for (let slot = 0; slot < 6; slot++) {
        const o =
          slot < 4 ? p + CHAMPSIM_SOURCE_MEMORY + 8 * slot : p + CHAMPSIM_DESTINATION_MEMORY + 8 * (slot - 4);
        const lo = view.getUint32(o, true);
        const hi = view.getUint32(o + 4, true);
        if ((lo | hi) !== 0) {
          kinds[n] = slot < 4 ? TraceKind.Load : TraceKind.Store;
          los[n] = lo;
          his[n] = hi;
          sizes[n] = CHAMPSIM_DATA_SIZE;
          n++;
        }
      }
      p += CHAMPSIM_RECORD_BYTES;
    }
    batch.length = n;
    return p;
  }

  end(tail: Uint8Array): Uint8Array | null {
    if (tail.length === 0) return null;
    const offset = this.base;
    throw new TraceError(
      { file: this.file, offset, record: offset / CHAMPSIM_RECORD_BYTES },
      `truncated ChampSim trace: the last record has ${tail.length} of its ${CHAMPSIM_RECORD_BYTES} bytes (the content's size, ${offset + tail.length} bytes, is not a multiple of ${CHAMPSIM_RECORD_BYTES})`,
    );
  }

  finish(): void {}
}

/**
 * Whether `head` (the start of some content) looks like ChampSim records: at least one whole record,
 * and in every whole one a nonzero `ip` and `is_branch`/`branch_taken` of 0 or 1 with no taken
 * non-branch.
 */
export function looksLikeChampSim(head: Uint8Array): boolean {
  const records = Math.floor(head.length / CHAMPSIM_RECORD_BYTES);
  if (records === 0) return false;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  for (let r = 0; r < records; r++) {
    const p = r * CHAMPSIM_RECORD_BYTES;
    const isBranch = head[p + 8];
    const taken = head[p + 9];
    if (isBranch > 1 || taken > isBranch) return false;
    if ((view.getUint32(p, true) | view.getUint32(p + 4, true)) === 0) return false;
  }
  return true;
}
