import { AccessKind, pagingModeName } from '@hvsim/cpu-core';
import { type TraceBatch, TraceKind } from '@hvsim/traces/records';
import type { GuestOs, Process } from './guest-os.js';
import { Prot } from './guest-os.js';

export { type TraceBatch, TraceKind };

/** Options of `runTrace`. */
export interface RunTraceOptions {
  /** The CPU the process runs on (default 0). */
  readonly cpu?: number;
  /** Called after each batch with the records done so far (total unknown: 0). */
  onProgress?(done: number, total: number): void;
}

/** What a trace run did. */
export interface TraceRunResult {
  /** Records read. */
  readonly records: number;
  /** Guest accesses made (a Modify is two; a record straddling a 4 KiB boundary is one per page). */
  readonly accesses: number;
}

/**
 * Runs a memory trace as user process `process` on one CPU: gives it one read-write-execute VMA over
 * the whole user address space (demand-paged on first touch; unless it already has VMAs, which are
 * then used as they are), switches to it, and makes each record's accesses through
 * `GuestOs.access`. A record that crosses a 4 KiB boundary is split into one access per page.
 * Addresses outside the user range fault and count as segfaults (or #GP when non-canonical).
 */
export async function runTrace(
  os: GuestOs,
  process: Process,
  batches: AsyncIterable<TraceBatch> | Iterable<TraceBatch>,
  options: RunTraceOptions = {},
): Promise<TraceRunResult> {
  const cpu = prepare(os, process, options);
  let records = 0;
  let accesses = 0;
  for await (const batch of batches) {
    accesses += runBatch(os, cpu, batch, records);
    records += batch.length;
    options.onProgress?.(records, 0);
  }
  return { records, accesses };
}

/** `runTrace` over batches already in memory, without awaiting between batches. */
export function runTraceSync(
  os: GuestOs,
  process: Process,
  batches: Iterable<TraceBatch>,
  options: RunTraceOptions = {},
): TraceRunResult {
  const cpu = prepare(os, process, options);
  let records = 0;
  let accesses = 0;
  for (const batch of batches) {
    accesses += runBatch(os, cpu, batch, records);
    records += batch.length;
    options.onProgress?.(records, 0);
  }
  return { records, accesses };
}

function prepare(os: GuestOs, process: Process, options: RunTraceOptions): number {
  const cpu = options.cpu ?? 0;
  if (process.vmas.length === 0) {
    os.mmap(process, os.userTopPage * 4096, Prot.Read | Prot.Write | Prot.Exec, { address: 0 });
  }
  os.switchTo(process, cpu);
  return cpu;
}

/** Record kind -> AccessKind for the kinds that are one access (Load, Store, Fetch); 255 for the rest. */
const ONE_ACCESS = new Uint8Array(256).fill(255);
ONE_ACCESS[TraceKind.Load] = AccessKind.Read;
ONE_ACCESS[TraceKind.Store] = AccessKind.Write;
ONE_ACCESS[TraceKind.Fetch] = AccessKind.Execute;

/**
 * The per-record loop: one `GuestOs.access` per record on the common path; a Modify, a record that
 * straddles a page, a bad kind and (outside long mode) an address above 4 GiB go to `slowRecord`.
 */
function runBatch(os: GuestOs, cpu: number, batch: TraceBatch, records: number): number {
  const n = batch.length;
  const kinds = batch.kind;
  const los = batch.addressLo;
  const his = batch.addressHi;
  const sizes = batch.size;
  const hiMax = os.format.long ? 0xffff_ffff : 0;
  let accesses = n;
  for (let i = 0; i < n; i++) {
    const lo = los[i] as number;
    const hi = his[i] as number;
    const access = ONE_ACCESS[kinds[i] as number] as number;
    if ((lo & 0xfff) + (sizes[i] as number) > 4096 || access > 2 || hi > hiMax) {
      accesses += slowRecord(os, cpu, lo, hi, kinds[i] as number, sizes[i] as number, records + i) - 1;
      continue;
    }
    os.access(cpu, lo, hi, access as AccessKind);
  }
  return accesses;
}

function slowRecord(
  os: GuestOs,
  cpu: number,
  lo: number,
  hi: number,
  kind: number,
  size: number,
  index: number,
): number {
  if (kind > TraceKind.Fetch) {
    throw new RangeError(
      `trace record ${index}: kind ${kind} is not 0 (load), 1 (store), 2 (modify) or 3 (fetch)`,
    );
  }
  if (hi !== 0 && !os.format.long) {
    throw new RangeError(
      `trace record ${index}: address 0x${(hi * 4294967296 + lo).toString(16)} is beyond the 4 GiB linear space of ${pagingModeName[os.format.mode]}`,
    );
  }
  const split = (lo & 0xfff) + size > 4096;
  // The next page's address: the carry out of bits 31:0 goes into bits 63:32.
  const lo2 = ((lo | 0xfff) + 1) >>> 0;
  const hi2 = lo2 === 0 ? (hi + 1) >>> 0 : hi;
  const first = kind === TraceKind.Modify ? AccessKind.Read : (ONE_ACCESS[kind] as AccessKind);
  os.access(cpu, lo, hi, first);
  if (split) os.access(cpu, lo2, hi2, first);
  if (kind !== TraceKind.Modify) return split ? 2 : 1;
  os.access(cpu, lo, hi, AccessKind.Write);
  if (split) os.access(cpu, lo2, hi2, AccessKind.Write);
  return split ? 4 : 2;
}
