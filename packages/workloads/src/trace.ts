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
  /**
   * Address spaces the trace ran in: the distinct ASIDs of a trace whose records carry them
   * (ChampSim's CloudSuite records), each its own process; 1 for a trace without ASIDs.
   */
  readonly addressSpaces: number;
}

/**
 * Runs a memory trace as user process `process` on one CPU: gives it one read-write-execute VMA over
 * the whole user address space (demand-paged on first touch; unless it already has VMAs, which are
 * then used as they are), switches to it, and makes each record's accesses through
 * `GuestOs.access`. A record that crosses a 4 KiB boundary is split into one access per page.
 * Addresses outside the user range fault and count as segfaults (or #GP when non-canonical).
 *
 * A trace whose batches carry ASIDs (`TraceBatch.asid`) has one address space per ASID: the first
 * ASID seen runs in `process`, each other in a process of its own, created (with the same VMA)
 * when its ASID first appears, and the CPU switches processes (MOV CR3, tagged with the process's
 * PCID when the guest uses PCIDs) wherever the ASID of consecutive records changes.
 */
export async function runTrace(
  os: GuestOs,
  process: Process,
  batches: AsyncIterable<TraceBatch> | Iterable<TraceBatch>,
  options: RunTraceOptions = {},
): Promise<TraceRunResult> {
  const cpu = prepare(os, process, options);
  const spaces = new AddressSpaces(os, process, cpu);
  let records = 0;
  let accesses = 0;
  for await (const batch of batches) {
    accesses += runBatch(os, cpu, batch, records, spaces);
    records += batch.length;
    options.onProgress?.(records, 0);
  }
  return { records, accesses, addressSpaces: spaces.count };
}

/** `runTrace` over batches already in memory, without awaiting between batches. */
export function runTraceSync(
  os: GuestOs,
  process: Process,
  batches: Iterable<TraceBatch>,
  options: RunTraceOptions = {},
): TraceRunResult {
  const cpu = prepare(os, process, options);
  const spaces = new AddressSpaces(os, process, cpu);
  let records = 0;
  let accesses = 0;
  for (const batch of batches) {
    accesses += runBatch(os, cpu, batch, records, spaces);
    records += batch.length;
    options.onProgress?.(records, 0);
  }
  return { records, accesses, addressSpaces: spaces.count };
}

function prepare(os: GuestOs, process: Process, options: RunTraceOptions): number {
  const cpu = options.cpu ?? 0;
  giveUserRange(os, process);
  os.switchTo(process, cpu);
  return cpu;
}

/** One read-write-execute VMA over the whole user range, unless the process has VMAs already. */
function giveUserRange(os: GuestOs, process: Process): void {
  if (process.vmas.length === 0) {
    os.mmap(process, os.userTopPage * 4096, Prot.Read | Prot.Write | Prot.Exec, { address: 0 });
  }
}

/** The process of each ASID of a trace (ASIDs are bytes), made when the ASID first appears. */
class AddressSpaces {
  declare private readonly os: GuestOs;
  declare private readonly cpu: number;
  declare private readonly byAsid: Array<Process | undefined>;
  /** The process the run began with, until the first ASID claims it. */
  declare private unclaimed: Process | null;
  declare count: number;

  constructor(os: GuestOs, first: Process, cpu: number) {
    this.os = os;
    this.cpu = cpu;
    this.byAsid = new Array<Process | undefined>(256);
    this.unclaimed = first;
    this.count = 1;
  }

  /** Switches the CPU to `asid`'s process (no switch when it is already running). */
  enter(asid: number): void {
    let process = this.byAsid[asid];
    if (process === undefined) {
      if (this.unclaimed !== null) {
        process = this.unclaimed;
        this.unclaimed = null;
      } else {
        process = this.os.createProcess();
        giveUserRange(this.os, process);
        this.count++;
      }
      this.byAsid[asid] = process;
    }
    this.os.switchTo(process, this.cpu);
  }
}

/** Record kind -> AccessKind for the kinds that are one access (Load, Store, Fetch); 255 for the rest. */
const ONE_ACCESS = new Uint8Array(256).fill(255);
ONE_ACCESS[TraceKind.Load] = AccessKind.Read;
ONE_ACCESS[TraceKind.Store] = AccessKind.Write;
ONE_ACCESS[TraceKind.Fetch] = AccessKind.Execute;

/** A batch's records: all in the running process, or, with ASIDs, each run of one ASID in its own. */
function runBatch(
  os: GuestOs,
  cpu: number,
  batch: TraceBatch,
  records: number,
  spaces: AddressSpaces,
): number {
  const n = batch.length;
  const asids = batch.asid;
  if (asids === undefined) return runRecords(os, cpu, batch, 0, n, records);
  let accesses = 0;
  let start = 0;
  while (start < n) {
    const asid = asids[start] as number;
    let end = start + 1;
    while (end < n && asids[end] === asid) end++;
    spaces.enter(asid);
    accesses += runRecords(os, cpu, batch, start, end, records);
    start = end;
  }
  return accesses;
}

/**
 * The per-record loop over records `start` to `end`: one `GuestOs.access` per record on the common
 * path; a Modify, a record that straddles a page, a bad kind and (outside long mode) an address
 * above 4 GiB go to `slowRecord`.
 */
function runRecords(
  os: GuestOs,
  cpu: number,
  batch: TraceBatch,
  start: number,
  end: number,
  records: number,
): number {
  const kinds = batch.kind;
  const los = batch.addressLo;
  const his = batch.addressHi;
  const sizes = batch.size;
  const hiMax = os.format.long ? 0xffff_ffff : 0;
  let accesses = end - start;
  for (let i = start; i < end; i++) {
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
