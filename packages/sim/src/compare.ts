import { DocumentError } from '@hvsim/errors';
import type { ReportDocument } from '@hvsim/report';
import { checkConfig, type SimConfig } from './config.js';
import { readConfigText } from './config-text.js';
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
    const name = [base.name, ...point.map(([path, value]) => `${path}=${valueName(value)}`)].join(' ');
    input.name = name;
    return checkConfig(input, `sweep point "${name}"`);
  });
}

/** A value as a point's name shows it: scalars as they are, mappings and lists as JSON. */
function valueName(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
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
 * Reads a sweep axis as the command line writes it: `PATH=V1,V2,...`, each value YAML: a scalar
 * (`true`, `4096`, `zen`, `2M`) or a flow mapping or sequence (`{entries: 32, ways: 4}`), split at
 * the commas outside them, each read by the configuration reader with its bounds. A value that is
 * not YAML, or exceeds those bounds, is an error naming it and its position in the list.
 */
export function parseSweepAxis(text: string): SweepAxis {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1)
    throw new Error(`expected PATH=VALUE,VALUE... (e.g. backing=4K,2M), got "${text}"`);
  const path = text.slice(0, eq);
  return {
    path,
    values: splitValues(text.slice(eq + 1), text).map((v, i) => {
      // The configuration reader's bounds (size, line length, depth, items, aliases, tags) hold for
      // a value given on the command line as for one in a file.
      try {
        return readConfigText(v, '--set').value;
      } catch (error) {
        // readConfigText reports every problem as a DocumentError with at least one issue; anything
        // else is a bug in hvsim, not in the value, and goes on as it is.
        if (!(error instanceof DocumentError)) throw error;
        const shown = v.length > 60 ? `${v.slice(0, 60)}...` : v;
        throw new Error(`--set ${path}: value ${i + 1} (${shown}) is refused: ${error.issues[0].message}`);
      }
    }),
  };
}

/**
 * The values of an axis: split at the commas outside brackets, braces and quotes, so a value may be a
 * YAML flow mapping or sequence (`nestedTlb={entries: 32, ways: 4},{entries: 64, ways: 4}`).
 */
function splitValues(list: string, text: string): string[] {
  const values: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (quote !== null) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"') i++;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      values.push(list.slice(start, i).trim());
      start = i + 1;
    }
    if (depth < 0) throw new Error(`--set ${text}: an unmatched ${c}`);
  }
  if (quote !== null || depth !== 0)
    throw new Error(`--set ${text}: an unclosed ${quote ?? 'bracket or brace'}`);
  values.push(list.slice(start).trim());
  const empty = values.indexOf('');
  if (empty >= 0) throw new Error(`--set ${text}: value ${empty + 1} is empty`);
  return values;
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
