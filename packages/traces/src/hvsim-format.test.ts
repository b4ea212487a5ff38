import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, crc32, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convertTrace, HvsimEncoder, openTrace, TraceError, TraceKind } from './index.js';
import {
  champSimBytes,
  champSimRecords,
  chunked,
  collect,
  FIXTURE,
  fixtureText,
  knownChampSim,
  naiveLackey,
  type PlainRecord,
  tempDir,
} from './traces.test-helper.js';

const dir = tempDir();

function encode(records: PlainRecord[], blockBytes?: number): Uint8Array {
  const encoder = new HvsimEncoder(blockBytes === undefined ? {} : { blockBytes });
  for (const r of records) {
    encoder.push(r.kind, Number(r.address & 0xffffffffn), Number(r.address >> 32n), r.size);
  }
  encoder.finish();
  return encoder.takeBytes().slice();
}

/**
 * A version-2 file's fields read as the README lays them out (u64 and u32 little-endian), and its
 * blocks decompressed with node:zlib's brotli: the test's own reading, not the package's.
 */
function unpack(bytes: Uint8Array): {
  version: number;
  compression: number;
  flags: number;
  records: bigint;
  body: bigint;
  crc: number;
  blocks: { at: number; compressed: number; recordBytes: number }[];
  recordBytes: Buffer;
} {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blocks: { at: number; compressed: number; recordBytes: number }[] = [];
  const parts: Buffer[] = [];
  for (let at = 32; at < bytes.length; ) {
    const compressed = view.getUint32(at, true);
    const recordBytes = view.getUint32(at + 4, true);
    blocks.push({ at, compressed, recordBytes });
    parts.push(brotliDecompressSync(bytes.subarray(at + 8, at + 8 + compressed)));
    at += 8 + compressed;
  }
  return {
    version: view.getUint16(8, true),
    compression: bytes[10],
    flags: bytes[11],
    records: view.getBigUint64(12, true),
    body: view.getBigUint64(20, true),
    crc: view.getUint32(28, true),
    blocks,
    recordBytes: Buffer.concat(parts),
  };
}

/** The same records as a version-1 file: its 12-byte header, the records, the end marker with the count. */
function toVersion1(bytes: Uint8Array): Uint8Array {
  const { records, recordBytes } = unpack(bytes);
  const count: number[] = [];
  let n = records;
  while (n >= 0x80n) {
    count.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  count.push(Number(n));
  // A Uint8Array, not a Buffer: the tests change copies made with slice(), which on a Buffer is a view.
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x48, 0x56, 0x54, 0x52, 0x41, 0x43, 0x45, 1, 0, 0, 0]),
      recordBytes,
      Buffer.from([0, ...count]),
    ]),
  );
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').replace(/(..)/g, '$1 ').trim();
}

describe('hvsim format', () => {
  const example = [
    { kind: TraceKind.Fetch, address: 0x401000n, size: 3 },
    { kind: TraceKind.Load, address: 0x7ff0n, size: 8 },
    { kind: TraceKind.Store, address: 0x7fe8n, size: 8 },
  ];

  it('writes the README example: its header fields, and its records byte for byte once decompressed', () => {
    // Worked out by hand in the README's spec: fetch 3 @0x401000, load 8 @0x7ff0, store 8 @0x7fe8.
    const bytes = encode(example);
    expect(hex(bytes.subarray(0, 12))).toBe('89 48 56 54 52 41 43 45 02 00 01 00');
    const file = unpack(bytes);
    expect(file).toMatchObject({ version: 2, compression: 1, flags: 0, records: 3n });
    expect(file.body).toBe(BigInt(bytes.length - 32));
    expect(file.crc).toBe(crc32(bytes.subarray(32)));
    expect(file.blocks).toHaveLength(1);
    expect(hex(file.recordBytes)).toBe('0f 80 c0 80 04 20 e0 ff 03 21 0f');
  });

  it('still reads version 1, the README example byte for byte', async () => {
    const v1 = Buffer.from('894856545241434501000000' + '0f80c08004' + '20e0ff03' + '210f' + '0003', 'hex');
    expect((await collect(openTrace(v1))).records).toEqual(example);
    expect(hex(toVersion1(encode(example)))).toBe(hex(v1));
  });

  it('tells a reader how many records there are, from the header, once the first batch is read', async () => {
    const records = naiveLackey(fixtureText().toString('latin1'));
    const reader = openTrace(encode(records), { batchSize: 1000 });
    expect(reader.totalRecords).toBeNull();
    const seen: Array<[number, number | null]> = [];
    for await (const batch of reader) seen.push([reader.recordsRead + batch.length, reader.totalRecords]);
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.every(([, total]) => total === records.length)).toBe(true);
    // Version 1 and lackey text do not say.
    const old = openTrace(toVersion1(encode(records)));
    await collect(old);
    expect(old.totalRecords).toBeNull();
    const text = openTrace(FIXTURE);
    await collect(text);
    expect(text.totalRecords).toBeNull();
  });

  it('an empty trace is a header alone, and reads as no records', async () => {
    const bytes = encode([]);
    expect(bytes.length).toBe(32);
    expect(unpack(bytes)).toMatchObject({ records: 0n, body: 0n, crc: 0 });
    expect((await collect(openTrace(bytes))).records).toEqual([]);
  });

  it('returns the header from finish, to write over the placeholder when bytes were taken before', async () => {
    const encoder = new HvsimEncoder({ blockBytes: 4 });
    const parts: Uint8Array[] = [];
    for (const r of example) {
      encoder.push(r.kind, Number(r.address), 0, r.size);
      parts.push(encoder.takeBytes().slice());
    }
    const header = encoder.finish();
    parts.push(encoder.takeBytes().slice());
    const bytes = Buffer.concat(parts);
    expect(unpack(bytes).records).toBe(0n); // the placeholder
    bytes.set(header, 0);
    expect(unpack(bytes).blocks.length).toBeGreaterThan(1);
    expect((await collect(openTrace(bytes))).records).toEqual(example);
  });

  it('round-trips any records: 64-bit deltas both ways, sizes inline and explicit', async () => {
    const record = fc.record({
      kind: fc.integer({ min: 0, max: 3 }),
      address: fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 0x10000n })),
      size: fc.integer({ min: 1, max: 255 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { maxLength: 200 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 300 }),
        async (records, cut, blockBytes) => {
          const bytes = encode(records, blockBytes);
          const { records: back } = await collect(openTrace(chunked(bytes, [cut, 3]), { batchSize: 64 }));
          expect(back).toEqual(records);
          const old = await collect(openTrace(chunked(toVersion1(bytes), [cut, 3]), { batchSize: 64 }));
          expect(old.records).toEqual(records);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('converts the lackey fixture, and reads back the same records in a file smaller than the gzipped text', async () => {
    const out = join(dir, 'sort.hvt');
    const result = await convertTrace(FIXTURE, out);
    const lackey = naiveLackey(fixtureText().toString('latin1'));
    expect(result).toEqual({ records: lackey.length, bytes: readFileSync(out).length, format: 'lackey' });
    expect(result.bytes).toBeLessThan(gzipSync(fixtureText(), { level: 9 }).length);
    expect(unpack(readFileSync(out)).records).toBe(BigInt(lackey.length));
    const reader = openTrace(out);
    expect(await reader.ready()).toBe('hvsim');
    expect((await collect(reader)).records).toEqual(lackey);
    // And gzipped.
    writeFileSync(`${out}.gz`, gzipSync(readFileSync(out)));
    expect((await collect(openTrace(`${out}.gz`, { chunkBytes: 1000 }))).records).toEqual(lackey);
    const hvt = readFileSync(out);
    expect((await collect(openTrace(chunked(hvt, [9000, 8193]), { batchSize: 100 }))).records).toEqual(
      lackey,
    );
  });

  it('converts ChampSim records, and lackey accesses over 255 bytes as their pieces', async () => {
    const out = join(dir, 'champsim.hvt');
    const known = knownChampSim();
    await convertTrace(champSimBytes(known), out);
    expect((await collect(openTrace(out))).records).toEqual(champSimRecords(known));
    const big = join(dir, 'big.hvt');
    expect(await convertTrace(Buffer.from(' S 1000,300\n'), big)).toMatchObject({ records: 3 });
  });

  it('converts a version-1 file to version 2, the same records', async () => {
    const lackey = naiveLackey(fixtureText().toString('latin1'));
    const old = join(dir, 'old.hvt');
    writeFileSync(old, toVersion1(encode(lackey)));
    const out = join(dir, 'new.hvt');
    expect(await convertTrace(old, out)).toMatchObject({ records: lackey.length, format: 'hvsim' });
    expect(unpack(readFileSync(out)).version).toBe(2);
    expect((await collect(openTrace(out))).records).toEqual(lackey);
  });

  it('reads explicit sizes up to 4096 written by the encoder as pieces', async () => {
    const bytes = encode([{ kind: TraceKind.Load, address: 0x10n, size: 300 }]);
    const { records } = await collect(openTrace(bytes));
    expect(records).toEqual([
      { kind: TraceKind.Load, address: 0x10n, size: 128 },
      { kind: TraceKind.Load, address: 0x90n, size: 128 },
      { kind: TraceKind.Load, address: 0x110n, size: 44 },
    ]);
  });
});

/** A version-2 file of the given record bytes in one block, built by the test (brotli from node:zlib). */
function pack(recordBytes: Uint8Array, records: number): Buffer {
  const data = brotliCompressSync(recordBytes);
  const block = Buffer.alloc(8 + data.length);
  block.writeUInt32LE(data.length, 0);
  block.writeUInt32LE(recordBytes.length, 4);
  block.set(data, 8);
  const header = Buffer.alloc(32);
  header.set([0x89, 0x48, 0x56, 0x54, 0x52, 0x41, 0x43, 0x45, 2, 0, 1, 0]);
  header.writeBigUInt64LE(BigInt(records), 12);
  header.writeBigUInt64LE(BigInt(block.length), 20);
  header.writeUInt32LE(crc32(block), 28);
  return Buffer.concat([header, block]);
}

describe('broken hvsim traces, version 2', () => {
  const records = naiveLackey(fixtureText().toString('latin1')).slice(0, 500);
  const good = encode(records, 300);
  const file = join(tempDir(), 'broken.hvt');

  async function failure(bytes: Uint8Array, chunk = 1 << 20): Promise<TraceError> {
    const e = await collect(openTrace(chunked(bytes, [chunk]), { name: 't.hvt', format: 'hvsim' })).catch(
      (error) => error,
    );
    expect(e).toBeInstanceOf(TraceError);
    return e as TraceError;
  }

  /** The error reading `bytes` from a file, whose size the reader knows. */
  async function fileFailure(bytes: Uint8Array): Promise<TraceError> {
    writeFileSync(file, bytes);
    const e = await collect(openTrace(file)).catch((error) => error);
    expect(e).toBeInstanceOf(TraceError);
    return e as TraceError;
  }

  const bad = (at: number, value: number): Uint8Array => {
    const copy = good.slice();
    copy[at] = value;
    return copy;
  };

  it('has several blocks to break', () => {
    expect(unpack(good).blocks.length).toBeGreaterThan(2);
  });

  it('rejects a file cut anywhere, even at a block boundary, naming the byte', async () => {
    const second = unpack(good).blocks[1].at;
    for (const cut of [12, 20, 31, 32, 35, 40, second, second + 9, good.length - 1]) {
      const e = await failure(good.subarray(0, cut), 7);
      expect(e.message).toMatch(new RegExp(`^t\\.hvt at byte ${cut}: truncated: `));
      expect(e.offset).toBe(cut);
    }
    // From a file, before any record is read: the header says how long the blocks are.
    const cut = good.length - 10;
    const e = await fileFailure(good.subarray(0, cut));
    expect(e.message).toBe(
      `${file} at byte ${cut}: truncated: the header says ${good.length - 32} bytes of blocks follow it, the file ends after ${cut - 32}`,
    );
  });

  it('rejects a bad magic, another version, an unknown compression or flags', async () => {
    expect((await failure(bad(1, 0x41))).message).toBe('t.hvt at byte 1: not an hvsim trace (bad magic)');
    expect((await failure(bad(8, 3))).message).toBe(
      't.hvt at byte 8: hvsim trace version 3 is not supported (this reader knows versions 1 and 2)',
    );
    expect((await failure(bad(10, 2))).message).toBe(
      't.hvt at byte 10: unknown compression 2 (version 2 knows 1, brotli)',
    );
    expect((await failure(bad(11, 1))).message).toBe(
      't.hvt at byte 11: unknown header flags 0x1 (version 2 has none)',
    );
  });

  it('rejects a wrong record count, naming the header field', async () => {
    const e = await failure(bad(12, 501 & 0xff));
    expect(e.message).toBe('t.hvt at byte 12: the header counts 501 records but the blocks hold 500');
  });

  it('rejects a wrong checksum before handing on the last block', async () => {
    const wrong = good.slice();
    wrong[28] ^= 0x01;
    expect((await failure(wrong)).message).toMatch(
      /^t\.hvt at byte 28: checksum mismatch: the header says CRC-32 0x[0-9a-f]{8}, the \d+ bytes of blocks give 0x[0-9a-f]{8}: the file is corrupt$/,
    );
    // A changed byte of compressed data: the block does not decompress, or the checksum disagrees.
    const last = unpack(good).blocks.at(-1)!;
    let delivered = 0;
    for (let at = last.at + 8; at < good.length; at++) {
      const copy = good.slice();
      copy[at] ^= 0x10;
      const reader = openTrace(copy, { name: 't.hvt', batchSize: 64 });
      const e = await (async () => {
        for await (const b of reader) delivered = Math.max(delivered, reader.recordsRead + b.length);
      })().catch((error) => error);
      expect(e).toBeInstanceOf(TraceError);
      expect((e as Error).message).toMatch(
        /^t\.hvt at byte \d+: (checksum mismatch|the block does not decompress|the block decompresses to)/,
      );
    }
    // The last block's records never reached the consumer.
    expect(delivered).toBeLessThan(500);
  });

  it('rejects data after the last block, and blocks whose lengths do not fit', async () => {
    const extra = Buffer.concat([good, Buffer.from([0x0f, 0x01])]);
    expect((await failure(extra)).message).toBe(
      `t.hvt at byte ${good.length}: data after the last block (the header says ${good.length - 32} bytes of blocks)`,
    );
    expect((await fileFailure(extra)).message).toMatch(
      new RegExp(`at byte ${good.length}: 2 bytes after the last block`),
    );
    const overrun = good.slice();
    overrun[32 + 3] = 0x7f;
    expect((await failure(overrun)).message).toMatch(
      /^t\.hvt at byte 32: a block of \d+ compressed bytes: more than the \d+ left/,
    );
    const claims = good.slice();
    claims[32 + 4] ^= 0x01;
    expect((await failure(claims)).message).toMatch(
      /^t\.hvt at byte 36: the block decompresses to \d+ bytes, its header says \d+/,
    );
  });

  it('checks the records inside the blocks as version 1 does', async () => {
    expect((await failure(pack(Buffer.from([0x00, 0x03]), 0))).message).toBe(
      't.hvt at byte 32 (record 0): reserved tag 0x00 (version 2 has no end marker)',
    );
    expect((await failure(pack(Buffer.from([0x0f, 0x80]), 1))).message).toMatch(
      /^t\.hvt at byte 34: truncated: the file ends inside a record/,
    );
    expect((await failure(pack(Buffer.from([0xfc, 0x00, 0x81, 0x40]), 1))).message).toMatch(
      /access size 8193 out of range 1\.\.4096/,
    );
    expect((await collect(openTrace(pack(Buffer.from([0x0f, 0x08]), 1)))).records).toEqual([
      { kind: TraceKind.Fetch, address: 4n, size: 3 },
    ]);
  });
});

describe('broken hvsim traces, version 1', () => {
  const good = toVersion1(encode(naiveLackey(fixtureText().toString('latin1')).slice(0, 500)));

  async function failure(bytes: Uint8Array, chunk = 1 << 20): Promise<TraceError> {
    const e = await collect(openTrace(chunked(bytes, [chunk]), { name: 't.hvt', format: 'hvsim' })).catch(
      (error) => error,
    );
    expect(e).toBeInstanceOf(TraceError);
    return e as TraceError;
  }

  it('rejects a file cut anywhere, even at a record boundary', async () => {
    for (const cut of [0, 5, 12, 13, 100, good.length - 3, good.length - 1]) {
      const e = await failure(good.subarray(0, cut), 7);
      expect(e.message).toMatch(/^t\.hvt at byte \d+.*: (too short|truncated)/);
    }
  });

  it('rejects a bad magic, another version, unknown flags, reserved tags', async () => {
    const bad = (at: number, value: number): Uint8Array => {
      const copy = good.slice();
      copy[at] = value;
      return copy;
    };
    expect((await failure(bad(1, 0x41))).message).toBe('t.hvt at byte 1: not an hvsim trace (bad magic)');
    expect((await failure(bad(8, 3))).message).toMatch(/version 3 is not supported/);
    expect((await failure(bad(10, 1))).message).toMatch(/unknown header flags 0x1/);
    expect((await failure(bad(12, 0x02))).message).toMatch(/at byte 12 \(record 0\): reserved tag 0x02/);
  });

  it('rejects a wrong record count, data after the end, an overlong varint, a size over 4096', async () => {
    const wrongCount = good.slice();
    wrongCount[wrongCount.length - 1] ^= 1;
    expect((await failure(wrongCount)).message).toMatch(
      /the end marker counts \d+ records but the file has 500/,
    );
    const extra = Buffer.concat([good, Buffer.from([0x0f, 0x01])]);
    expect((await failure(extra)).message).toMatch(/data after the end marker/);
    expect((await failure(extra, 50)).message).toMatch(/data after the end marker/);
    const header = good.subarray(0, 12);
    const long = Buffer.concat([
      header,
      Buffer.from([0x0f, ...new Array(11).fill(0xff), 0x01]),
      new Uint8Array(20),
    ]);
    expect((await failure(long)).message).toMatch(
      /at byte 12 \(record 0\): varint (longer than 10 bytes|over 64 bits)/,
    );
    const huge = Buffer.concat([header, Buffer.from([0xfc | 0, 0x00, 0x81, 0x40]), new Uint8Array(20)]);
    expect((await failure(huge)).message).toMatch(/access size 8193 out of range 1\.\.4096/);
  });

  it('leaves no output and no temporary file when a conversion fails', async () => {
    const sub = tempDir();
    const out = join(sub, 'out.hvt');
    await expect(convertTrace(Buffer.from('I  400000,4\nI  zz,4\n'), out)).rejects.toThrow(TraceError);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(sub)).toEqual([]);
    await expect(convertTrace(FIXTURE, join(sub, 'no-such-dir', 'out.hvt'))).rejects.toThrow(
      `${join(sub, 'no-such-dir', 'out.hvt')}: cannot write: the folder ${join(sub, 'no-such-dir')} does not exist`,
    );
    // An output that is a folder: said before anything is read or written.
    await expect(convertTrace(join(sub, 'no-input.lackey'), sub)).rejects.toThrow(
      `${sub}: cannot write: it is a directory`,
    );
    await expect(convertTrace(join(sub, 'no-input.lackey'), join(sub, 'out.hvt'))).rejects.toThrow(
      `${join(sub, 'no-input.lackey')}: cannot read: no such file or directory`,
    );
    expect(readdirSync(sub)).toEqual([]);
  });
});

describe('the hvsim encoder', () => {
  it('refuses records the format cannot hold', () => {
    const encoder = new HvsimEncoder();
    expect(() => encoder.push(TraceKind.Load, 0, 0, 0)).toThrow(RangeError);
    expect(() => encoder.push(TraceKind.Load, 0, 0, 4097)).toThrow(/size 4097/);
    expect(() => encoder.push(4, 0, 0, 8)).toThrow(/kind 4/);
    expect(encoder.records).toBe(0);
  });
});
