import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLOUDSUITE_RECORD_BYTES,
  convertTrace,
  detectTraceFormat,
  openTrace,
  TraceError,
  TraceKind,
} from './index.js';
import {
  type CloudSuiteInstr,
  champSimBytes,
  chunked,
  cloudSuiteBytes,
  cloudSuiteRecords,
  collect,
  collectWithAsid,
  tempDir,
} from './traces.test-helper.js';

const dir = tempDir();
const format = 'champsim-cloudsuite' as const;

const chosen: CloudSuiteInstr[] = [
  { ip: 0x401000n, asid: [1, 1] },
  { ip: 0x401004n, sourceMemory: [0x7ffe00001000n], asid: [1, 1] },
  { ip: 0xffffffff81000000n, isBranch: 1, taken: 1, destinationMemory: [0x123456789abcdef0n], asid: [2, 2] },
  {
    ip: 0x401008n,
    sourceMemory: [0x10n, 0n, 0x20n, 0x30n],
    destinationMemory: [0x40n, 0x50n, 0n, 0x60n],
    asid: [1, 1],
  },
  { ip: 0x40100cn, isBranch: 1, destinationMemory: [0n, 0n, 0n, 0xffffffffffffffffn], asid: [3, 4] },
];

/** The chosen cases, then 3000 generated ones switching among ASIDs 0, 7 and 255 every 50. */
function known(): CloudSuiteInstr[] {
  const instrs = [...chosen];
  for (let i = 0; i < 3000; i++) {
    const asid = [0, 7, 255][Math.floor(i / 50) % 3] as number;
    instrs.push({
      ip: 0x500000n + BigInt(i * 4),
      sourceMemory: i % 3 === 0 ? [0x7fff0000n + BigInt(i * 8)] : [],
      destinationMemory: i % 5 === 0 ? [0n, 0x600000000n + BigInt(i * 16)] : [],
      isBranch: i % 7 === 0 ? 1 : 0,
      asid: [asid, asid],
    });
  }
  return instrs;
}

const knownInstrs = known();
const knownBytes = cloudSuiteBytes(knownInstrs);

/** Reading `bytes` whole, in chunks of 1 byte and of 7: the records, or the error's message, each time. */
async function threeWays(bytes: Uint8Array, name: string): Promise<unknown[]> {
  const sources = [bytes, chunked(bytes, [1]), chunked(bytes, [7])];
  return Promise.all(
    sources.map((source) =>
      collectWithAsid(openTrace(source, { format, name, batchSize: 64 })).catch((error: unknown) => {
        expect(error).toBeInstanceOf(TraceError);
        return (error as Error).message;
      }),
    ),
  );
}

describe('ChampSim CloudSuite traces', () => {
  it('turns each 96-byte record into its fetch (asid[0]), its loads and its stores (asid[1])', async () => {
    const records = await collectWithAsid(openTrace(cloudSuiteBytes(chosen), { format }));
    expect(records).toEqual([
      { kind: TraceKind.Fetch, address: 0x401000n, size: 4, asid: 1 },
      { kind: TraceKind.Fetch, address: 0x401004n, size: 4, asid: 1 },
      { kind: TraceKind.Load, address: 0x7ffe00001000n, size: 8, asid: 1 },
      { kind: TraceKind.Fetch, address: 0xffffffff81000000n, size: 4, asid: 2 },
      { kind: TraceKind.Store, address: 0x123456789abcdef0n, size: 8, asid: 2 },
      { kind: TraceKind.Fetch, address: 0x401008n, size: 4, asid: 1 },
      { kind: TraceKind.Load, address: 0x10n, size: 8, asid: 1 }, // source slot 1 is zero: unused
      { kind: TraceKind.Load, address: 0x20n, size: 8, asid: 1 },
      { kind: TraceKind.Load, address: 0x30n, size: 8, asid: 1 },
      { kind: TraceKind.Store, address: 0x40n, size: 8, asid: 1 },
      { kind: TraceKind.Store, address: 0x50n, size: 8, asid: 1 },
      { kind: TraceKind.Store, address: 0x60n, size: 8, asid: 1 }, // the fourth destination (SPARC's)
      { kind: TraceKind.Fetch, address: 0x40100cn, size: 4, asid: 3 },
      { kind: TraceKind.Store, address: 0xffffffffffffffffn, size: 8, asid: 4 },
    ]);
    expect(CLOUDSUITE_RECORD_BYTES).toBe(96);
  });

  it('gives the same records read whole, in chunks of 1 and of 7 bytes, from a file and gzipped', async () => {
    const expected = cloudSuiteRecords(knownInstrs);
    expect(await threeWays(knownBytes, 'known.cloudsuite')).toEqual([expected, expected, expected]);
    const path = join(dir, 'known.cloudsuite.gz');
    writeFileSync(path, gzipSync(knownBytes));
    const reader = openTrace(path, { format, chunkBytes: 1000 });
    expect(await reader.ready()).toBe(format);
    expect(await collectWithAsid(reader)).toEqual(expected);
  });

  it('names the file and byte offset of a truncated record, the same in any chunking', async () => {
    const cut = knownBytes.subarray(0, 5 * 96 + 50);
    const message =
      "cut.cloudsuite at byte 480 (record 5): truncated ChampSim CloudSuite trace: the last record has 50 of its 96 bytes (the content's size, 530 bytes, is not a multiple of 96)";
    expect(await threeWays(cut, 'cut.cloudsuite')).toEqual([message, message, message]);
  });

  it('rejects branch flags other than 0 and 1 at their byte, and garbage where its first record fails', async () => {
    const bad = knownBytes.slice(0, 10 * 96);
    bad[3 * 96 + 9] = 2; // branch_taken of record 3
    const message =
      'bad.cloudsuite at byte 297 (record 3): not a ChampSim CloudSuite record: branch_taken is 2, not 0 or 1';
    expect(await threeWays(bad, 'bad.cloudsuite')).toEqual([message, message, message]);

    // Pseudo-random bytes (a fixed LCG), 40 records' worth: the first record whose is_branch
    // (byte 8) or branch_taken (byte 9) is over 1 is the one named.
    const garbage = new Uint8Array(40 * 96);
    let x = 12345;
    for (let i = 0; i < garbage.length; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      garbage[i] = x >>> 16;
    }
    let r = 0;
    while ((garbage[r * 96 + 8] as number) <= 1 && (garbage[r * 96 + 9] as number) <= 1) r++;
    const at = (garbage[r * 96 + 8] as number) > 1 ? 8 : 9;
    const field = at === 8 ? 'is_branch' : 'branch_taken';
    const g = `garbage at byte ${r * 96 + at} (record ${r}): not a ChampSim CloudSuite record: ${field} is ${garbage[r * 96 + at]}, not 0 or 1`;
    expect(await threeWays(garbage, 'garbage')).toEqual([g, g, g]);
  });

  it('rejects original 64-byte records read as CloudSuite ones by their size', async () => {
    // 7 records with no memory operands: 448 bytes, 4 whole 96-byte records and 64 bytes over.
    const original = champSimBytes(Array.from({ length: 7 }, (_, i) => ({ ip: 0x401000n + BigInt(4 * i) })));
    const message =
      "original.champsim at byte 384 (record 4): truncated ChampSim CloudSuite trace: the last record has 64 of its 96 bytes (the content's size, 448 bytes, is not a multiple of 96)";
    expect(await threeWays(original, 'original.champsim')).toEqual([message, message, message]);
  });

  it('is never detected: content that fits it must have its format named', async () => {
    expect(detectTraceFormat(knownBytes.subarray(0, 8192))).toBeNull();
    await expect(collect(openTrace(knownBytes, { name: 'cs.trace' }))).rejects.toThrow(
      "cs.trace: the format must be named: these bytes fit ChampSim's CloudSuite records (96 bytes, with ASIDs), which are not detected, since their bytes cannot always be told from the original records'; give the format champsim-cloudsuite (hvsim: --format champsim-cloudsuite)",
    );
    // Original records each with a load in source_memory[0] and none in [1]: at a 96-byte stride
    // every other record starts at that load, a plausible ip, so 192 bytes fit both layouts.
    const both = champSimBytes(
      [0, 1, 2].map((i) => ({ ip: 0x401000n + BigInt(i), sourceMemory: [0x7000n] })),
    );
    expect(detectTraceFormat(both)).toBeNull();
    await expect(collect(openTrace(both, { name: 'both.trace' }))).rejects.toThrow(
      /both.trace: the format must be named: these bytes fit both ChampSim's original records \(64 bytes\) and its CloudSuite records \(96 bytes, with ASIDs\); give the format champsim or champsim-cloudsuite \(hvsim: --format champsim or --format champsim-cloudsuite\)/,
    );
    // Named, both layouts read it: three 64-byte records (6 accesses), or two 96-byte ones (their fields read across the 64-byte ones: 8).
    expect((await collect(openTrace(both, { format: 'champsim' }))).records).toHaveLength(6);
    expect(await collectWithAsid(openTrace(both, { format }))).toHaveLength(8);
  });

  it('is not converted to hvsim format, which has no ASIDs', async () => {
    const input = join(dir, 'convert.cloudsuite');
    writeFileSync(input, knownBytes);
    await expect(convertTrace(input, join(dir, 'out.hvt'), { format })).rejects.toThrow(
      /cannot convert a ChampSim CloudSuite trace: hvsim's format carries no ASIDs/,
    );
  });

  it('reads any records the same in any chunking, and fails a cut anywhere at the same byte', async () => {
    const address = fc.oneof(
      fc.constant(0n),
      fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
      fc.bigInt({ min: 1n, max: 0x1_0000n }),
    );
    const instr = fc.record({
      ip: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
      isBranch: fc.integer({ min: 0, max: 1 }),
      taken: fc.integer({ min: 0, max: 1 }),
      destinationMemory: fc.array(address, { maxLength: 4 }),
      sourceMemory: fc.array(address, { maxLength: 4 }),
      asid: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(instr, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 200 }),
        fc.nat(),
        async (instrs, cut, at) => {
          const bytes = cloudSuiteBytes(instrs);
          const expected = cloudSuiteRecords(instrs);
          const read = (source: Uint8Array | AsyncIterable<Uint8Array>) =>
            collectWithAsid(openTrace(source, { format, batchSize: 64 }));
          expect(await read(chunked(bytes, [cut, 1]))).toEqual(expected);
          // Cut inside a record: the partial record's offset, whatever the chunks.
          const length = at % bytes.length;
          if (length % 96 === 0) return;
          const partial = length - (length % 96);
          const want = new RegExp(`at byte ${partial} \\(record ${partial / 96}\\): truncated`);
          await expect(read(bytes.subarray(0, length))).rejects.toThrow(want);
          await expect(read(chunked(bytes.subarray(0, length), [cut, 7]))).rejects.toThrow(want);
        },
      ),
      { numRuns: 150 },
    );
  });
});
