import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CHAMPSIM_RECORD_BYTES, detectTraceFormat, openTrace, TraceError, TraceKind } from './index.js';
import {
  champSimBytes,
  champSimRecords,
  chunked,
  collect,
  knownChampSim,
  tempDir,
} from './traces.test-helper.js';

const dir = tempDir();
const known = knownChampSim();
const knownBytes = champSimBytes(known);
const expected = champSimRecords(known);

describe('ChampSim traces', () => {
  it('turns each record into its fetch, its loads and its stores', async () => {
    const { records } = await collect(openTrace(champSimBytes(known.slice(0, 5))));
    expect(records).toEqual([
      { kind: TraceKind.Fetch, address: 0x401000n, size: 4 },
      { kind: TraceKind.Fetch, address: 0x401004n, size: 4 },
      { kind: TraceKind.Load, address: 0x7ffe00001000n, size: 8 },
      { kind: TraceKind.Fetch, address: 0xffffffff81000000n, size: 4 },
      { kind: TraceKind.Store, address: 0x123456789abcdef0n, size: 8 },
      { kind: TraceKind.Fetch, address: 0x401008n, size: 4 },
      { kind: TraceKind.Load, address: 0x10n, size: 8 }, // source slot 1 is zero: unused
      { kind: TraceKind.Load, address: 0x20n, size: 8 },
      { kind: TraceKind.Load, address: 0x30n, size: 8 },
      { kind: TraceKind.Store, address: 0x40n, size: 8 },
      { kind: TraceKind.Store, address: 0x50n, size: 8 },
      { kind: TraceKind.Fetch, address: 0x40100cn, size: 4 },
      { kind: TraceKind.Store, address: 0xffffffffffffffffn, size: 8 },
    ]);
  });

  it('detects the format from the records, and reads a file in odd chunks and small batches', async () => {
    expect(detectTraceFormat(knownBytes.subarray(0, 4096))).toBe('champsim');
    const path = join(dir, 'known.champsim');
    writeFileSync(path, knownBytes);
    const reader = openTrace(path, { chunkBytes: 100, batchSize: 64 });
    const { records, batches } = await collect(reader);
    expect(reader.format).toBe('champsim');
    expect(records).toEqual(expected);
    expect(Math.max(...batches)).toBeLessThanOrEqual(64);
    expect((await collect(openTrace(chunked(knownBytes, [63, 1, 65, 200])))).records).toEqual(expected);
    expect((await collect(openTrace(chunked(knownBytes, [10_001, 9000])))).records).toEqual(expected);
  });

  it('reads gzip- and xz-compressed traces (the xz one made by the xz command)', async () => {
    const gz = join(dir, 'known.champsim.gz');
    writeFileSync(gz, gzipSync(knownBytes));
    expect((await collect(openTrace(gz))).records).toEqual(expected);
    const xz = new URL('../fixtures/champsim-known.xz', import.meta.url).pathname;
    const reader = openTrace(xz);
    expect(await reader.ready()).toBe('champsim');
    expect((await collect(reader)).records).toEqual(expected);
  });

  it('names the byte offset of a partial last record', async () => {
    const cut = knownBytes.subarray(0, 10 * CHAMPSIM_RECORD_BYTES + 20);
    const e = await collect(openTrace(cut, { name: 'cut.champsim' })).catch((error) => error);
    expect(e).toBeInstanceOf(TraceError);
    expect(e.message).toBe(
      "cut.champsim at byte 640 (record 10): truncated ChampSim trace: the last record has 20 of its 64 bytes (the content's size, 660 bytes, is not a multiple of 64)",
    );
    // Also when compressed, and when the partial record straddles chunks.
    const gzCut = gzipSync(knownBytes.subarray(0, 1000 * 64 + 63));
    await expect(collect(openTrace(gzCut, { format: 'champsim', chunkBytes: 4096 }))).rejects.toThrow(
      /at byte 64000 \(record 1000\): truncated ChampSim trace: the last record has 63 of its 64 bytes/,
    );
  });
});
