/**
 * Input hvsim cannot read: a scenario or result document, a configuration, a trace. Every such error
 * is an `InputError`, so a program (the `hvsim` command line, say) can tell bad input, which it
 * reports in one line and exits non-zero on, from a fault of its own. The message names where (the
 * file, and the line, byte offset or JSON path) and what is wrong.
 */
export class InputError extends Error {
  /** Where the input came from (a file name, `<stdin>`), when known. */
  declare readonly source: string | undefined;

  constructor(message: string, source: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InputError';
    this.source = source;
  }
}
