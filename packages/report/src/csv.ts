import { guestCounters } from './columns.js';
import { CYCLE_COMPONENTS, componentCycles, type ReportDocument, type RunReport } from './report-document.js';

const FIXED: ReadonlyArray<readonly [string, (r: RunReport) => string | number | boolean | null]> = [
  ['config', (r) => r.config],
  ['mmu', (r) => r.mmu],
  ['vendor', (r) => r.vendor],
  ['tagged', (r) => r.tagged],
  ['backing', (r) => r.backing],
  ['tlb', (r) => r.tlb],
  ['accesses', (r) => r.accesses],
  ['workload_accesses', (r) => r.workloadAccesses],
  ['tlb_hits', (r) => r.tlbHits],
  ['tlb_hit_rate', (r) => r.tlbHitRate],
  ['walks', (r) => r.walks],
  ['walk_references', (r) => r.walkReferences],
  ['references_per_walk', (r) => r.referencesPerWalk],
  ['walk_cache_hits', (r) => r.walkCacheHits],
  ['exits', (r) => r.exits],
  ['world_switches', (r) => r.worldSwitches],
  ['entry_flushes', (r) => r.entryFlushes],
  ['tlb_flushes', (r) => r.tlbFlushes],
  ['guest_page_faults', (r) => r.guestPageFaults],
  ['pages_populated_on_fault', (r) => r.pagesPopulatedOnFault],
  ['ipis', (r) => r.ipis],
  ['shadow_fills', (r) => r.shadowFills],
  ['emulations', (r) => r.emulations],
  ['cycles', (r) => r.cycles],
  ['cycles_per_access', (r) => r.cyclesPerAccess],
  ['overhead_vs_native', (r) => r.overheadVsNative],
  // The breakdown, a column per component whether or not the report's runs spent anything on it, so
  // every report has these columns (`cycles_tlb_hits`, ..., `cycles_emulation`); they add up to `cycles`.
  ...CYCLE_COMPONENTS.map((c): readonly [string, (r: RunReport) => number] => [
    `cycles_${columnName(c)}`,
    (r) => componentCycles(r.cyclesBy, c),
  ]),
];

/**
 * A column name for a level, exit kind or counter name: lower-case letters, digits and underscores,
 * words split at spaces, punctuation and camel-case humps (`L1 DTLB` -> `l1_dtlb`, `pageFaults` ->
 * `page_faults`), so every header is an identifier a data-frame library takes as it is.
 */
export function columnName(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/**
 * The TLB levels and exit kinds that a CSV has a column for whether its runs have them or not, so
 * that the CSVs of different reports (a `run` of one configuration, a `compare`, a sweep) have the
 * same columns and can be joined. @hvsim/sim's `REPORT_CSV_COLUMNS` holds hvsim's.
 */
export interface CsvColumns {
  /** TLB level names, in column order. */
  readonly tlbLevels: readonly string[];
  /** Exit kinds (sorted in the CSV with any others that occur). */
  readonly exitKinds: readonly string[];
}

const NO_COLUMNS: CsvColumns = { tlbLevels: [], exitKinds: [] };

/**
 * The report as CSV (RFC 4180: comma-separated, CRLF line ends, fields quoted when they hold a
 * comma, quote or line break): a header of identifiers, then one row per configuration. The fixed
 * columns end with `cycles_<component>` for each component of `cyclesBy` (in every report, adding
 * up to `cycles`). After the fixed columns come `tlb_hits_<level>` per TLB level, `exits_<kind>` per
 * exit kind and `guest_os_<counter>` per guest-kernel counter (names by `columnName`): those of
 * `columns`, then any other that a run of the report has. A cell a configuration lacks is empty, not
 * 0: a level its TLB hierarchy does not have, any exit kind of a native run (no hypervisor), a
 * counter its guest does not keep; and the overhead when there is no native run to compare with.
 */
export function renderCsv(report: ReportDocument, columns: CsvColumns = NO_COLUMNS): string {
  const levels = [...columns.tlbLevels];
  for (const run of report.runs)
    for (const level of run.tlbLevels) if (!levels.includes(level.name)) levels.push(level.name);
  const kinds = new Set(columns.exitKinds);
  for (const run of report.runs) for (const kind of Object.keys(run.exitsByKind)) kinds.add(kind);
  const exitKinds = [...kinds].sort();
  const guest = guestCounters(report);
  const header = [
    ...FIXED.map(([name]) => name),
    ...levels.map((l) => `tlb_hits_${columnName(l)}`),
    ...exitKinds.map((k) => `exits_${columnName(k)}`),
    ...guest.map((g) => `guest_os_${columnName(g)}`),
  ];
  const rows = report.runs.map((run) => [
    ...FIXED.map(([, value]) => value(run)),
    ...levels.map((l) => run.tlbLevels.find((level) => level.name === l)?.hits ?? null),
    ...exitKinds.map((k) => (run.mmu === 'native' ? null : (run.exitsByKind[k] ?? 0))),
    ...guest.map((g) => run.guest[g] ?? null),
  ]);
  return [header, ...rows].map((row) => `${row.map(field).join(',')}\r\n`).join('');
}

function field(value: string | number | boolean | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The report as `hvsim.report/1` JSON, two-space indented, ending in a newline. */
export function renderJson(report: ReportDocument): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
