/**
 * @hvsim/traces/records: what a trace record is, for code that consumes traces without reading files
 * (a guest model running batches, say). Runs anywhere JavaScript runs: no Node modules.
 */

/** A batch of records in reused typed arrays, and how accesses over 255 bytes become several records. */
export {
  MAX_ACCESS_SIZE,
  MAX_RECORD_SIZE,
  RecordBatch,
  SPLIT_PIECE,
  type TraceBatch,
} from './trace-batch.js';
/** Record kinds (load, store, modify, fetch) and the format names. */
export { TRACE_FORMATS, type TraceFormat, TraceKind, traceKindLetter } from './trace-kind.js';
/** The records of a trace from one record to another: skip some, cap the rest. */
export { type TraceWindow, windowBatches } from './trace-window.js';
