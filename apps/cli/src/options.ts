import { InvalidArgumentError } from 'commander';

/**
 * The parser of an option that takes one value: a second occurrence is a usage error naming both
 * values, so the command line never silently picks one (`hvsim run --config native --config npt-2m`).
 * `hint` says what to do instead. Each call makes a parser for one option of one command, for one
 * parse (the command line builds its program once per run).
 */
export function once<T = string>(
  flag: string,
  parse: (text: string) => T = (text) => text as unknown as T,
  hint = 'give it once',
): (text: string) => T {
  let first: string | undefined;
  return (text: string): T => {
    if (first !== undefined)
      throw new InvalidArgumentError(`${flag} is given twice (${first} and ${text}); ${hint}`);
    first = text;
    return parse(text);
  };
}
