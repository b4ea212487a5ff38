import { PagingMode } from '@hvsim/cpu-core';
import { REPORT_FORMAT, type ReportDocument, type RunReport } from '@hvsim/report';
import { openTrace, type TraceFormat, type TraceReader, windowBatches } from '@hvsim/traces';
import { GuestOs, runTrace, type WorkloadName, workloadNames, workloads } from '@hvsim/workloads';
import { collectRun, withOverheads } from './collect.js';
import type { SimConfig } from './config.js';
import { assemble } from './machine.js';

/** What a run drives the guest with: a built-in workload, or a memory trace. */
export type WorkloadSpec =
  | {
      readonly kind: 'workload';
      /** A built-in workload's name (`workloadNames` of @hvsim/workloads). */
      readonly name: string;
      /** Guest accesses it makes (default: the workload's own). */
      readonly accesses?: number;
      /** Bytes its data spans (default: the workload's own). */
      readonly workingSetBytes?: number;
    }
  | {
      readonly kind: 'trace';
      /** The trace file. */
      readonly path: string;
      /** Its format (default: detected from its content). */
      readonly format?: TraceFormat;
      /** Records to skip from the start (default 0). */
      readonly skip?: number;
      /** Records to run after them (default: all the rest). */
      readonly records?: number;
    };

/** Options of a run. */
export interface RunOptions {
  /** The seed of every random choice (default 1). */
  readonly seed?: number;
  /**
   * Called now and then with the work done so far in this run: guest accesses for a workload; for a
   * trace, how far through the file each VM's reader is, in bytes of the file (summed over the VMs,
   * each of which reads the whole file), so that against the file's size it gives a fraction done.
   * A trace that counts its records (hvsim format version 2) is measured by its records read: its
   * compressed bytes are all read long before its records are.
   */
  readonly onProgress?: (done: number) => void;
  /** The most memory the machine may need, in bytes (default: half of this computer's; see `checkMemory`). */
  readonly memoryLimit?: number;
}

const PAGING_MODES = {
  level4: PagingMode.Level4,
  level5: PagingMode.Level5,
  pae: PagingMode.Pae,
  legacy32: PagingMode.Legacy32,
} as const;

/** The built-in workload of a spec, or an error naming the ones there are. */
function builtin(name: string) {
  if (!(workloadNames as readonly string[]).includes(name)) {
    throw new Error(`no workload named "${name}"; there are: ${workloadNames.join(', ')}`);
  }
  return workloads[name as WorkloadName];
}

/**
 * Runs a workload on one configuration and returns its figures. Each VM gets its own guest OS
 * (natively there is one), and timer interrupts exit each vCPU every `timer.interval` accesses. A
 * built-in workload runs in each VM one VM after another (VM `v` with seed `seed + v`); a trace runs
 * in every VM at once, the VMs taking turns batch by batch in a fixed order, so that VMs sharing a
 * CPU are switched between (a world switch each time) and the run stays deterministic.
 */
export async function runConfig(
  config: SimConfig,
  spec: WorkloadSpec,
  options: RunOptions = {},
): Promise<RunReport> {
  const seed = options.seed ?? 1;
  const machine = assemble(
    config,
    options.memoryLimit === undefined ? {} : { memoryLimit: options.memoryLimit },
  );
  const workload = spec.kind === 'workload' ? builtin(spec.name) : null;
  const systems = machine.guests.map(
    (cpus) =>
      new GuestOs({
        cpus,
        memoryBytes: config.guest.memory,
        pagingMode: PAGING_MODES[config.guest.pagingMode],
        hugePages: config.guest.hugePages,
        pcid: config.guest.pcid,
        ...workload?.osOptions,
      }),
  );
  const done = new Array<number>(systems.length).fill(0);
  const progressOf = (v: number) => (n: number) => {
    done[v] = n;
    options.onProgress?.(done.reduce((a, b) => a + b, 0));
  };
  const report = options.onProgress !== undefined;
  if (spec.kind === 'workload' && workload !== null) {
    systems.forEach((os, v) => {
      workload.run(os, {
        seed: seed + v,
        ...(spec.accesses === undefined ? {} : { accesses: spec.accesses }),
        ...(spec.workingSetBytes === undefined ? {} : { workingSetBytes: spec.workingSetBytes }),
        ...(report ? { onProgress: progressOf(v) } : {}),
      });
    });
  } else if (spec.kind === 'trace') {
    const turns = new Turns(systems.length);
    await Promise.all(
      systems.map((os, v) => {
        const reader = openTrace(spec.path, spec.format === undefined ? {} : { format: spec.format });
        const batches =
          spec.skip === undefined && spec.records === undefined
            ? reader
            : windowBatches(reader, {
                ...(spec.skip === undefined ? {} : { skip: spec.skip }),
                ...(spec.records === undefined ? {} : { records: spec.records }),
              });
        const progress = report ? progressOf(v) : null;
        return runTrace(os, os.createProcess(), turns.take(v, batches), {
          cpu: 0,
          ...(progress === null ? {} : { onProgress: () => progress(traceProgress(reader)) }),
        });
      }),
    );
  }
  const guest: Record<string, number> = {};
  for (const os of systems) {
    for (const [name, value] of Object.entries(os.counters.snapshot()))
      guest[name] = (guest[name] ?? 0) + value;
  }
  return collectRun(machine, guest);
}

/** How far `reader` is through its trace, in bytes of the file (see `RunOptions.onProgress`). */
function traceProgress(reader: TraceReader): number {
  const records = reader.totalRecords;
  const bytes = reader.totalBytes;
  if (records === null || records === 0 || bytes === null) return reader.bytesRead;
  return Math.round(Math.min(1, reader.recordsRead / records) * bytes);
}

/**
 * Round-robin turns among `count` consumers of async batches: consumer `v` gets its next batch only
 * on its turn, and passes the turn on when it asks for the one after (having used the last), so the
 * consumers' work interleaves in the same order whatever the timing of the reads.
 */
class Turns {
  declare private turn: number;
  declare private readonly active: boolean[];
  declare private readonly waiting: Array<(() => void) | null>;

  constructor(count: number) {
    this.turn = 0;
    this.active = new Array<boolean>(count).fill(true);
    this.waiting = new Array<(() => void) | null>(count).fill(null);
  }

  /** `source`'s batches, each handed out on consumer `v`'s turn. */
  async *take<T>(v: number, source: AsyncIterable<T>): AsyncGenerator<T> {
    try {
      for await (const batch of source) {
        if (this.turn !== v) await new Promise<void>((resolve) => (this.waiting[v] = resolve));
        yield batch;
        this.pass(v);
      }
    } finally {
      this.active[v] = false;
      if (this.turn === v) this.pass(v);
    }
  }

  private pass(v: number): void {
    const n = this.active.length;
    for (let step = 1; step <= n; step++) {
      const next = (v + step) % n;
      if (this.active[next] || next === v) {
        this.turn = next;
        const wake = this.waiting[next];
        this.waiting[next] = null;
        wake?.();
        return;
      }
    }
  }
}

/** What a report says ran: the workload's name, its description and the seed. */
export function describeWorkload(spec: WorkloadSpec, seed: number): ReportDocument['workload'] {
  if (spec.kind === 'trace') {
    const file = spec.path.split(/[\\/]/).pop() ?? spec.path;
    const skip = spec.skip ?? 0;
    const window =
      spec.records !== undefined
        ? `, records ${skip} to ${skip + spec.records - 1}`
        : skip > 0
          ? `, records from ${skip}`
          : '';
    return {
      name: file,
      description: `memory trace ${spec.path}${spec.format ? ` (${spec.format})` : ''}${window}`,
      seed,
    };
  }
  const workload = builtin(spec.name);
  const params = [
    spec.accesses === undefined ? null : `${spec.accesses.toLocaleString('en-US')} accesses asked for`,
    spec.workingSetBytes === undefined ? null : `${spec.workingSetBytes} bytes working set`,
  ].filter((p) => p !== null);
  return {
    name: spec.name,
    description:
      params.length === 0 ? workload.description : `${workload.description} (${params.join(', ')})`,
    seed,
  };
}

/** The report of runs of one workload: the runs in the order given, overheads against the native one. */
export function makeReport(spec: WorkloadSpec, seed: number, runs: readonly RunReport[]): ReportDocument {
  return { format: REPORT_FORMAT, workload: describeWorkload(spec, seed), runs: withOverheads(runs) };
}

/** The built-in workloads: name and one line each. */
export function listWorkloads(): Array<{ readonly name: string; readonly description: string }> {
  return workloadNames.map((name) => ({ name, description: workloads[name].description }));
}

/**
 * What `hvsim demo` runs: the mixed workload (several processes with context switches, a Zipf-hot
 * heap, a pointer chase, streaming, fork and exit) for a number of accesses that the default
 * comparison runs through in seconds, with a fixed seed.
 */
export const demoWorkload: Extract<WorkloadSpec, { kind: 'workload' }> = {
  kind: 'workload',
  name: 'mixed',
  accesses: 200_000,
};
