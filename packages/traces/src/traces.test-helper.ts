/**
 * Test helpers that do not use the code under test: a naive lackey parser (regular expressions and
 * BigInt), a ChampSim record writer (DataView), and ways to collect what a reader yields.
 */
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { TraceReader } from './trace-reader.js';

/** One access as plain values. */
export interface PlainRecord {
  kind: number;
  address: bigint;
  size: number;
}

export const FIXTURE = new URL('../fixtures/sort-small.lackey.gz', import.meta.url).pathname;

/** The fixture's text, gunzipped. */
export function fixtureText(): Buffer {
  return gunzipSync(readFileSync(FIXTURE));
}

/** A fresh temporary directory for one test file's outputs. */
export function tempDir(): string {
  const base = join(tmpdir(), 'hvsim-traces-test');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, 'run-'));
}

const KIND_OF: Record<string, number> = { L: 0, S: 1, M: 2, I: 3 };

/** Lackey text parsed line by line with a regular expression: the tests' oracle. */
export function naiveLackey(text: string): PlainRecord[] {
  const out: PlainRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('==') || line.trim() === '') continue;
    const m = /^(?:I {2}| ([LSM]) )([0-9a-f]+),(\d+)$/.exec(line);
    if (m === null) throw new Error(`oracle: unexpected line ${JSON.stringify(line)}`);
    out.push({ kind: KIND_OF[m[1] ?? 'I'], address: BigInt(`0x${m[2]}`), size: Number(m[3]) });
  }
  return out;
}

/** Everything a reader yields, as plain records, and the batch lengths seen. */
export async function collect(reader: TraceReader): Promise<{ records: PlainRecord[]; batches: number[] }> {
  const records: PlainRecord[] = [];
  const batches: number[] = [];
  for await (const b of reader) {
    batches.push(b.length);
    for (let i = 0; i < b.length; i++) {
      records.push({
        kind: b.kind[i],
        address: (BigInt(b.addressHi[i]) << 32n) | BigInt(b.addressLo[i]),
        size: b.size[i],
      });
    }
  }
  return { records, batches };
}

/** A ChampSim `input_instr` as the test states it. */
export interface ChampSimInstr {
  ip: bigint;
  isBranch?: number;
  taken?: number;
  destinationMemory?: bigint[];
  sourceMemory?: bigint[];
}

/**
 * ChampSim records written field by field at the offsets of ChampSim's `inc/trace_instruction.h`
 * (ip u64 @0, is_branch @8, branch_taken @9, destination_registers[2] @10, source_registers[4] @12,
 * destination_memory[2] @16, source_memory[4] @32; 64 bytes, little-endian).
 */
export function champSimBytes(instrs: ChampSimInstr[]): Uint8Array {
  const bytes = new Uint8Array(instrs.length * 64);
  const view = new DataView(bytes.buffer);
  instrs.forEach((instr, r) => {
    const base = r * 64;
    view.setBigUint64(base, instr.ip, true);
    view.setUint8(base + 8, instr.isBranch ?? 0);
    view.setUint8(base + 9, instr.taken ?? 0);
    view.setUint8(base + 10, 1); // registers: arbitrary nonzero values the reader must ignore
    view.setUint8(base + 12, 2);
    for (const [i, a] of (instr.destinationMemory ?? []).entries())
      view.setBigUint64(base + 16 + 8 * i, a, true);
    for (const [i, a] of (instr.sourceMemory ?? []).entries()) view.setBigUint64(base + 32 + 8 * i, a, true);
  });
  return bytes;
}

/** Splits bytes into chunks of the given sizes, cycling through them. */
export async function* chunked(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length];
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

/**
 * The ChampSim instructions of the tests, and of fixtures/champsim-known.xz (written by
 * fixtures/make-champsim-fixture.mts): a few chosen cases, then 2000 generated ones.
 */
export function knownChampSim(): ChampSimInstr[] {
  const instrs: ChampSimInstr[] = [
    { ip: 0x401000n },
    { ip: 0x401004n, sourceMemory: [0x7ffe00001000n] },
    { ip: 0xffffffff81000000n, isBranch: 1, taken: 1, destinationMemory: [0x123456789abcdef0n] },
    { ip: 0x401008n, sourceMemory: [0x10n, 0n, 0x20n, 0x30n], destinationMemory: [0x40n, 0x50n] },
    { ip: 0x40100cn, isBranch: 1, taken: 0, destinationMemory: [0n, 0xffffffffffffffffn] },
  ];
  for (let i = 0; i < 2000; i++) {
    const ip = 0x500000n + BigInt(i * 4);
    const loads = i % 3 === 0 ? [0x7fff0000n + BigInt(i * 8)] : [];
    const stores = i % 5 === 0 ? [0x600000000n + BigInt(i * 16)] : [];
    instrs.push({ ip, sourceMemory: loads, destinationMemory: stores, isBranch: i % 7 === 0 ? 1 : 0 });
  }
  return instrs;
}

/**
 * The records ChampSim instructions stand for, per the package's documented mapping: a fetch of
 * size 4 at ip, a load of size 8 per nonzero source, then a store of size 8 per nonzero destination.
 */
export function champSimRecords(instrs: ChampSimInstr[]): PlainRecord[] {
  const out: PlainRecord[] = [];
  for (const instr of instrs) {
    out.push({ kind: 3, address: instr.ip, size: 4 });
    for (const a of instr.sourceMemory ?? []) if (a !== 0n) out.push({ kind: 0, address: a, size: 8 });
    for (const a of instr.destinationMemory ?? []) if (a !== 0n) out.push({ kind: 1, address: a, size: 8 });
  }
  return out;
}

/** A ChampSim `cloudsuite_instr` as the test states it. */
export interface CloudSuiteInstr extends ChampSimInstr {
  /** `asid[0]`, `asid[1]`. */
  asid: [number, number];
}

/**
 * CloudSuite records written field by field at the offsets of ChampSim's `cloudsuite_instr`
 * (inc/trace_instruction.h) with the x86-64 ABI's padding: ip u64 @0, is_branch @8,
 * branch_taken @9, destination_registers[4] @10, source_registers[4] @14, 6 bytes of padding,
 * destination_memory[4] @24, source_memory[4] @56, asid[2] @88, 6 bytes of padding; 96 bytes,
 * little-endian. Registers and padding get nonzero bytes the reader must ignore.
 */
export function cloudSuiteBytes(instrs: CloudSuiteInstr[]): Uint8Array {
  const bytes = new Uint8Array(instrs.length * 96);
  const view = new DataView(bytes.buffer);
  instrs.forEach((instr, r) => {
    const base = r * 96;
    bytes.fill(0xaa, base + 10, base + 24); // registers and the padding after them
    bytes.fill(0x55, base + 90, base + 96); // the tail padding
    view.setBigUint64(base, instr.ip, true);
    view.setUint8(base + 8, instr.isBranch ?? 0);
    view.setUint8(base + 9, instr.taken ?? 0);
    for (const [i, a] of (instr.destinationMemory ?? []).entries())
      view.setBigUint64(base + 24 + 8 * i, a, true);
    for (const [i, a] of (instr.sourceMemory ?? []).entries()) view.setBigUint64(base + 56 + 8 * i, a, true);
    view.setUint8(base + 88, instr.asid[0]);
    view.setUint8(base + 89, instr.asid[1]);
  });
  return bytes;
}

/** A record with the address space it belongs to. */
export interface AsidRecord extends PlainRecord {
  asid: number;
}

/**
 * The records CloudSuite instructions stand for, per the package's documented mapping: a fetch of
 * size 4 at ip in `asid[0]`, then a load of size 8 per nonzero source and a store of size 8 per
 * nonzero destination, in `asid[1]`.
 */
export function cloudSuiteRecords(instrs: CloudSuiteInstr[]): AsidRecord[] {
  const out: AsidRecord[] = [];
  for (const instr of instrs) {
    const [code, data] = instr.asid;
    out.push({ kind: 3, address: instr.ip, size: 4, asid: code });
    for (const a of instr.sourceMemory ?? [])
      if (a !== 0n) out.push({ kind: 0, address: a, size: 8, asid: data });
    for (const a of instr.destinationMemory ?? [])
      if (a !== 0n) out.push({ kind: 1, address: a, size: 8, asid: data });
  }
  return out;
}

/** Everything a reader of records with ASIDs yields, with each record's ASID. */
export async function collectWithAsid(reader: TraceReader): Promise<AsidRecord[]> {
  const records: AsidRecord[] = [];
  for await (const b of reader) {
    const asids = b.asid;
    if (asids === undefined) throw new Error('oracle: the batch has no asid array');
    for (let i = 0; i < b.length; i++) {
      records.push({
        kind: b.kind[i],
        address: (BigInt(b.addressHi[i]) << 32n) | BigInt(b.addressLo[i]),
        size: b.size[i],
        asid: asids[i],
      });
    }
  }
  return records;
}
