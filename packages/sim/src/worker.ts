import type { MessagePort } from 'node:worker_threads';
import type { RunReport } from '@hvsim/report';
import type { SimConfig } from './config.js';
import { runConfig, type WorkloadSpec } from './run.js';

/** One run a pool worker does: a configuration and a workload, and a port to report progress on. */
export interface RunTask {
  readonly config: SimConfig;
  readonly spec: WorkloadSpec;
  readonly seed: number;
  readonly progress?: MessagePort;
}

/** The pool worker's entry (tinypool calls the default export with each task). */
export default async function runTask(task: RunTask): Promise<RunReport> {
  const port = task.progress;
  try {
    return await runConfig(task.config, task.spec, {
      seed: task.seed,
      ...(port === undefined ? {} : { onProgress: (done: number) => port.postMessage(done) }),
    });
  } finally {
    port?.close();
  }
}
