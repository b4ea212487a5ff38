import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeFileError } from '@hvsim/errors';

/** A failure whose message is for the user as it stands: printed without a stack trace. */
export class CliError extends Error {}

/** A command line that asks for something contradictory: printed like a CliError, exit code 2. */
export class UsageError extends CliError {}

/**
 * Writes `text` to `path` through a temporary file in the same folder and a rename, so a reader
 * never sees a half-written result and a failure leaves nothing behind.
 */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, text, { flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new CliError(`cannot write ${path}: ${describeFileError(error)}`);
  }
}
