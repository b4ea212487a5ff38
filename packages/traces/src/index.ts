/** The error every unreadable trace gives, naming the file, the line or byte offset, and the problem (from @hvsim/errors). */
export { TraceError, type TraceErrorLocation } from '@hvsim/errors';
/** Where a trace comes from: a path (`-` = standard input), a Node stream, an async iterable of chunks, or bytes. */
export type { TraceSource } from './byte-source.js';
/** ChampSim's record layout (`inc/trace_instruction.h`) and the nominal sizes its records get. */
export {
  CHAMPSIM_DATA_SIZE,
  CHAMPSIM_DESTINATION_MEMORY,
  CHAMPSIM_FETCH_SIZE,
  CHAMPSIM_RECORD_BYTES,
  CHAMPSIM_SOURCE_MEMORY,
} from './champsim-decoder.js';
/** ChampSim's CloudSuite record layout (`cloudsuite_instr`, 96 bytes with its padding, carrying ASIDs). */
export {
  CLOUDSUITE_ASID,
  CLOUDSUITE_DESTINATION_MEMORY,
  CLOUDSUITE_RECORD_BYTES,
  CLOUDSUITE_SOURCE_MEMORY,
} from './cloudsuite-decoder.js';
/** Converts any readable trace to hvsim's compact format, via a temporary file renamed when complete. */
export { type ConvertResult, type ConvertTraceOptions, convertTrace } from './convert-trace.js';
/** Tells a trace's compression and format from its first bytes. */
export { detectCompression, detectTraceFormat, type TraceCompression } from './detect-format.js';
/** hvsim's compact trace format (writes version 2, reads 1 and 2): its constants and its writer. */
export {
  HVSIM_HEADER_BYTES,
  HVSIM_MAGIC,
  HVSIM_VERSION,
  HvsimEncoder,
  type HvsimEncoderOptions,
} from './hvsim-format.js';
/** A batch of records in reused typed arrays, and how accesses over 255 bytes become several records. */
export { MAX_ACCESS_SIZE, MAX_RECORD_SIZE, SPLIT_PIECE, type TraceBatch } from './trace-batch.js';
/** Record kinds (load, store, modify, fetch) and the format names. */
export { TRACE_FORMATS, type TraceFormat, TraceKind, traceKindLetter } from './trace-kind.js';
/** Opens a trace for streaming as batches of records. */
export {
  DEFAULT_BATCH_SIZE,
  MIN_BATCH_SIZE,
  type OpenTraceOptions,
  openTrace,
  type TraceReader,
} from './trace-reader.js';
/** The records of a trace from one record to another: skip some, cap the rest. */
export { type TraceWindow, windowBatches } from './trace-window.js';
