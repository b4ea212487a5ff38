/**
 * A batch of trace records in typed arrays that the reader reuses: record `i` is
 * `kind[i]` ({@link TraceKind}), the address `addressHi[i] * 2**32 + addressLo[i]` and the access
 * size `size[i]` in bytes. Only the first `length` entries are valid, and only until the reader
 * advances.
 */
export interface TraceBatch {
  length: number;
  readonly kind: Uint8Array;
  readonly addressLo: Uint32Array;
  readonly addressHi: Uint32Array;
  readonly size: Uint8Array;
  /**
   * Per record, the address-space id the trace gives it (ChampSim's CloudSuite records); absent for
   * formats that carry none, whose records all belong to one address space.
   */
  readonly asid?: Uint8Array | undefined;
}

/** The reader's batch: the arrays of {@link TraceBatch} with room for `capacity` records. */
export class RecordBatch implements TraceBatch {
  declare length: number;
  declare readonly capacity: number;
  declare readonly kind: Uint8Array;
  declare readonly addressLo: Uint32Array;
  declare readonly addressHi: Uint32Array;
  declare readonly size: Uint8Array;
  declare readonly asid: Uint8Array | undefined;

  /** `withAsid`: the batch also has an `asid` array (for a format whose records carry ASIDs). */
  constructor(capacity: number, withAsid = false) {
    this.length = 0;
    this.capacity = capacity;
    this.kind = new Uint8Array(capacity);
    this.addressLo = new Uint32Array(capacity);
    this.addressHi = new Uint32Array(capacity);
    this.size = new Uint8Array(capacity);
    this.asid = withAsid ? new Uint8Array(capacity) : undefined;
  }
}

/** The largest size one record holds; a larger access becomes several records (see {@link pushSplit}). */
export const MAX_RECORD_SIZE = 255;

/** The piece size a larger access is cut into: a power of two, so pieces stay aligned as the access was. */
export const SPLIT_PIECE = 128;

/** The largest access a reader accepts (lackey reports at most 512 bytes, its MAX_DSIZE). */
export const MAX_ACCESS_SIZE = 4096;

/** Most records one access can become; a batch has room for at least this many. */
export const MAX_PIECES = MAX_ACCESS_SIZE / SPLIT_PIECE;

/** How many records an access of `size` bytes becomes. */
export function recordsForSize(size: number): number {
  return size <= MAX_RECORD_SIZE ? 1 : Math.ceil(size / SPLIT_PIECE);
}

/**
 * Appends an access larger than {@link MAX_RECORD_SIZE} (lackey reports up to 512-byte accesses
 * for FXSAVE-like instructions) as consecutive pieces of {@link SPLIT_PIECE} bytes that together
 * touch exactly the same bytes. The caller has checked there is room. Returns the new length.
 */
export function pushSplit(
  batch: RecordBatch,
  n: number,
  kind: number,
  lo: number,
  hi: number,
  size: number,
): number {
  let offset = 0;
  while (offset < size) {
    const piece = Math.min(SPLIT_PIECE, size - offset);
    const sum = lo + offset;
    batch.kind[n] = kind;
    batch.addressLo[n] = sum >>> 0;
    batch.addressHi[n] = (hi + (sum > 0xffff_ffff ? 1 : 0)) >>> 0;
    batch.size[n] = piece;
    n++;
    offset += piece;
  }
  return n;
}
