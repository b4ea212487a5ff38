import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { detectCompression, detectTraceFormat, HVSIM_MAGIC, openTrace, TraceError } from './index.js';
import {
  champSimBytes,
  collect,
  FIXTURE,
  fixtureText,
  knownChampSim,
  tempDir,
} from './traces.test-helper.js';

const dir = tempDir();
const text = fixtureText();
const XZ_FIXTURE = new URL('../fixtures/champsim-known.xz', import.meta.url).pathname;

async function failure(source: Parameters<typeof openTrace>[0], name?: string): Promise<TraceError> {
  const e = await collect(openTrace(source, name === undefined ? {} : { name })).catch((error) => error);
  expect(e).toBeInstanceOf(TraceError);
  return e as TraceError;
}

describe('detection', () => {
  it('tells compression by magic bytes and the format by content', () => {
    expect(detectCompression(readFileSync(FIXTURE))).toBe('gzip');
    expect(detectCompression(readFileSync(XZ_FIXTURE))).toBe('xz');
    expect(detectCompression(text)).toBeNull();
    expect(detectTraceFormat(text.subarray(0, 8192))).toBe('lackey');
    expect(detectTraceFormat(readFileSync(FIXTURE))).toBe('lackey'); // a gzip head is inflated
    expect(detectTraceFormat(readFileSync(XZ_FIXTURE))).toBeNull(); // xz only in the reader
    expect(detectTraceFormat(new Uint8Array([...HVSIM_MAGIC, 1, 0, 0, 0]))).toBe('hvsim');
    expect(detectTraceFormat(champSimBytes(knownChampSim().slice(0, 10)))).toBe('champsim');
  });

  it('finds nothing in text that is not lackey, or binary that is not ChampSim records', () => {
    expect(detectTraceFormat(Buffer.from('hello world\nthis is not a trace\n'))).toBeNull();
    expect(detectTraceFormat(Buffer.from('I  400000,4'))).toBeNull(); // no complete line
    // A record with is_branch = 7 is not ChampSim's; nor is a zero ip.
    const bad = champSimBytes([{ ip: 0x400000n, isBranch: 7 }]);
    expect(detectTraceFormat(bad)).toBeNull();
    expect(detectTraceFormat(new Uint8Array(128))).toBeNull();
    expect(detectTraceFormat(new Uint8Array(0))).toBeNull();
  });

  it('accepts banners with non-ASCII paths, as valgrind prints them', () => {
    const banner = Buffer.from('==7== Command: /home/zoë/sort\nI  400000,4\n', 'utf8');
    expect(detectTraceFormat(banner)).toBe('lackey');
  });
});

describe('sources and errors', () => {
  it('reports a missing file, a directory, an empty file and an unknown format clearly', async () => {
    const missing = join(dir, 'no-such.trace');
    expect((await failure(missing)).message).toBe(`${missing}: cannot read: no such file or directory`);
    expect((await failure(dir)).message).toMatch(/: cannot read: it is a directory$/);
    const empty = join(dir, 'empty.trace');
    writeFileSync(empty, '');
    expect((await failure(empty)).message).toBe(`${empty}: the trace is empty`);
    expect((await failure(Buffer.from('just some text\n'), 'x.txt')).message).toBe(
      'x.txt: unknown trace format: not hvsim (no magic), lackey text or ChampSim records; it starts with "just some text\\x0a"',
    );
    expect((await failure(gzipSync(Buffer.alloc(0)), 'e.gz')).message).toBe('e.gz: the trace is empty');
    // Random bytes (xorshift32): not text, no magic, and records with is_branch over 1.
    let x = 0x2545f491;
    const noise = new Uint8Array(100_000).map(() => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x & 0xff;
    });
    expect((await failure(noise, 'noise.bin')).message).toMatch(
      /^noise\.bin: unknown trace format: .* it starts with ".*\\x[0-9a-f]{2}/,
    );
  });

  it('reports truncated and corrupt gzip and xz data with the decompressed offset', async () => {
    const gz = readFileSync(FIXTURE);
    const cut = await failure(gz.subarray(0, gz.length - 100), 'cut.gz');
    expect(cut.message).toMatch(/^cut\.gz at byte \d+: gzip: unexpected end of file$/);
    const garbled = gz.slice();
    garbled.fill(0x55, 100, 400);
    expect((await failure(garbled, 'bad.gz')).message).toMatch(/^bad\.gz at byte \d+: gzip: /);
    const xz = readFileSync(XZ_FIXTURE);
    expect((await failure(xz.subarray(0, xz.length - 40), 'cut.xz')).message).toMatch(
      /^cut\.xz at byte \d+: xz: (truncated|corrupt) xz data/,
    );
    const xzGarbled = xz.slice();
    xzGarbled.fill(0xaa, 60, 200);
    expect((await failure(xzGarbled, 'bad.xz')).message).toMatch(/^bad\.xz at byte \d+: xz: /);
  });

  it('counts raw bytes against the raw total, for progress', async () => {
    const reader = openTrace(FIXTURE, { batchSize: 1024 });
    expect(reader.totalBytes).toBe(readFileSync(FIXTURE).length); // known before opening
    expect(openTrace(join(dir, 'no-such')).totalBytes).toBeNull();
    await reader.ready();
    const seen: number[] = [];
    for await (const _ of reader) seen.push(reader.bytesRead);
    expect(reader.totalBytes).toBe(readFileSync(FIXTURE).length);
    expect(seen.at(-1)).toBe(reader.totalBytes);
  });

  it('stops cleanly when the reader is closed or left early, and is iterated only once', async () => {
    const reader = openTrace(FIXTURE, { batchSize: 64 });
    expect(() => reader.format).toThrow(/await reader.ready\(\) first/);
    for await (const batch of reader) {
      expect(batch.length).toBe(64);
      break;
    }
    expect(reader.recordsRead).toBe(64);
    expect(() => reader[Symbol.asyncIterator]()).toThrow(/only once/);
    const other = openTrace(FIXTURE);
    await other.ready();
    await other.close();
    expect((await collect(other)).records).toEqual([]);
    expect(() => openTrace(FIXTURE, { batchSize: 10 })).toThrow(/at least 64/);
  });

  it('reads standard input given as -', () => {
    // A child process reads `-` from a pipe: the fixture, gzipped as shipped.
    const script = `
      import { openTrace } from '@hvsim/traces';
      const r = openTrace('-');
      let n = 0;
      for await (const b of r) n += b.length;
      console.log(r.format + ' ' + n + ' ' + r.bytesRead);
    `;
    const pkg = new URL('..', import.meta.url).pathname;
    mkdirSync(join(pkg, 'test-artifacts'), { recursive: true });
    const file = join(pkg, 'test-artifacts', 'stdin-check.mts');
    writeFileSync(file, script);
    const run = spawnSync(process.execPath, ['--conditions=@hvsim/source', '--import', 'tsx', file], {
      input: readFileSync(FIXTURE),
      cwd: pkg,
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe(`lackey 19994 ${readFileSync(FIXTURE).length}`);
  });
});
