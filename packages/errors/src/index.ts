/**
 * @hvsim/errors: the errors hvsim gives for input it cannot read. Scenario, result and configuration
 * documents (@hvsim/scenario, @hvsim/sim) throw a `DocumentError` naming the JSON path or line of each
 * problem; traces (@hvsim/traces) a `TraceError` naming the file and line or byte offset. Both are
 * `InputError`s. Runs anywhere JavaScript runs.
 */

/** Documents: each issue's JSON path (or line and column) and what is wrong. */
export { DocumentError, type DocumentIssue, describeValue, formatPath } from './document-error.js';
/** A failed file operation in words (`no such file or directory`), for messages that name the file. */
export { describeFileError } from './file-error.js';
/** The base of every error about unreadable input. */
export { InputError } from './input-error.js';
/** Traces: the file, the line or byte offset and record, and what is wrong. */
export { quoteBytes, TraceError, type TraceErrorLocation } from './trace-error.js';
