import type { CycleComponent, ReportDocument, RunReport } from './report-document.js';

/*
 * What the table and the CSV show, in one place: the fixed figures of every run, then one column per
 * TLB level and per exit kind that occurs in any run of the report (in order of first appearance for
 * levels, sorted for exit kinds), so that two renderings of the same report always line up.
 */

/** TLB level names with any hit in the report, in the order the hierarchies list them. */
export function levelNames(report: ReportDocument): string[] {
  const names: string[] = [];
  for (const run of report.runs) {
    for (const level of run.tlbLevels)
      if (level.hits > 0 && !names.includes(level.name)) names.push(level.name);
  }
  return names;
}

/** Exit kinds that occur in the report, sorted. */
export function exitKinds(report: ReportDocument): string[] {
  const kinds = new Set<string>();
  for (const run of report.runs)
    for (const [kind, n] of Object.entries(run.exitsByKind)) if (n > 0) kinds.add(kind);
  return [...kinds].sort();
}

/** The hit rate of the named level in `run` (0 when the run's hierarchy has no such level). */
export function levelRate(run: RunReport, name: string): number {
  return run.tlbLevels.find((level) => level.name === name)?.hitRate ?? 0;
}

/** Guest counter names that occur in the report, sorted. */
export function guestCounters(report: ReportDocument): string[] {
  const names = new Set<string>();
  for (const run of report.runs) for (const name of Object.keys(run.guest)) names.add(name);
  return [...names].sort();
}

/** An integer with thousands separators (`1,234,567`), the same on every machine and locale. */
export function groupDigits(value: number): string {
  const text = Math.round(value).toString();
  const negative = text.startsWith('-');
  const digits = negative ? text.slice(1) : text;
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return negative ? `-${out}` : out;
}

/** A percentage with one decimal (`93.4%`). */
export function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

/** How the table, the CSV and the HTML name each component of `cyclesBy`, in `CYCLE_COMPONENTS` order. */
export const COMPONENT_TITLES: Readonly<Record<CycleComponent, string>> = {
  tlbHits: 'TLB hits',
  walkReferences: 'walk refs',
  worldSwitches: 'world switches',
  exitHandling: 'exit handling',
  pagePopulation: 'page population',
  ipis: 'IPIs',
  shadowFills: 'shadow fills',
  emulation: 'emulation',
};
