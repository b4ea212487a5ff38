import { Bench } from 'tinybench';

/** One measured task of a comparison: `ops` is how many operations one call of `fn` performs. */
export interface BenchCase {
  readonly name: string;
  readonly ops: number;
  readonly fn: () => void;
}

/** A measured case: operations per second, and the ratio of the baseline's rate to this case's. */
export interface BenchRow {
  readonly name: string;
  readonly opsPerSecond: number;
  readonly slowdownVsBaseline: number;
}

/**
 * Runs a baseline and the cases in one tinybench run (so the machine's noise hits them alike) and
 * prints operations per second with each case's slowdown against the baseline. Ratios, not absolute
 * times, are what hvsim reports: the machines are shared and noisy.
 */
export async function compareToBaseline(
  title: string,
  baseline: BenchCase,
  cases: readonly BenchCase[],
  options: { time?: number } = {},
): Promise<BenchRow[]> {
  const bench = new Bench({ time: options.time ?? 1500, warmup: true, warmupTime: 300 });
  const all = [baseline, ...cases];
  for (const c of all) bench.add(c.name, c.fn);
  await bench.run();
  const rate = (c: BenchCase): number => {
    const task = bench.getTask(c.name);
    const mean = task?.result && 'latency' in task.result ? task.result.latency.mean : Number.NaN;
    return (c.ops * 1000) / mean;
  };
  const base = rate(baseline);
  const rows = all.map((c) => {
    const r = rate(c);
    return { name: c.name, opsPerSecond: r, slowdownVsBaseline: base / r };
  });
  console.log(`\n${title}`);
  console.table(
    rows.map((r) => ({
      case: r.name,
      'ops/s': Math.round(r.opsPerSecond).toLocaleString('en-US'),
      'x baseline time': r.slowdownVsBaseline.toFixed(2),
    })),
  );
  return rows;
}
