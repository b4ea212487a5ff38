/**
 * The long fuzz run of the configuration reader: mutated bundled configurations (the mutations of
 * src/config-mutations.test-helper.ts, as the fuzz test uses), each read by `parseConfig` in a worker
 * thread that a watchdog ends when one input takes more than 2 seconds (a hang, counted, the run going
 * on with the next input). Every accepted machine is judged on its own terms (absurd or not) and,
 * when it is small enough to build quickly, built with its guest OS, so that a machine the packages
 * refuse counts as absurdly accepted too. It prints the counts:
 *
 *   accepted, rejected-located, unlocated, crashes, hangs (>2 s), absurd-accepted
 *
 * Run: pnpm --filter @hvsim/sim fuzz [-- --inputs 100000 --seed 18]
 */
import { Worker } from 'node:worker_threads';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const inputs = option('inputs', 100_000);
const seed = option('seed', 18);
/** Milliseconds one read may take before it counts as a hang. */
const HANG_MS = 2000;
/** Milliseconds building one accepted machine may take before the run gives up on it. */
const BUILD_MS = 60_000;

/** The worker's progress, shared: the input it is on, and whether it is reading (1) or building (2). */
const shared = new Int32Array(new SharedArrayBuffer(8));
const counts: Record<string, number> = {
  accepted: 0,
  'rejected-located': 0,
  unlocated: 0,
  crashes: 0,
  'hangs (>2 s)': 0,
  'absurd-accepted': 0,
  'built (of the accepted)': 0,
  'build timeouts': 0,
};
const examples: Record<string, string[]> = {};
const note = (kind: string, why: string) => {
  const list = examples[kind] ?? [];
  examples[kind] = list;
  if (list.length < 5) list.push(why);
};

interface Message {
  readonly index: number;
  readonly kind: 'accepted' | 'rejected' | 'unlocated' | 'crash';
  readonly why?: string;
  readonly absurd?: string | null;
  readonly built?: boolean;
}

const started = performance.now();
let next = 0;
while (next < inputs) {
  next = await runWorker(next);
}
const seconds = ((performance.now() - started) / 1000).toFixed(0);
console.log(`configuration reader fuzz: ${inputs} inputs, seed ${seed}, ${seconds} s`);
for (const [name, value] of Object.entries(counts)) console.log(`  ${name.padEnd(26)} ${value}`);
for (const [kind, list] of Object.entries(examples)) {
  console.log(`examples of ${kind}:`);
  for (const why of list) console.log(`  ${why.slice(0, 300)}`);
}
const failures = counts.unlocated + counts.crashes + counts['hangs (>2 s)'] + counts['absurd-accepted'];
process.exitCode = failures === 0 ? 0 : 1;

/** Runs a worker from input `from` until it finishes or hangs; returns the next input to run. */
function runWorker(from: number): Promise<number> {
  Atomics.store(shared, 0, from);
  Atomics.store(shared, 1, 0);
  const worker = new Worker(new URL('./config-fuzz-worker.mjs', import.meta.url), {
    workerData: { from, to: inputs, seed, shared },
    execArgv: ['--conditions=@hvsim/source'],
  });
  return new Promise((resolve, reject) => {
    let seen = -1;
    let since = performance.now();
    let settled = false;
    const finish = (value: number) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      resolve(value);
    };
    worker.on('message', (m: Message) => {
      if (m.kind === 'accepted') {
        counts.accepted++;
        if (m.built) counts['built (of the accepted)']++;
        if (m.absurd !== null && m.absurd !== undefined) {
          counts['absurd-accepted']++;
          note('absurd-accepted', `#${m.index}: ${m.absurd}`);
        }
      } else if (m.kind === 'rejected') counts['rejected-located']++;
      else if (m.kind === 'unlocated') {
        counts.unlocated++;
        note('unlocated', `#${m.index}: ${m.why}`);
      } else {
        counts.crashes++;
        note('crashes', `#${m.index}: ${m.why}`);
      }
    });
    worker.on('error', reject);
    worker.on('exit', () => finish(inputs));
    const watchdog = setInterval(() => {
      const index = Atomics.load(shared, 0);
      const phase = Atomics.load(shared, 1);
      if (index !== seen) {
        seen = index;
        since = performance.now();
        return;
      }
      const waited = performance.now() - since;
      if ((phase === 1 && waited > HANG_MS) || (phase === 2 && waited > BUILD_MS)) {
        if (phase === 1) {
          counts['hangs (>2 s)']++;
          note('hangs (>2 s)', `#${index}`);
        } else counts['build timeouts']++;
        settled = true;
        clearInterval(watchdog);
        void worker.terminate().then(() => resolve(index + 1));
      }
    }, 50);
  });
}
