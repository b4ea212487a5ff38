import { DocumentError } from '@hvsim/errors';

/*
 * JSON.parse does the parsing; its messages, though, differ between Node versions and not all give
 * a position. When it fails, a small RFC 8259 scanner finds where the text stops being JSON, so the
 * error can name the line and column on every runtime.
 */

/** Parses JSON text, throwing a `DocumentError` that names the line and column of a syntax error. */
export function parseJsonText(text: string, source?: string): unknown {
  // A UTF-8 byte-order mark is not JSON, but editors write one; skip it.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (error) {
    const problem = locateSyntaxError(body) ?? {
      offset: body.length,
      message: error instanceof Error ? error.message : String(error),
    };
    const { line, column } = lineAndColumn(body, problem.offset);
    throw new DocumentError(
      [{ path: '', message: `invalid JSON: ${problem.message}`, line, column }],
      source,
    );
  }
}

/** 1-based line and column of a character offset. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

class SyntaxProblem {
  readonly offset: number;
  readonly message: string;
  constructor(offset: number, message: string) {
    this.offset = offset;
    this.message = message;
  }
}

/** The offset and description of the first JSON syntax error in `text`, or null when it is valid JSON. */
export function locateSyntaxError(text: string): { offset: number; message: string } | null {
  let i = 0;
  const n = text.length;

  const fail = (message: string): never => {
    throw new SyntaxProblem(i, message);
  };
  const found = (): string => {
    if (i >= n) return 'the end of the input';
    return text.charCodeAt(i) < 0x20 ? JSON.stringify(text[i]) : `'${text[i]}'`;
  };
  const skipSpace = (): void => {
    while (i < n) {
      const c = text[i];
      if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') break;
      i++;
    }
  };
  const digits = (): number => {
    const start = i;
    while (i < n && text[i] >= '0' && text[i] <= '9') i++;
    return i - start;
  };
  const string = (): void => {
    i++; // the opening quote
    for (;;) {
      if (i >= n) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail('control character in a string (escape it)');
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === 'u') {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) {
              i += k;
              fail('invalid \\u escape in a string');
            }
          }
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i++;
        } else {
          fail('invalid escape in a string');
        }
      } else {
        i++;
      }
    }
  };
  const number = (): void => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else if (digits() === 0) fail(`expected a digit, found ${found()}`);
    if (text[i] === '.') {
      i++;
      if (digits() === 0) fail(`expected a digit after the decimal point, found ${found()}`);
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (digits() === 0) fail(`expected a digit in the exponent, found ${found()}`);
    }
  };
  const value = (): void => {
    skipSpace();
    if (i >= n) fail('unexpected end of the input, expected a value');
    const c = text[i];
    if (c === '{') object();
    else if (c === '[') array();
    else if (c === '"') string();
    else if (c === '-' || (c >= '0' && c <= '9')) number();
    else {
      const word = ['true', 'false', 'null'].find((literal) => text.startsWith(literal, i));
      if (word === undefined) fail(`unexpected ${found()}, expected a value`);
      else i += word.length;
    }
  };
  const object = (): void => {
    i++;
    skipSpace();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      skipSpace();
      if (text[i] !== '"') fail(`expected a property name in double quotes, found ${found()}`);
      string();
      skipSpace();
      if (text[i] !== ':') fail(`expected ':' after a property name, found ${found()}`);
      i++;
      value();
      skipSpace();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return;
      }
      fail(`expected ',' or '}' in an object, found ${found()}`);
    }
  };
  const array = (): void => {
    i++;
    skipSpace();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (;;) {
      value();
      skipSpace();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return;
      }
      fail(`expected ',' or ']' in an array, found ${found()}`);
    }
  };

  try {
    value();
    skipSpace();
    if (i < n) fail(`unexpected ${found()} after the end of the document`);
    return null;
  } catch (problem) {
    if (problem instanceof SyntaxProblem) return { offset: problem.offset, message: problem.message };
    // Nesting deep enough to exhaust the stack: let the caller fall back on JSON.parse's message.
    return null;
  }
}
