import { readmeProblems, undocumentedExports } from '@hvsim/dev-utils';
import { describe, expect, it, vi } from 'vitest';
import * as api from './index.js';
import { DocumentError, InputError, TraceError } from './index.js';

/*
 * The message formats are the ones the readers of @hvsim/scenario, @hvsim/sim and @hvsim/traces
 * promise in their READMEs: where first (file, line or byte offset, JSON path), then what.
 */

describe('InputError', () => {
  it('is the base of document and trace errors, with the source they name', () => {
    const document = new DocumentError([{ path: 'cpu', message: 'expected an object' }], 'a.json');
    const trace = new TraceError({ file: 't.champsim', offset: 128, record: 2 }, 'truncated record');
    expect(document).toBeInstanceOf(InputError);
    expect(trace).toBeInstanceOf(InputError);
    expect([document.source, trace.source]).toEqual(['a.json', 't.champsim']);
    expect([document.name, trace.name]).toEqual(['DocumentError', 'TraceError']);
  });
});

describe('DocumentError', () => {
  it('writes one line per issue with the parts of the location that are known', () => {
    const error = new DocumentError(
      [
        { path: '', message: 'invalid JSON: unexpected end', line: 3, column: 7 },
        { path: 'accesses[0].address', message: 'expected a hex string' },
      ],
      'x.json',
    );
    expect(error.message).toBe(
      'x.json: line 3, column 7: invalid JSON: unexpected end\nx.json: accesses[0].address: expected a hex string',
    );
    expect(new DocumentError([{ path: '', message: 'empty' }]).message).toBe('empty');
    expect(error.issues).toHaveLength(2);
  });

  it('spells JSON paths and values as the messages do', () => {
    expect(api.formatPath(['accesses', 2, 'cpl'])).toBe('accesses[2].cpl');
    expect(api.formatPath(['memory', 'not an identifier'])).toBe('memory["not an identifier"]');
    expect([
      api.describeValue(4),
      api.describeValue('x'),
      api.describeValue({}),
      api.describeValue(16n),
    ]).toEqual(['4', '"x"', 'an object', '0x10']);
  });
});

describe('TraceError', () => {
  it('names the file and line of a text trace, the byte offset and record of a binary one', () => {
    const text = new TraceError({ file: 'sort.lackey', line: 12 }, 'bad address');
    expect(text.message).toBe('sort.lackey:12: bad address');
    expect([text.file, text.line, text.offset, text.problem]).toEqual([
      'sort.lackey',
      12,
      undefined,
      'bad address',
    ]);
    const binary = new TraceError({ file: '<stdin>', offset: 4096, record: 63 }, 'truncated');
    expect(binary.message).toBe('<stdin> at byte 4096 (record 63): truncated');
  });

  it('shows bad bytes printable, escaped otherwise, cut at 60', () => {
    const bytes = new TextEncoder().encode('L a\t"\\');
    expect(api.quoteBytes(bytes, 0, bytes.length)).toBe('"L a\\t\\x22\\x5c"');
    const long = new Uint8Array(70).fill(0x41);
    expect(api.quoteBytes(long, 0, 70)).toBe(`"${'A'.repeat(60)}"...`);
  });
});

function readmeExample(): void {
  // README example begin
  const errors = [
    new DocumentError(
      [{ path: 'accesses[2].cpl', message: 'expected 0, 1, 2 or 3, got 4' }],
      'scenario.json',
    ),
    new TraceError({ file: 'sort.lackey', line: 12 }, 'unknown record kind "X"'),
  ];
  for (const error of errors) {
    if (error instanceof InputError) console.log(`${error.name} in ${error.source}: ${error.message}`);
  }
  // DocumentError in scenario.json: scenario.json: accesses[2].cpl: expected 0, 1, 2 or 3, got 4
  // TraceError in sort.lackey: sort.lackey:12: unknown record kind "X"
  // README example end
}

describe('describeFileError', () => {
  it("says what Node's file errors mean, without their code and syscall", async () => {
    const { readFile } = await import('node:fs/promises');
    const missing = await readFile('/no/such/hvsim/file').catch((error) => error);
    const directory = await readFile('/').catch((error) => error);
    expect(api.describeFileError(missing)).toBe('no such file or directory');
    expect(api.describeFileError(directory)).toBe('is a directory');
    expect(api.describeFileError(Object.assign(new Error('x'), { code: 'EACCES' }))).toBe(
      'permission denied',
    );
    // A code it does not know: the error's own message.
    expect(api.describeFileError(Object.assign(new Error('odd failure'), { code: 'EODD' }))).toBe(
      'odd failure',
    );
    expect(api.describeFileError('text')).toBe('text');
  });
});

describe('README', () => {
  it('opens with an example that runs and prints what it says', () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    readmeExample();
    log.mockRestore();
    expect(lines).toEqual([
      'DocumentError in scenario.json: scenario.json: accesses[2].cpl: expected 0, 1, 2 or 3, got 4',
      'TraceError in sort.lackey: sort.lackey:12: unknown record kind "X"',
    ]);
    expect(readmeProblems(import.meta.url, '@hvsim/errors', api)).toEqual([]);
    expect(undocumentedExports(import.meta.url)).toEqual([]);
  });
});
