/** The body of the long fuzz run's worker: reads inputs `from` to `to`, reporting each (see config-fuzz.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { judge, mutatedConfig, seedTexts, unbuildable } from '../src/config-mutations.test-helper.ts';
import { estimateMemory } from '../src/machine-memory.ts';

const { from, to, seed, shared } = workerData as {
  from: number;
  to: number;
  seed: number;
  shared: Int32Array;
};
const port = parentPort;
if (port === null) throw new Error('config-fuzz-work runs in a worker thread');
const arbitrary = mutatedConfig(seedTexts());
/** Machines built to see whether the packages take them: small ones only, so the run stays short. */
const BUILD_BYTES = 256 * 2 ** 20;

for (let index = from; index < to; index++) {
  Atomics.store(shared, 1, 0);
  const [text] = fc.sample(arbitrary, { seed: seed * 1_000_003 + index, numRuns: 1 });
  Atomics.store(shared, 0, index);
  Atomics.store(shared, 1, 1);
  const verdict = judge(text as string);
  if (verdict.kind === 'accepted') {
    let absurd = verdict.absurd;
    let built = false;
    const config = verdict.config;
    const backed =
      config.fill === 'up-front' && config.mmu !== 'native' ? config.vms * config.guest.memory : 0;
    if (
      absurd === null &&
      estimateMemory(config).bytes <= BUILD_BYTES &&
      backed <= 2 ** 32 &&
      config.cpus <= 64
    ) {
      Atomics.store(shared, 1, 2);
      absurd = unbuildable(config);
      built = true;
    }
    port.postMessage({ index, kind: 'accepted', absurd, built });
  } else if (verdict.kind === 'rejected') port.postMessage({ index, kind: 'rejected' });
  else port.postMessage({ index, kind: verdict.kind, why: verdict.why });
}
