import type { MemoryRun, ScenarioResult, StepResult } from './types.js';

/** One place where two results differ: the JSON path and the value on each side, as printed. */
export interface ResultDifference {
  /** `results[1].errorCode`, `memory[0].qwords[3]`, `results` (a different number of entries). */
  readonly path: string;
  readonly a: string;
  readonly b: string;
}

/**
 * The first `limit` differences between two results, in document order (results, then memory).
 * Per-access `walk`s and `cached` flags (and an explanation's `caches` and `removed`) are ignored:
 * they explain a translation, and two results are compared without them (spec/scenario.md). An empty array means the results agree. When two entries have different
 * outcomes only the outcome is reported for that access, not each field.
 */
export function compareResults(a: ScenarioResult, b: ScenarioResult, limit = 20): ResultDifference[] {
  const out: ResultDifference[] = [];
  const add = (path: string, left: string, right: string): boolean => {
    if (left !== right && out.length < limit) out.push({ path, a: left, b: right });
    return out.length < limit;
  };
  if (!add('results', count(a.results.length), count(b.results.length))) return out;
  const accesses = Math.min(a.results.length, b.results.length);
  for (let i = 0; i < accesses; i++) {
    if (!compareEntry(`results[${i}]`, a.results[i], b.results[i], add)) return out;
  }
  if (!add('memory', runs(a.memory.length), runs(b.memory.length))) return out;
  const runCount = Math.min(a.memory.length, b.memory.length);
  for (let i = 0; i < runCount; i++) {
    if (!compareRun(`memory[${i}]`, a.memory[i], b.memory[i], add)) return out;
  }
  return out;
}

/** Formats a difference for a terminal: `results[1].errorCode: 0x7 vs 0x5`. */
export function formatDifference(difference: ResultDifference): string {
  return `${difference.path}: ${difference.a} vs ${difference.b}`;
}

type Add = (path: string, a: string, b: string) => boolean;

/** Fields that explain a result and are never compared (spec/scenario.md). */
const EXPLANATION: ReadonlySet<string> = new Set(['outcome', 'walk', 'cached', 'caches', 'removed']);

function compareEntry(path: string, a: StepResult, b: StepResult, add: Add): boolean {
  if (a.outcome !== b.outcome)
    return add(`${path}.outcome`, JSON.stringify(a.outcome), JSON.stringify(b.outcome));
  const left = a as unknown as Record<string, unknown>;
  const right = b as unknown as Record<string, unknown>;
  for (const key of Object.keys(left)) {
    if (EXPLANATION.has(key)) continue;
    if (!add(`${path}.${key}`, show(left[key]), show(right[key]))) return false;
  }
  return true;
}

function compareRun(path: string, a: MemoryRun, b: MemoryRun, add: Add): boolean {
  if (!add(`${path}.address`, show(a.address), show(b.address))) return false;
  if (!add(`${path}.qwords`, count(a.qwords.length, 'qword'), count(b.qwords.length, 'qword'))) return false;
  const words = Math.min(a.qwords.length, b.qwords.length);
  for (let i = 0; i < words; i++) {
    if (!add(`${path}.qwords[${i}]`, show(a.qwords[i]), show(b.qwords[i]))) return false;
  }
  return true;
}

function show(value: unknown): string {
  if (typeof value === 'bigint') return `0x${value.toString(16)}`;
  if (value === undefined) return '(absent)';
  return JSON.stringify(value);
}

function count(n: number, what = 'entry'): string {
  const plural = what === 'entry' ? 'entries' : `${what}s`;
  return `${n} ${n === 1 ? what : plural}`;
}

function runs(n: number): string {
  return count(n, 'run');
}
