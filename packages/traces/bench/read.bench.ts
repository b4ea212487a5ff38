/**
 * Trace reading rates: records per second through openTrace for lackey text and hvsim's compact
 * format, from memory and from files (gzip too), against a baseline that only reads the lackey
 * file's bytes (the I/O floor). Uses the bigger trace from scripts/make-lackey-trace.sh when
 * present (packages/traces/test-artifacts/sort.lackey), else the shipped fixture.
 *
 * Run: pnpm --filter @hvsim/traces bench
 */
import { createReadStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { compareToBaseline } from '@hvsim/test-utils';
import { convertTrace, openTrace, type TraceSource } from '@hvsim/traces';

const artifacts = new URL('../test-artifacts/', import.meta.url).pathname;
mkdirSync(artifacts, { recursive: true });
const big = `${artifacts}sort.lackey`;
const fixture = new URL('../fixtures/sort-small.lackey.gz', import.meta.url).pathname;

let lackeyPath: string;
if (existsSync(big)) {
  lackeyPath = big;
} else {
  lackeyPath = `${artifacts}sort-small.lackey`;
  writeFileSync(lackeyPath, gunzipSync(readFileSync(fixture)));
  console.log('(no test-artifacts/sort.lackey: run scripts/make-lackey-trace.sh for a bigger trace)');
}
const lackeyBytes = readFileSync(lackeyPath);
const hvsimPath = `${lackeyPath}.hvt`;
const { records } = await convertTrace(lackeyPath, hvsimPath);
const hvsimBytes = readFileSync(hvsimPath);
const gzPath = `${lackeyPath}.gz`;
writeFileSync(gzPath, gzipSync(lackeyBytes, { level: 6 }));
console.log(
  `${lackeyPath}: ${records.toLocaleString('en-US')} records; lackey ${lackeyBytes.length.toLocaleString('en-US')} bytes, hvsim ${hvsimBytes.length.toLocaleString('en-US')} bytes (${(hvsimBytes.length / records).toFixed(2)} bytes/record)`,
);

/** ChampSim records built in memory: 1M instructions, a load every 3rd and a store every 5th. */
function champSimTrace(instructions: number): { bytes: Uint8Array; records: number } {
  const bytes = new Uint8Array(instructions * 64);
  const view = new DataView(bytes.buffer);
  let records = 0;
  for (let i = 0; i < instructions; i++) {
    const o = i * 64;
    view.setUint32(o, 0x400000 + 4 * i, true); // ip
    records++;
    if (i % 3 === 0) {
      view.setUint32(o + 32, 0x7fff_0000 + 8 * (i % 4096), true); // source_memory[0]
      view.setUint32(o + 36, 0x7f, true);
      records++;
    }
    if (i % 5 === 0) {
      view.setUint32(o + 16, 0x60_0000 + 16 * (i % 8192), true); // destination_memory[0]
      records++;
    }
  }
  return { bytes, records };
}
const champsim = champSimTrace(1_000_000);

let sink = 0;

/** Reads a trace to its end, adding up batch lengths (the records must all be there). */
async function drain(source: TraceSource, expected = records): Promise<void> {
  let n = 0;
  for await (const batch of openTrace(source)) n += batch.length;
  if (n !== expected) throw new Error(`read ${n} records, expected ${expected}`);
  sink += n;
}

/** Reads a trace and touches every record as a consumer would (kind, both address halves, size). */
async function drainAndTouch(source: TraceSource): Promise<void> {
  let x = 0;
  for await (const b of openTrace(source)) {
    for (let i = 0; i < b.length; i++)
      x = (x + b.kind[i] + (b.addressLo[i] ^ b.addressHi[i]) + b.size[i]) | 0;
  }
  sink += x;
}

/** The I/O floor: the lackey file's bytes, read in the reader's 1 MiB chunks, nothing parsed. */
async function readBytesOnly(): Promise<void> {
  let n = 0;
  for await (const chunk of createReadStream(lackeyPath, { highWaterMark: 1 << 20 })) n += chunk.length;
  sink += n;
}

await compareToBaseline(
  `@hvsim/traces: records per second (${records.toLocaleString('en-US')} records of sort; ops = records)`,
  { name: 'baseline: lackey file bytes, read only', ops: records, fn: readBytesOnly },
  [
    { name: 'lackey, memory', ops: records, fn: () => drain(lackeyBytes) },
    { name: 'lackey, file', ops: records, fn: () => drain(lackeyPath) },
    { name: 'lackey, file, every record touched', ops: records, fn: () => drainAndTouch(lackeyPath) },
    { name: 'lackey, gzip file', ops: records, fn: () => drain(gzPath) },
    { name: 'hvsim, memory', ops: records, fn: () => drain(hvsimBytes) },
    { name: 'hvsim, file', ops: records, fn: () => drain(hvsimPath) },
    { name: 'hvsim, file, every record touched', ops: records, fn: () => drainAndTouch(hvsimPath) },
    {
      name: 'ChampSim, memory (1M instructions)',
      ops: champsim.records,
      fn: () => drain(champsim.bytes, champsim.records),
    },
  ],
  { time: 3000 },
);
if (sink === 42) console.log('');
