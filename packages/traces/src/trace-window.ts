import type { TraceBatch } from './trace-batch.js';

/** Which records of a trace to keep: `skip` from the start, then at most `records`. */
export interface TraceWindow {
  /** Records to skip from the start (default 0). */
  readonly skip?: number;
  /** Records to keep after them (default: all the rest). */
  readonly records?: number;
}

/**
 * The records of `batches` in `window`: the first `skip` dropped, then at most `records` passed on,
 * after which the source is closed (a reader stops reading its file). A batch cut at either edge is
 * passed on as views of its arrays, valid as long as the source's batch is. Throws a RangeError for
 * a count that is not a non-negative integer.
 */
export async function* windowBatches(
  batches: AsyncIterable<TraceBatch>,
  window: TraceWindow,
): AsyncGenerator<TraceBatch> {
  const skip = window.skip ?? 0;
  const keep = window.records ?? Number.POSITIVE_INFINITY;
  for (const [name, value] of [
    ['skip', skip],
    ['records', keep],
  ] as const) {
    if (!(Number.isInteger(value) || value === Number.POSITIVE_INFINITY) || value < 0) {
      throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
    }
  }
  let seen = 0;
  let kept = 0;
  if (keep === 0) return;
  for await (const batch of batches) {
    const start = Math.max(0, Math.min(batch.length, skip - seen));
    seen += batch.length;
    const end = Math.min(batch.length, start + (keep - kept));
    if (end > start) {
      kept += end - start;
      yield start === 0 && end === batch.length
        ? batch
        : {
            length: end - start,
            kind: batch.kind.subarray(start, end),
            addressLo: batch.addressLo.subarray(start, end),
            addressHi: batch.addressHi.subarray(start, end),
            size: batch.size.subarray(start, end),
            asid: batch.asid?.subarray(start, end),
          };
    }
    if (kept >= keep) return; // leaving the loop closes the source
  }
}
