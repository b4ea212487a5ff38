import { AccessKind, PagingMode, Segment } from '@hvsim/cpu-core';
import { DosBox, EMS_FRAME_SEGMENT, EMS_PHYSICAL_PAGES } from './dos-box.js';
import { type GuestOs, type GuestOsOptions, type Process, Prot } from './guest-os.js';
import { Rng, randomCycle, ZipfSampler } from './rng.js';

/** How a workload is run. */
export interface WorkloadRunOptions {
  /** Everything random follows from it: same seed, same guest digest. */
  readonly seed: number;
  /** Guest accesses to make (default 200,000). */
  readonly accesses?: number;
  /** Bytes of memory the accesses spread over (default 16 MiB: beyond a Skylake STLB's 6 MiB reach with 4 KiB pages). */
  readonly workingSetBytes?: number;
  /** Called now and then with accesses done and the total. */
  onProgress?(done: number, total: number): void;
}

/** A seeded guest workload. */
export interface Workload {
  readonly name: string;
  /** One line for `--help` and reports. */
  readonly description: string;
  /** Options the workload needs of the `GuestOs` (merge them into yours): the DOS box needs 32-bit paging. */
  readonly osOptions?: Partial<Omit<GuestOsOptions, 'cpus'>>;
  run(os: GuestOs, options: WorkloadRunOptions): void;
}

const DEFAULT_ACCESSES = 200_000;
const DEFAULT_WORKING_SET = 16 * 2 ** 20;
const LINE = 64;
const PROGRESS_EVERY = 65_536;
const RW = Prot.Read | Prot.Write;

/** Settings every workload reads the same way. */
interface Plan {
  readonly rng: Rng;
  readonly total: number;
  readonly workingSet: number;
  readonly progress: ((done: number, total: number) => void) | undefined;
}

function plan(options: WorkloadRunOptions): Plan {
  const total = options.accesses ?? DEFAULT_ACCESSES;
  if (!Number.isInteger(total) || total < 0)
    throw new RangeError(`accesses must be a non-negative integer, got ${total}`);
  const workingSet = options.workingSetBytes ?? DEFAULT_WORKING_SET;
  if (!Number.isInteger(workingSet) || workingSet < 4096) {
    throw new RangeError(`workingSetBytes must be an integer of at least 4096, got ${workingSet}`);
  }
  return {
    rng: new Rng(options.seed),
    total,
    workingSet: Math.ceil(workingSet / 4096) * 4096,
    progress: options.onProgress,
  };
}

/** Reports progress when the last `n` accesses crossed a multiple of PROGRESS_EVERY. */
function progressed(p: Plan, done: number, n: number): void {
  if (Math.floor(done / PROGRESS_EVERY) !== Math.floor((done - n) / PROGRESS_EVERY))
    p.progress?.(done, p.total);
}

/** One access at a byte address (a number below 2^53) by the process on `cpu`. */
function touch(os: GuestOs, cpu: number, address: number, kind: AccessKind): void {
  os.touch(cpu, address, kind);
}

/** A single process on CPU 0 making `total` accesses at `base + next(i)`, stores where `writes` says. */
function singleProcess(
  os: GuestOs,
  p: Plan,
  next: (i: number, rng: Rng) => number,
  writes: (i: number, rng: Rng) => boolean,
): void {
  const process = os.createProcess();
  os.switchTo(process, 0);
  const base = os.mmap(process, p.workingSet, RW);
  const rng = p.rng;
  for (let i = 0; i < p.total; i++) {
    touch(os, 0, base + next(i, rng), writes(i, rng) ? AccessKind.Write : AccessKind.Read);
    if ((i + 1) % PROGRESS_EVERY === 0) p.progress?.(i + 1, p.total);
  }
  p.progress?.(p.total, p.total);
}

const quarterRandom = (_i: number, rng: Rng): boolean => (rng.next() & 3) === 0;

const sequential: Workload = {
  name: 'sequential',
  description:
    'One process streams through its working set a cache line at a time from a random start (a quarter of the accesses stores)',
  run(os, options) {
    const p = plan(options);
    const lines = p.workingSet / LINE;
    const start = p.rng.below(lines);
    singleProcess(os, p, (i) => ((start + i) % lines) * LINE, quarterRandom);
  },
};

/** A stride of a page and a line: every access a new page, and a new line within it. */
const STRIDE = 4096 + LINE;

const strided: Workload = {
  name: 'strided',
  description:
    'One process strides 4 KiB + 64 B through its working set: every access a new page (a TLB miss per access once the set exceeds the TLB)',
  run(os, options) {
    const p = plan(options);
    const ws = p.workingSet;
    const start = p.rng.below(ws / LINE) * LINE;
    singleProcess(os, p, (i) => (start + i * STRIDE) % ws, quarterRandom);
  },
};

const uniform: Workload = {
  name: 'uniform',
  description:
    'One process touches uniformly random cache lines of its working set (a quarter of them stores)',
  run(os, options) {
    const p = plan(options);
    const lines = p.workingSet / LINE;
    singleProcess(os, p, (_i, rng) => rng.below(lines) * LINE, quarterRandom);
  },
};

const zipf: Workload = {
  name: 'zipf',
  description:
    'One process touches pages with Zipf(0.99) popularity, the hot pages scattered over its working set',
  run(os, options) {
    const p = plan(options);
    const pages = p.workingSet / 4096;
    const sampler = new ZipfSampler(pages);
    // Rank r lives at page order[r]: a random permutation, so hot pages are not adjacent.
    const order = randomCycle(pages, p.rng);
    singleProcess(
      os,
      p,
      (_i, rng) => (order[sampler.sample(rng)] as number) * 4096 + rng.below(64) * LINE,
      quarterRandom,
    );
  },
};

const pointerChase: Workload = {
  name: 'pointer-chase',
  description:
    'One process follows a random cyclic linked list of cache-line nodes over its working set (loads only: each address depends on the last)',
  run(os, options) {
    const p = plan(options);
    const next = randomCycle(p.workingSet / LINE, p.rng);
    let node = 0;
    singleProcess(
      os,
      p,
      () => {
        const at = node * LINE;
        node = next[node] as number;
        return at;
      },
      () => false,
    );
  },
};

/**
 * Several processes time-sliced over the CPUs: at each quantum CPU c runs process (quantum + c) mod
 * n, so every switch is a MOV CR3 (with PCIDs, a no-flush switch back to a process whose translations
 * survived).
 */
function runMultiprocess(os: GuestOs, p: Plan, processCount: number, quantum: number): void {
  const cpus = os.cpus.length;
  const count = Math.max(processCount, cpus);
  const perProcess = Math.max(4096, Math.floor(p.workingSet / count / 4096) * 4096);
  const processes: Process[] = [];
  const bases: number[] = [];
  for (let i = 0; i < count; i++) {
    const process = os.createProcess();
    processes.push(process);
    bases.push(os.mmap(process, perProcess, RW));
  }
  const lines = perProcess / LINE;
  const rng = p.rng;
  let done = 0;
  let slice = 0;
  while (done < p.total) {
    for (let cpu = 0; cpu < cpus && done < p.total; cpu++) {
      const index = (slice + cpu) % count;
      os.switchTo(processes[index] as Process, cpu);
      const base = bases[index] as number;
      const n = Math.min(quantum, p.total - done);
      for (let i = 0; i < n; i++) {
        touch(
          os,
          cpu,
          base + rng.below(lines) * LINE,
          (rng.next() & 3) === 0 ? AccessKind.Write : AccessKind.Read,
        );
      }
      done += n;
      progressed(p, done, n);
    }
    slice++;
  }
  p.progress?.(p.total, p.total);
}

const multiprocess: Workload = {
  name: 'multiprocess',
  description:
    'Four processes (or one per CPU) time-sliced every 1,000 accesses, each over its share of the working set',
  run(os, options) {
    runMultiprocess(os, plan(options), 4, 1000);
  },
};

/**
 * Process creation churn, the case that made shadow paging slow: a shell forks a child (copying its
 * tables copy-on-write), parent and child write some shared pages (COW faults, invalidations), the
 * child execs (a fresh address space), touches new memory and exits (its tables and frames freed).
 */
function runChurn(os: GuestOs, p: Plan): void {
  const cpus = os.cpus.length;
  const childCpu = cpus > 1 ? 1 : 0;
  const shell = os.createProcess();
  os.switchTo(shell, 0);
  const shellBytes = Math.min(p.workingSet, 2 ** 20);
  const shellPages = shellBytes / 4096;
  const base = os.mmap(shell, shellBytes, RW);
  const rng = p.rng;
  const start = os.counters.accesses;
  // The shell's memory is all touched once before the churn starts.
  for (let page = 0; page < shellPages && os.counters.accesses - start < p.total; page++) {
    touch(os, 0, base + page * 4096, AccessKind.Write);
  }
  let reported = 0;
  while (os.counters.accesses - start < p.total) {
    const child = os.fork(shell);
    os.switchTo(child, childCpu);
    for (let i = 0; i < 16; i++) {
      touch(
        os,
        childCpu,
        base + rng.below(shellPages) * 4096,
        i % 2 === 0 ? AccessKind.Write : AccessKind.Read,
      );
    }
    os.switchTo(shell, 0);
    for (let i = 0; i < 4; i++) touch(os, 0, base + rng.below(shellPages) * 4096, AccessKind.Write);
    os.exec(child);
    os.switchTo(child, childCpu);
    const image = os.mmap(child, 256 * 1024, Prot.Read | Prot.Exec);
    const heap = os.mmap(child, 256 * 1024, RW);
    for (let page = 0; page < 64; page += 2) touch(os, childCpu, image + page * 4096, AccessKind.Execute);
    for (let page = 0; page < 64; page++) touch(os, childCpu, heap + page * 4096, AccessKind.Write);
    os.exit(child);
    if (childCpu === 0) os.switchTo(shell, 0);
    const done = os.counters.accesses - start;
    if (done - reported >= PROGRESS_EVERY) {
      reported = done;
      p.progress?.(Math.min(done, p.total), p.total);
    }
  }
  p.progress?.(p.total, p.total);
}

const processChurn: Workload = {
  name: 'process-churn',
  description:
    'A shell forks, the child writes shared pages (copy-on-write), execs, touches fresh memory and exits, over and over',
  run(os, options) {
    runChurn(os, plan(options));
  },
};

/**
 * DOS boxes under a 32-bit guest kernel: three virtual-8086 tasks time-sliced every 500 accesses
 * (DESQview's multitasking), each touching conventional memory, the HMA and its EMS page frame, and
 * banking a new logical page into the frame on one access in sixteen (EMM386's remapping).
 */
function runDosBoxes(os: GuestOs, p: Plan, boxCount: number, quantum: number): void {
  const boxes: DosBox[] = [];
  for (let i = 0; i < boxCount; i++) boxes.push(new DosBox(os, { emsPages: 64 }));
  const cpus = os.cpus.length;
  const rng = p.rng;
  let done = 0;
  let slice = 0;
  while (done < p.total) {
    const box = boxes[slice % boxCount] as DosBox;
    const cpu = slice % cpus;
    box.enter(cpu);
    const n = Math.min(quantum, p.total - done);
    for (let i = 0; i < n; i++) {
      const r = rng.next();
      if ((r & 15) === 0) box.mapPage(rng.below(EMS_PHYSICAL_PAGES), rng.below(box.emsPages));
      const kind = r % 3 === 0 ? AccessKind.Write : AccessKind.Read;
      const where = (r >>> 4) & 15;
      if (where < 8) box.access(cpu, Segment.DS, rng.below(0x9000), rng.below(0x10000), kind);
      else if (where < 14) box.access(cpu, Segment.ES, EMS_FRAME_SEGMENT, rng.below(0x10000), kind);
      else box.access(cpu, Segment.DS, 0xffff, 0x10 + rng.below(0xfff0), kind);
    }
    done += n;
    progressed(p, done, n);
    slice++;
  }
  p.progress?.(p.total, p.total);
}

const dosBox: Workload = {
  name: 'dos-box',
  description:
    'Three DOS boxes (virtual-8086 tasks of a 32-bit kernel) multitasked DESQview-style, banking EMS pages into the E000 page frame by rewriting PTEs and INVLPG',
  osOptions: { pagingMode: PagingMode.Legacy32, pcid: false },
  run(os, options) {
    runDosBoxes(os, plan(options), 3, 500);
  },
};

const mixed: Workload = {
  name: 'mixed',
  description:
    'The story in one run: TLB-missy random work on 4 KiB pages, then processes switching, then fork/exec/exit churn',
  run(os, options) {
    const p = plan(options);
    const first = Math.floor(p.total * 0.4);
    const second = Math.floor(p.total * 0.3);
    const third = p.total - first - second;
    const lines = p.workingSet / LINE;
    const report = (offset: number) =>
      p.progress === undefined ? undefined : (done: number) => p.progress?.(offset + done, p.total);
    singleProcess(
      os,
      { ...p, total: first, progress: report(0) },
      (_i, rng) => rng.below(lines) * LINE,
      quarterRandom,
    );
    runMultiprocess(os, { ...p, total: second, progress: report(first) }, 4, 1000);
    runChurn(os, { ...p, total: third, progress: report(first + second) });
  },
};

/** The built-in workloads by name. */
export const workloads = {
  sequential,
  strided,
  uniform,
  zipf,
  'pointer-chase': pointerChase,
  multiprocess,
  'process-churn': processChurn,
  'dos-box': dosBox,
  mixed,
} as const satisfies Record<string, Workload>;

/** A built-in workload's name. */
export type WorkloadName = keyof typeof workloads;

/** The names of the built-in workloads, in the order `--help` lists them. */
export const workloadNames = Object.keys(workloads) as WorkloadName[];

/** The workload `hvsim demo` runs. */
export const defaultWorkload: WorkloadName = 'mixed';

/** The built-in workload named `name`; the error lists the names there are. */
export function getWorkload(name: string): Workload {
  const workload = (workloads as Record<string, Workload>)[name];
  if (workload === undefined)
    throw new RangeError(`unknown workload "${name}" (one of: ${workloadNames.join(', ')})`);
  return workload;
}
