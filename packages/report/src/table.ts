import { COMPONENT_TITLES, exitKinds, groupDigits, levelNames, levelRate, percent } from './columns.js';
import { CYCLE_COMPONENTS, componentCycles, type ReportDocument, type RunReport } from './report-document.js';

/** Options of the terminal table. */
export interface TableOptions {
  /** Colour the best and worst cycles per access with ANSI escapes (default false: plain text). */
  readonly color?: boolean;
}

interface Column {
  readonly title: string;
  readonly left?: boolean;
  readonly cell: (run: RunReport) => string;
}

/**
 * The report as terminal tables: one row per configuration with the workload's accesses and the
 * translations retried after a guest #PF, TLB hit rates (overall and by level, over all
 * translations), walks, memory references per walk, walk-cache hits, exits, world switches and the
 * flushes they caused, estimated cycles in all and per workload access, and the overhead against the
 * native run; a line saying what each rate divides by; then cycles per workload access by component
 * (`cyclesBy`), adding up to the total; then the exits by kind. Plain text, the same
 * bytes for the same report.
 */
export function renderTable(report: ReportDocument, options: TableOptions = {}): string {
  const levels = levelNames(report);
  const columns: Column[] = [
    { title: 'configuration', left: true, cell: (r) => r.config },
    { title: 'accesses', cell: (r) => groupDigits(r.workloadAccesses) },
    { title: '+retried', cell: (r) => groupDigits(r.accesses - r.workloadAccesses) },
    { title: 'TLB hits', cell: (r) => percent(r.tlbHitRate) },
    ...levels.map((name): Column => ({ title: name, cell: (r) => percent(levelRate(r, name)) })),
    { title: 'walks', cell: (r) => groupDigits(r.walks) },
    { title: 'refs/walk', cell: (r) => r.referencesPerWalk.toFixed(2) },
    { title: 'PWC hits', cell: (r) => groupDigits(r.walkCacheHits) },
    { title: 'exits', cell: (r) => groupDigits(r.exits) },
    { title: 'switches', cell: (r) => groupDigits(r.worldSwitches) },
    { title: 'TLB flushes', cell: (r) => groupDigits(r.tlbFlushes) },
    { title: 'cycles', cell: (r) => groupDigits(Math.round(r.cycles)) },
    { title: 'cycles/access', cell: (r) => r.cyclesPerAccess.toFixed(2) },
    {
      title: 'vs native',
      cell: (r) => (r.overheadVsNative === null ? '-' : `${r.overheadVsNative.toFixed(2)}x`),
    },
  ];
  const header = `${report.workload.name} (seed ${report.workload.seed}): ${report.workload.description}`;
  let text = `${header}\n\n${grid(columns, report.runs, options.color === true ? highlight(report) : null)}`;
  text +=
    "\naccesses are the workload's own, each counted once by the guest kernel (a workload finishes the round it is in, such as a fork/exec/exit cycle, so it can make a few more than asked for). TLB hits are over every translation (accesses + retried: an access the guest kernel retried after its #PF is translated again); cycles/access is cycles over the workload's accesses, the same count for every configuration.\n";
  const perAccess = (r: RunReport, cycles: number) =>
    (r.workloadAccesses === 0 ? 0 : cycles / r.workloadAccesses).toFixed(2);
  const costColumns: Column[] = [
    { title: 'cycles/access by', left: true, cell: (r) => r.config },
    ...CYCLE_COMPONENTS.map(
      (c): Column => ({
        title: COMPONENT_TITLES[c],
        cell: (r) => perAccess(r, componentCycles(r.cyclesBy, c)),
      }),
    ),
    { title: 'total', cell: (r) => perAccess(r, r.cycles) },
  ];
  text += `\n${grid(costColumns, report.runs, null)}`;
  text +=
    "\nEach component is what the cost model charged for it (the report's costs), over the workload's accesses; they add up to cycles/access (cyclesBy in the JSON, exactly, with TLB hits by level and exit handling by kind).\n";
  const kinds = exitKinds(report);
  if (kinds.length > 0) {
    const exitColumns: Column[] = [
      { title: 'exits by kind', left: true, cell: (r) => r.config },
      ...kinds.map((kind): Column => ({ title: kind, cell: (r) => groupDigits(r.exitsByKind[kind] ?? 0) })),
    ];
    text += `\n${grid(
      exitColumns,
      report.runs.filter((r) => r.exits > 0),
      null,
    )}`;
  }
  return text;
}

function grid(
  columns: readonly Column[],
  runs: readonly RunReport[],
  paint: ((run: RunReport, column: string, text: string) => string) | null,
): string {
  const cells = runs.map((run) => columns.map((c) => c.cell(run)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((row) => row[i].length)));
  const line = (values: readonly string[], run: RunReport | null) =>
    `${values
      .map((value, i) => {
        const padded = columns[i].left ? value.padEnd(widths[i]) : value.padStart(widths[i]);
        return run === null || paint === null ? padded : paint(run, columns[i].title, padded);
      })
      .join('  ')
      .trimEnd()}\n`;
  let text = line(
    columns.map((c) => c.title),
    null,
  );
  text += line(
    widths.map((w) => '-'.repeat(w)),
    null,
  );
  runs.forEach((run, i) => {
    text += line(cells[i], run);
  });
  return text;
}

/** Green for the cheapest configuration's cycles per access, red for the dearest. */
function highlight(report: ReportDocument): (run: RunReport, column: string, text: string) => string {
  const costs = report.runs.map((r) => r.cyclesPerAccess);
  const best = Math.min(...costs);
  const worst = Math.max(...costs);
  return (run, column, text) => {
    if (column !== 'cycles/access' || best === worst) return text;
    if (run.cyclesPerAccess === best) return `\u001b[32m${text}\u001b[39m`;
    if (run.cyclesPerAccess === worst) return `\u001b[31m${text}\u001b[39m`;
    return text;
  };
}
