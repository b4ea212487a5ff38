import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import type { RunReport } from '@hvsim/report';
import { Tinypool } from 'tinypool';
import type { SimConfig } from './config.js';
import { checkMemory } from './machine-memory.js';
import { runConfig, type WorkloadSpec } from './run.js';
import type { RunTask } from './worker.js';

/** How several runs are spread over threads. */
export interface PoolOptions {
  /** The seed of every run (default 1). */
  readonly seed?: number;
  /**
   * Worker threads (default: the machine's parallelism, at most the number of runs). 0 or 1 runs
   * everything on the calling thread, one run after another.
   */
  readonly workers?: number;
  /** Called now and then with the accesses done so far over all runs. */
  readonly onProgress?: (done: number) => void;
}

/**
 * Where the worker module is and how to start it: the compiled `worker.js` beside this file, or, when
 * running from TypeScript source (development, tests), `worker-source.mjs`, which loads `worker.ts`
 * through tsx, with the source condition.
 */
function workerEntry(): { filename: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const filename = new URL(fromSource ? './worker-source.mjs' : './worker.js', import.meta.url).href;
  return { filename, execArgv: fromSource ? ['--conditions=@hvsim/source'] : [] };
}

/**
 * Runs `configs` on `spec` and returns their reports in the order of `configs`, whatever order the
 * threads finish in: the result depends only on the configurations, the workload and the seed.
 */
export async function runMany(
  configs: readonly SimConfig[],
  spec: WorkloadSpec,
  options: PoolOptions = {},
): Promise<RunReport[]> {
  const seed = options.seed ?? 1;
  // Every machine is checked before any run starts, so a refusal is an InputError here, not a worker's failure.
  for (const config of configs) checkMemory(config);
  const threads = Math.min(options.workers ?? availableParallelism(), configs.length);
  const done = new Array<number>(configs.length).fill(0);
  const report = options.onProgress;
  const progressOf = (i: number) => (n: number) => {
    done[i] = n;
    report?.(done.reduce((a, b) => a + b, 0));
  };
  if (threads <= 1) {
    const runs: RunReport[] = [];
    for (let i = 0; i < configs.length; i++) {
      runs.push(
        await runConfig(configs[i], spec, { seed, ...(report ? { onProgress: progressOf(i) } : {}) }),
      );
    }
    return runs;
  }
  const { filename, execArgv } = workerEntry();
  const pool = new Tinypool({ filename, execArgv, minThreads: threads, maxThreads: threads, idleTimeout: 0 });
  try {
    return await Promise.all(
      configs.map((config, i) => {
        if (report === undefined)
          return pool.run({ config, spec, seed } satisfies RunTask) as Promise<RunReport>;
        const channel = new MessageChannel();
        const onProgress = progressOf(i);
        channel.port1.on('message', (n: number) => onProgress(n));
        const task: RunTask = { config, spec, seed, progress: channel.port2 };
        return (pool.run(task, { transferList: [channel.port2] }) as Promise<RunReport>).finally(() =>
          channel.port1.close(),
        );
      }),
    );
  } finally {
    await pool.destroy();
  }
}
