import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openTrace, TraceError, TraceKind } from './index.js';
import { chunked, collect, FIXTURE, fixtureText, naiveLackey, tempDir } from './traces.test-helper.js';

const text = fixtureText();
const expected = naiveLackey(text.toString('latin1'));
const dir = tempDir();

function bytes(s: string): Uint8Array {
  return Buffer.from(s, 'latin1');
}

describe('lackey traces', () => {
  it('reads the shipped trace of sort (valgrind lackey) as the naive parser does', async () => {
    const reader = openTrace(FIXTURE);
    const { records } = await collect(reader);
    expect(reader.format).toBe('lackey');
    // Counted with awk on the fixture: 16653 I, 3151 L, 170 S, 20 M lines; 19994 in all.
    expect(records.length).toBe(19994);
    expect(records.filter((r) => r.kind === TraceKind.Fetch).length).toBe(16653);
    expect(records.filter((r) => r.kind === TraceKind.Load).length).toBe(3151);
    expect(records.filter((r) => r.kind === TraceKind.Store).length).toBe(170);
    expect(records.filter((r) => r.kind === TraceKind.Modify).length).toBe(20);
    expect(records).toEqual(expected);
    expect(reader.recordsRead).toBe(19994);
    expect(reader.totalBytes).toBe(reader.bytesRead);
  });

  it('reads the same from a plain file, from bytes and from a Node stream', async () => {
    const path = join(dir, 'sort.lackey');
    writeFileSync(path, text);
    expect((await collect(openTrace(path))).records).toEqual(expected);
    expect((await collect(openTrace(new Uint8Array(text)))).records).toEqual(expected);
    expect((await collect(openTrace(Readable.from([text])))).records).toEqual(expected);
  });

  it('gives the same records whatever the chunk boundaries and batch size', async () => {
    // Chunks of 1, 7, 13 and 5000 bytes split lines everywhere, including inside the address.
    const reader = openTrace(chunked(text, [1, 7, 13, 5000, 3]), { batchSize: 64 });
    const { records, batches } = await collect(reader);
    expect(records).toEqual(expected);
    expect(Math.max(...batches)).toBeLessThanOrEqual(64);
    // Chunks bigger than the joining window (8 KiB), so a split line joins only a chunk's start.
    const big = await collect(openTrace(chunked(text, [10_007, 9001, 20_000]), { batchSize: 1000 }));
    expect(big.records).toEqual(expected);
    // Tiny file chunks too, gzipped and not.
    const gz = join(dir, 'tiny-chunks.lackey.gz');
    writeFileSync(gz, gzipSync(text));
    expect((await collect(openTrace(gz, { chunkBytes: 17, batchSize: 100 }))).records).toEqual(expected);
  });

  it('parses addresses up to 64 bits into halves, and any spacing or CRLF', async () => {
    const input = [
      '==1== banner',
      '--1-- a valgrind warning',
      '**1** valgrind: an internal error message',
      '',
      'I  04016c0,3',
      ' L 1ffefffd88,8', // hi 0x1f, lo 0xfefffd88
      ' S ffffffffffffffff,1',
      ' M 0,4',
      '\tL   DEADBEEFcafe0001,2\r',
      'I 10,15',
      '',
    ].join('\n');
    const { records } = await collect(openTrace(bytes(input)));
    expect(records).toEqual([
      { kind: TraceKind.Fetch, address: 0x4016c0n, size: 3 },
      { kind: TraceKind.Load, address: 0x1ffefffd88n, size: 8 },
      { kind: TraceKind.Store, address: 0xffffffffffffffffn, size: 1 },
      { kind: TraceKind.Modify, address: 0n, size: 4 },
      { kind: TraceKind.Load, address: 0xdeadbeefcafe0001n, size: 2 },
      { kind: TraceKind.Fetch, address: 0x10n, size: 15 },
    ]);
  });

  it('cuts accesses over 255 bytes into 128-byte records over the same bytes', async () => {
    // A 512-byte FXSAVE-like store at 0xfffffff0 (its pieces carry into the high half) and 300 bytes.
    const { records } = await collect(
      openTrace(bytes(' S fffffff0,512\n L 1000,300\n'), { format: 'lackey' }),
    );
    expect(records).toEqual([
      { kind: TraceKind.Store, address: 0xfffffff0n, size: 128 },
      { kind: TraceKind.Store, address: 0x100000070n, size: 128 },
      { kind: TraceKind.Store, address: 0x1000000f0n, size: 128 },
      { kind: TraceKind.Store, address: 0x100000170n, size: 128 },
      { kind: TraceKind.Load, address: 0x1000n, size: 128 },
      { kind: TraceKind.Load, address: 0x1080n, size: 128 },
      { kind: TraceKind.Load, address: 0x1100n, size: 44 },
    ]);
  });

  it('keeps pieces of a large access together when the batch fills', async () => {
    // 62 fetches, then a 512-byte store (4 records) that does not fit in the 64: it starts the next.
    const lines = `${'I  400000,4\n'.repeat(62)} S 1000,512\n`;
    const { records, batches } = await collect(openTrace(bytes(lines), { batchSize: 64 }));
    expect(records.length).toBe(66);
    expect(batches).toEqual([62, 4]);
  });

  it('reads a last line without its newline when it is complete', async () => {
    const { records } = await collect(openTrace(bytes('I  400000,4\n L 1000,8')));
    expect(records.map((r) => r.address)).toEqual([0x400000n, 0x1000n]);
  });
});

describe('broken lackey traces', () => {
  async function failure(input: string | Uint8Array, name = 'bad.lackey'): Promise<TraceError> {
    const source = typeof input === 'string' ? bytes(input) : input;
    try {
      await collect(openTrace(source, { name, format: 'lackey', batchSize: 64 }));
    } catch (error) {
      expect(error).toBeInstanceOf(TraceError);
      return error as TraceError;
    }
    throw new Error('expected a TraceError');
  }

  it('names the file, the line and the text of a bad hex address', async () => {
    const e = await failure('I  400000,4\nI  04zz16c0,3\n');
    expect(e.message).toBe(`bad.lackey:2: expected ',' and a size after the address: "I  04zz16c0,3"`);
    expect(e.line).toBe(2);
  });

  it('rejects addresses over 64 bits, missing or zero sizes, unknown kinds', async () => {
    expect((await failure(' L 10000000000000000,8\n')).message).toMatch(
      /:1: address has more than 16 hex digits/,
    );
    expect((await failure('I  400000\n')).message).toMatch(/:1: expected ',' and a size/);
    expect((await failure('I  400000,\n')).message).toMatch(/:1: expected a decimal size/);
    expect((await failure('I  400000,0\n')).message).toMatch(/:1: size 0/);
    expect((await failure('I  400000,5000\n')).message).toMatch(/:1: size 5000 over 4096 bytes/);
    expect((await failure('\n\n X 400000,4\n')).message).toMatch(/:3: not a lackey line/);
    expect((await failure('I  400000,4 junk\n')).message).toMatch(/unexpected text after the size/);
    expect((await failure('==12 not valgrind\n')).message).toMatch(/:1: not a lackey line/);
  });

  it('says a last line cut in the middle is truncated, naming it', async () => {
    const e = await failure('I  400000,4\n L 1ffefff');
    expect(e.message).toBe(
      `bad.lackey:2: expected ',' and a size after the address (the file ends inside this line: truncated?): " L 1ffefff"`,
    );
  });

  it('stops on binary garbage read as lackey, quoting it escaped and cut', async () => {
    const garbage = new Uint8Array(10_000).map((_, i) => (i * 73 + 11) & 0xff);
    const e = await failure(garbage, 'garbage.bin');
    expect(e.file).toBe('garbage.bin');
    expect(e.message).toMatch(/^garbage\.bin:1: /);
    expect(e.message.length).toBeLessThan(400);
  });

  it('rejects a line longer than 4096 bytes without reading on', async () => {
    const e = await failure(`I  ${'0'.repeat(10_000)}`);
    expect(e.message).toMatch(/line too long/);
  });

  it('names the line of an error in a later chunk', async () => {
    const good = 'I  400000,4\n'.repeat(1000);
    const source = chunked(bytes(`${good}I  4000zz,4\n`), [4096]);
    await expect(collect(openTrace(source, { name: 'big.lackey' }))).rejects.toThrow(/^big\.lackey:1001: /);
  });
});
