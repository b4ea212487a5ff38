/**
 * Issue 18, item 1: the same bytes give the same answer however they arrive. Every format (lackey,
 * ChampSim, ChampSim CloudSuite, hvsim versions 1 and 2), raw, gzip and xz, valid and broken
 * (truncated, a bit flipped, a byte inserted): read whole, a byte at a time and in random chunk
 * sizes, the records are the same, or the error's message (file, line or byte offset, problem) is.
 */
import { execFileSync } from 'node:child_process';
import { brotliDecompressSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HvsimEncoder, openTrace, TraceError, type TraceFormat } from './index.js';
import {
  type CloudSuiteInstr,
  champSimBytes,
  chunked,
  cloudSuiteBytes,
  collect,
  type PlainRecord,
} from './traces.test-helper.js';

/** Runs scale with HVSIM_CHUNK_RUNS (a multiplier, default 1) for a longer search by hand. */
const SCALE = Math.max(1, Number(process.env.HVSIM_CHUNK_RUNS ?? 1) || 1);

const hasXz = (() => {
  try {
    execFileSync('xz', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function xz(bytes: Uint8Array, args: string[] = []): Uint8Array {
  return new Uint8Array(execFileSync('xz', ['-c', ...args], { input: bytes }));
}

/** Lackey text as valgrind writes it, from (kind, address, size) triples. */
function lackeyText(records: PlainRecord[], banner: boolean, repeat = 1): Uint8Array {
  const lines: string[] = banner
    ? ['==4242== Lackey, an example Valgrind tool', '==4242== Command: ./sort']
    : [];
  for (let k = 0; k < repeat; k++) {
    for (const r of records) {
      const address = r.address.toString(16).padStart(8, '0');
      lines.push(r.kind === 3 ? `I  ${address},${r.size}` : ` ${'LSM'[r.kind]} ${address},${r.size}`);
    }
  }
  if (banner) lines.push('==4242== ', '==4242== Counted 1 call to main()');
  return new Uint8Array(Buffer.from(`${lines.join('\n')}\n`, 'latin1'));
}

function hvsimV2(records: PlainRecord[], blockBytes: number): Uint8Array {
  const encoder = new HvsimEncoder({ blockBytes });
  for (const r of records)
    encoder.push(r.kind, Number(r.address & 0xffffffffn), Number(r.address >> 32n), r.size);
  encoder.finish();
  return encoder.takeBytes().slice();
}

/** The same records as version 1: the 12-byte header, the block records (brotli-decompressed here), the end marker. */
function hvsimV1(v2: Uint8Array): Uint8Array {
  const view = new DataView(v2.buffer, v2.byteOffset, v2.byteLength);
  const parts: Buffer[] = [];
  for (let at = 32; at < v2.length; ) {
    const compressed = view.getUint32(at, true);
    parts.push(brotliDecompressSync(v2.subarray(at + 8, at + 8 + compressed)));
    at += 8 + compressed;
  }
  let n = view.getBigUint64(12, true);
  const count: number[] = [];
  while (n >= 0x80n) {
    count.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  count.push(Number(n));
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x48, 0x56, 0x54, 0x52, 0x41, 0x43, 0x45, 1, 0, 0, 0]),
      ...parts,
      Buffer.from([0, ...count]),
    ]),
  );
}

const record = fc.record({
  kind: fc.integer({ min: 0, max: 3 }),
  address: fc.oneof(fc.bigInt({ min: 0n, max: 0xffffn }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
  size: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 600 })),
});

const champInstr = fc.record({
  ip: fc.bigInt({ min: 1n, max: (1n << 48n) - 1n }),
  isBranch: fc.integer({ min: 0, max: 1 }),
  sourceMemory: fc.array(fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), { maxLength: 4 }),
  destinationMemory: fc.array(fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), { maxLength: 2 }),
});

const cloudInstr = fc.record({
  ip: fc.bigInt({ min: 1n, max: (1n << 48n) - 1n }),
  isBranch: fc.integer({ min: 0, max: 1 }),
  sourceMemory: fc.array(fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), { maxLength: 4 }),
  destinationMemory: fc.array(fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), { maxLength: 4 }),
  asid: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })),
});

/** Content of one format, and the format to name (undefined: detected). */
const content: fc.Arbitrary<{ bytes: Uint8Array; format: TraceFormat | undefined }> = fc.oneof(
  fc
    .tuple(fc.array(record, { minLength: 1, maxLength: 80 }), fc.boolean())
    .map(([rs, banner]) => ({ bytes: lackeyText(rs, banner), format: undefined })),
  // Over the 8 KiB detection looks at, so its head spans chunks.
  fc
    .tuple(fc.array(record, { minLength: 1, maxLength: 20 }), fc.boolean(), fc.integer({ min: 20, max: 60 }))
    .map(([rs, banner, repeat]) => ({ bytes: lackeyText(rs, banner, repeat), format: undefined })),
  fc
    .array(champInstr, { minLength: 1, maxLength: 40 })
    .map((is) => ({ bytes: champSimBytes(is.map((i) => ({ ...i, taken: 0 }))), format: undefined })),
  fc.array(cloudInstr, { minLength: 1, maxLength: 30 }).map((is) => ({
    bytes: cloudSuiteBytes(is as CloudSuiteInstr[]),
    format: 'champsim-cloudsuite' as const,
  })),
  fc
    .tuple(fc.array(record, { minLength: 0, maxLength: 120 }), fc.integer({ min: 64, max: 512 }))
    .map(([rs, block]) => ({ bytes: hvsimV2(rs, block), format: undefined })),
  fc
    .array(record, { minLength: 0, maxLength: 120 })
    .map((rs) => ({ bytes: hvsimV1(hvsimV2(rs, 1 << 16)), format: undefined })),
  // Over 8 KiB: many records, so records straddle the reader's joins and its batches.
  fc
    .tuple(
      fc.array(record, { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 400, max: 1500 }),
      fc.boolean(),
    )
    .map(([rs, n, v1]) => {
      const many = Array.from({ length: n }, (_, i) => rs[i % rs.length]);
      const v2 = hvsimV2(many, 4096);
      return { bytes: v1 ? hvsimV1(v2) : v2, format: undefined };
    }),
  fc
    .tuple(fc.array(champInstr, { minLength: 1, maxLength: 10 }), fc.integer({ min: 130, max: 300 }))
    .map(([is, n]) => ({
      bytes: champSimBytes(Array.from({ length: n }, (_, i) => ({ ...is[i % is.length], taken: 0 }))),
      format: undefined,
    })),
);

type Mutation =
  | { kind: 'none' }
  | { kind: 'cut' | 'flip' | 'insert'; at: number; bit: number; byte: number }
  | { kind: 'run'; at: number; byte: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({
    kind: fc.constantFrom('cut' as const, 'flip' as const, 'insert' as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  // A long run of one byte: a line longer than lackey's bound, a head of garbage.
  fc.record({
    kind: fc.constant('run' as const),
    at: fc.nat(),
    byte: fc.constantFrom(0x20, 0x41, 0x31, 0x00, 0xff, 0x0a),
    length: fc.integer({ min: 100, max: 10_000 }),
  }),
);

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  if (m.kind === 'none' || bytes.length === 0) return bytes;
  const at = m.at % bytes.length;
  if (m.kind === 'cut') return bytes.slice(0, at);
  if (m.kind === 'flip') {
    const out = bytes.slice();
    out[at] ^= 1 << m.bit;
    return out;
  }
  const length = m.kind === 'run' ? m.length : 1;
  const out = new Uint8Array(bytes.length + length);
  out.set(bytes.subarray(0, at));
  out.fill(m.byte, at, at + length);
  out.set(bytes.subarray(at), at + length);
  return out;
}

/** What a reader gives: its records, or its error's message (which names the file and the place). */
async function outcome(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  format: TraceFormat | undefined,
  chunkBytes?: number,
  batchSize?: number,
): Promise<string> {
  try {
    const reader = openTrace(source, {
      name: 'in.trace',
      ...(format === undefined ? {} : { format }),
      ...(chunkBytes === undefined ? {} : { chunkBytes }),
      ...(batchSize === undefined ? {} : { batchSize }),
    });
    const { records } = await collect(reader);
    return `ok ${records.length}: ${records.map((r) => `${r.kind}:${r.address.toString(16)}:${r.size}`).join(' ')}`;
  } catch (error) {
    if (!(error instanceof TraceError)) throw error;
    expect(error.file).toBe('in.trace');
    return `error: ${error.message}`;
  }
}

/** Chunk sizes: one byte, a random cycle of small sizes, and whole (a Uint8Array source). */
const sizes = fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 6 });

async function sameInAnyChunking(
  bytes: Uint8Array,
  format: TraceFormat | undefined,
  cycle: number[],
): Promise<void> {
  // A stream in one chunk, a byte at a time, in the cycle of sizes.
  const whole = await outcome(chunked(bytes, [Math.max(1, bytes.length)]), format);
  expect(await outcome(chunked(bytes, [1]), format)).toBe(whole);
  // Small batches too: a batch's end must not change a record or an error.
  expect(await outcome(chunked(bytes, cycle), format, undefined, 64)).toBe(whole);
  // Bytes in memory (whose size the reader knows, so a short hvsim body fails before it is read),
  // whole and cut by the reader into small chunks.
  expect(await outcome(bytes, format, cycle[0])).toBe(await outcome(bytes, format));
}

describe('chunking never changes an answer', () => {
  it('raw: any format, valid or broken, reads the same in any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(content, mutation, sizes, async (c, m, cycle) => {
        await sameInAnyChunking(mutate(c.bytes, m), c.format, cycle);
      }),
      { numRuns: 300 * SCALE },
    );
  });

  it('gzip: any format, its content or its compressed bytes broken, reads the same in any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(content, mutation, fc.boolean(), sizes, async (c, m, broken, cycle) => {
        const bytes = broken ? mutate(gzipSync(c.bytes), m) : gzipSync(mutate(c.bytes, m));
        await sameInAnyChunking(bytes, c.format, cycle);
      }),
      { numRuns: 150 * SCALE },
    );
  });

  it.skipIf(!hasXz)(
    'xz: any format, its compressed bytes broken, reads the same in any chunking',
    async () => {
      // A few inputs compressed once each (xz is a program here), then broken many ways.
      const bases = fc
        .sample(content, { numRuns: 8, seed: 18 })
        .map((c) => ({ bytes: xz(c.bytes), format: c.format }));
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...bases), mutation, sizes, async (c, m, cycle) => {
          await sameInAnyChunking(mutate(c.bytes, m), c.format, cycle);
        }),
        { numRuns: 150 * SCALE },
      );
    },
  );
});

describe('detection accepts every lackey file the reader reads', () => {
  const lines = [
    '==12345== Lackey, an example Valgrind tool',
    "==12345== Copyright (C) 2002-2024, and GNU GPL'd, by Nicholas Nethercote et al.",
    '==12345== Command: ./a.out',
    '==12345== ',
    'I  04001100,3',
    ' S 1ffefffd88,8',
    ' L 04223e70,8',
    ' M 0422d0a0,4',
    'I  FFFFFFFFFF600000,5',
    ' L 7ff0001f0,512',
    '--12345-- WARNING: unhandled syscall',
    '**12345** internal error',
    '',
    '==12345== Counted 1 call to main()',
  ];
  const expected = [
    '3:4001100:3',
    '1:1ffefffd88:8',
    '0:4223e70:8',
    '2:422d0a0:4',
    '3:ffffffffff600000:5',
    // 512 bytes: four pieces of 128 (SPLIT_PIECE) touching the same bytes.
    '0:7ff0001f0:128',
    '0:7ff000270:128',
    '0:7ff0002f0:128',
    '0:7ff000370:128',
  ];

  it.each([
    ['as lackey writes it', `${lines.join('\n')}\n`],
    ['with CRLF line ends', `${lines.join('\r\n')}\r\n`],
    ['without the last newline', lines.slice(0, 9).join('\n')],
    ['one line without a newline', 'I  04001100,3'],
    ['with tabs and extra spaces', 'I\t04001100,3\n  S   1ffefffd88,8  \n\tL 04223e70,8\n M 0422d0a0,4\n'],
  ])('%s', async (_, text) => {
    const bytes = new Uint8Array(Buffer.from(text, 'latin1'));
    const got = await outcome(bytes, undefined);
    expect(got.startsWith('ok ')).toBe(true);
    for (const source of [chunked(bytes, [1]), chunked(bytes, [7])])
      expect(await outcome(source, undefined)).toBe(got);
  });

  it('reads the file as lackey writes it to the expected records', async () => {
    const bytes = new Uint8Array(Buffer.from(`${lines.join('\n')}\n`, 'latin1'));
    expect(await outcome(bytes, undefined)).toBe(`ok ${expected.length}: ${expected.join(' ')}`);
  });
});
