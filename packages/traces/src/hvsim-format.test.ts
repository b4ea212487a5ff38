import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
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

function encode(records: PlainRecord[]): Uint8Array {
  const encoder = new HvsimEncoder(64);
  for (const r of records) {
    encoder.push(r.kind, Number(r.address & 0xffffffffn), Number(r.address >> 32n), r.size);
  }
  encoder.finish();
  return encoder.takeBytes().slice();
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').replace(/(..)/g, '$1 ').trim();
}

describe('hvsim format', () => {
  it('writes the README example byte for byte', () => {
    // Worked out by hand in the README's spec: header, then fetch 3 @0x401000, load 8 @0x7ff0,
    // store 8 @0x7fe8, then the end marker with 3 records.
    const bytes = encode([
      { kind: TraceKind.Fetch, address: 0x401000n, size: 3 },
      { kind: TraceKind.Load, address: 0x7ff0n, size: 8 },
      { kind: TraceKind.Store, address: 0x7fe8n, size: 8 },
    ]);
    expect(hex(bytes)).toBe('89 48 56 54 52 41 43 45 01 00 00 00 0f 80 c0 80 04 20 e0 ff 03 21 0f 00 03');
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
        async (records, cut) => {
          const bytes = encode(records);
          const { records: back } = await collect(openTrace(chunked(bytes, [cut, 3]), { batchSize: 64 }));
          expect(back).toEqual(records);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('converts the lackey fixture, and reads back the same records in a much smaller file', async () => {
    const out = join(dir, 'sort.hvt');
    const result = await convertTrace(FIXTURE, out);
    const lackey = naiveLackey(fixtureText().toString('latin1'));
    expect(result).toEqual({ records: lackey.length, bytes: readFileSync(out).length, format: 'lackey' });
    expect(result.bytes * 4).toBeLessThan(fixtureText().length);
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

describe('broken hvsim traces', () => {
  const good = encode(naiveLackey(fixtureText().toString('latin1')).slice(0, 500));

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
    expect((await failure(bad(8, 2))).message).toMatch(/version 2 is not supported/);
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
    await expect(convertTrace(FIXTURE, join(sub, 'no-such-dir', 'out.hvt'))).rejects.toThrow(/cannot write/);
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
