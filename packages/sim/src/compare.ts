import type { ReportDocument } from '@hvsim/report';
import { parse as parseYamlScalar } from 'yaml';
import { checkConfig, type SimConfig } from './config.js';
import { type PoolOptions, runMany } from './pool.js';
import { makeReport, type WorkloadSpec } from './run.js';

/**
 * Runs one workload on several configurations (on worker threads) and returns the report, its runs in
 * the order of `configs` with each one's overhead against the native run among them.
 */
export async function compare(
  configs: readonly SimConfig[],
  spec: WorkloadSpec,
  options: PoolOptions = {},
): Promise<ReportDocument> {
  const runs = await runMany(configs, spec, options);
  return makeReport(spec, options.seed ?? 1, runs);
}

/** One axis of a sweep: a configuration field (a dotted path such as `guest.hugePages`) and its values. */
export interface SweepAxis {
  readonly path: string;
  readonly values: readonly unknown[];
}

/**
 * The grid of a sweep: every combination of the axes' values applied to `base`, the last axis varying
 * fastest. Each point is checked as a configuration file would be and named after its values
 * (`npt-4k tlb=zen backing=2M`); a bad value is reported with the axis it came from.
 */
export function sweepGrid(base: SimConfig, axes: readonly SweepAxis[]): SimConfig[] {
  let points: Array<Array<[string, unknown]>> = [[]];
  for (const axis of axes) {
    if (axis.values.length === 0) throw new Error(`sweep axis ${axis.path} has no values`);
    points = points.flatMap((point) =>
      axis.values.map((value) => [...point, [axis.path, value] as [string, unknown]]),
    );
  }
  return points.map((point) => {
    const input = structuredClone({ ...base }) as Record<string, unknown>;
    for (const [path, value] of point) setPath(input, path, value);
    const name = [base.name, ...point.map(([path, value]) => `${path}=${String(value)}`)].join(' ');
    input.name = name;
    return checkConfig(input, `sweep point "${name}"`);
  });
}

/** Runs the grid of `axes` over `base` on worker threads; the report's runs are in grid order. */
export async function sweep(
  base: SimConfig,
  axes: readonly SweepAxis[],
  spec: WorkloadSpec,
  options: PoolOptions = {},
): Promise<ReportDocument> {
  return compare(sweepGrid(base, axes), spec, options);
}

/**
 * Reads a sweep axis as the command line writes it: `PATH=V1,V2,...`, each value a YAML scalar
 * (`true`, `4096`, `zen`, `2M`).
 */
export function parseSweepAxis(text: string): SweepAxis {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1)
    throw new Error(`expected PATH=VALUE,VALUE... (e.g. backing=4K,2M), got "${text}"`);
  return {
    path: text.slice(0, eq),
    values: text
      .slice(eq + 1)
      .split(',')
      .map((v) => parseYamlScalar(v.trim()) as unknown),
  };
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node: Record<string, unknown> = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}
