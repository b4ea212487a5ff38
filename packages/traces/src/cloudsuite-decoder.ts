/**
 * ChampSim's CloudSuite traces: a sequence of `cloudsuite_instr` records, as declared in ChampSim's
 * `inc/trace_instruction.h` (ChampSim/ChampSim, commit b92dc114), which ChampSim reads
 * `sizeof(cloudsuite_instr)` bytes at a time (`bulk_tracereader` in `inc/tracereader.h`). With the
 * x86-64 System V ABI's alignment (a u64 is 8-aligned, a struct's size a multiple of its largest
 * member's alignment) the record is 96 bytes, little-endian:
 *
 * | offset | field                            |
 * | -----: | -------------------------------- |
 * |      0 | `ip`, u64                        |
 * |      8 | `is_branch`, u8                  |
 * |      9 | `branch_taken`, u8               |
 * |     10 | `destination_registers[4]`, u8   |
 * |     14 | `source_registers[4]`, u8        |
 * |     18 | padding, 6 bytes                 |
 * |     24 | `destination_memory[4]`, u64     |
 * |     56 | `source_memory[4]`, u64          |
 * |     88 | `asid[2]`, u8                    |
 * |     90 | padding, 6 bytes                 |
 *
 * Padding and registers are ignored (a writer may leave anything there). ChampSim's caches of the
 * CloudSuite era tag instruction blocks with `asid[0]` and data blocks with `asid[1]`, so a record's
 * fetch gets `asid[0]` and its loads and stores `asid[1]`. A zero memory operand is an unused slot;
 * sizes are nominal, as for the original records.
 */

import { TraceError } from '@hvsim/errors';
import { CHAMPSIM_DATA_SIZE, CHAMPSIM_FETCH_SIZE } from './champsim-decoder.js';
import type { RecordDecoder } from './record-decoder.js';
import type { RecordBatch } from './trace-batch.js';
import { TraceKind } from './trace-kind.js';

/** Bytes in one ChampSim `cloudsuite_instr` record (90 bytes of fields, padded to 8-byte alignment). */
export const CLOUDSUITE_RECORD_BYTES = 96;
/** Offset of `destination_memory[0]` (stores) in a CloudSuite record. */
export const CLOUDSUITE_DESTINATION_MEMORY = 24;
/** Offset of `source_memory[0]` (loads) in a CloudSuite record. */
export const CLOUDSUITE_SOURCE_MEMORY = 56;
/** Offset of `asid[0]` (the fetch's address space; `asid[1]`, the next byte, is the data's). */
export const CLOUDSUITE_ASID = 88;

/** Memory operands of each kind in a CloudSuite record (`NUM_INSTR_DESTINATIONS_SPARC`, `NUM_INSTR_SOURCES`). */
const SLOTS = 4;
/** Records one instruction can become: its fetch, 4 loads and 4 stores. */
const MAX_PER_INSTRUCTION = 1 + 2 * SLOTS;

/**
 * Decodes CloudSuite records into a batch that has an `asid` array: a Fetch (ASID `asid[0]`), then
 * a Load per source and a Store per destination (ASID `asid[1]`).
 */
export class CloudSuiteDecoder implements RecordDecoder {
  declare base: number;
  declare readonly file: string;

  constructor(file: string) {
    this.base = 0;
    this.file = file;
  }

  decode(bytes: Uint8Array, pos: number, batch: RecordBatch, limit: number): number {
    const asids = batch.asid;
    if (asids === undefined) throw new Error('a CloudSuite trace needs a batch with an asid array');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const kinds = batch.kind;
    const los = batch.addressLo;
    const his = batch.addressHi;
    const sizes = batch.size;
    const stop = bytes.length - CLOUDSUITE_RECORD_BYTES;
    const room = limit - MAX_PER_INSTRUCTION;
    let n = batch.length;
    let p = pos;
    while (p <= stop && n <= room) {
      // is_branch and branch_taken are C++ bools ChampSim tests as such: anything else is not this layout.
      if ((bytes[p + 8] as number) > 1 || (bytes[p + 9] as number) > 1) this.badFlags(bytes, p);
      const codeAsid = bytes[p + CLOUDSUITE_ASID] as number;
      const dataAsid = bytes[p + CLOUDSUITE_ASID + 1] as number;
      kinds[n] = TraceKind.Fetch;
      los[n] = view.getUint32(p, true);
      his[n] = view.getUint32(p + 4, true);
      sizes[n] = CHAMPSIM_FETCH_SIZE;
      asids[n] = codeAsid;
      n++;
      for (let slot = 0; slot < 2 * SLOTS; slot++) {
        // The sources (loads) first, then the destinations (stores), as for the original records.
        const o =
          slot < SLOTS
            ? p + CLOUDSUITE_SOURCE_MEMORY + 8 * slot
            : p + CLOUDSUITE_DESTINATION_MEMORY + 8 * (slot - SLOTS);
        const lo = view.getUint32(o, true);
        const hi = view.getUint32(o + 4, true);
        if ((lo | hi) !== 0) {
          kinds[n] = slot < SLOTS ? TraceKind.Load : TraceKind.Store;
          los[n] = lo;
          his[n] = hi;
          sizes[n] = CHAMPSIM_DATA_SIZE;
          asids[n] = dataAsid;
          n++;
        }
      }
      p += CLOUDSUITE_RECORD_BYTES;
    }
    batch.length = n;
    return p;
  }

  private badFlags(bytes: Uint8Array, p: number): never {
    const at = (bytes[p + 8] as number) > 1 ? 8 : 9;
    const offset = this.base + p + at;
    throw new TraceError(
      { file: this.file, offset, record: (this.base + p) / CLOUDSUITE_RECORD_BYTES },
      `not a ChampSim CloudSuite record: ${at === 8 ? 'is_branch' : 'branch_taken'} is ${bytes[p + at]}, not 0 or 1`,
    );
  }

  end(tail: Uint8Array): Uint8Array | null {
    if (tail.length === 0) return null;
    const offset = this.base;
    throw new TraceError(
      { file: this.file, offset, record: offset / CLOUDSUITE_RECORD_BYTES },
      `truncated ChampSim CloudSuite trace: the last record has ${tail.length} of its ${CLOUDSUITE_RECORD_BYTES} bytes (the content's size, ${offset + tail.length} bytes, is not a multiple of ${CLOUDSUITE_RECORD_BYTES})`,
    );
  }

  finish(): void {}
}

/**
 * Whether `head` (the start of some content; all of it when `complete`) could be CloudSuite
 * records: at least one whole record, in every whole one a nonzero `ip` and `is_branch` and
 * `branch_taken` of 0 or 1, and, when `head` is the whole content, a size that is a multiple of 96.
 */
export function looksLikeCloudSuite(head: Uint8Array, complete: boolean): boolean {
  const records = Math.floor(head.length / CLOUDSUITE_RECORD_BYTES);
  if (records === 0 || (complete && head.length % CLOUDSUITE_RECORD_BYTES !== 0)) return false;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  for (let r = 0; r < records; r++) {
    const p = r * CLOUDSUITE_RECORD_BYTES;
    if ((head[p + 8] as number) > 1 || (head[p + 9] as number) > 1) return false;
    if ((view.getUint32(p, true) | view.getUint32(p + 4, true)) === 0) return false;
  }
  return true;
}
