/** What a file-system error code means, in the words a message to a user takes (Node's `error.code`). */
const WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EEXIST: 'already exists',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'the name is too long',
};

/**
 * A failed file operation in words, without Node's code and syscall (`ENOENT: no such file or
 * directory, open '…'` becomes `no such file or directory`), for a message that already names the
 * file; the error's own message when its code is not one of the common ones.
 */
export function describeFileError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && WORDS[code] !== undefined) return WORDS[code];
  return error instanceof Error ? error.message : String(error);
}
