import { groupDigits } from './columns.js';
import type { ReportDocument, RunReport } from './report-document.js';

/*
 * The few comparisons a report of the default configurations exists to show, in words: each pairs
 * two runs that differ in one thing only (tags, the MMU strategy, the nested page size), so the
 * difference between them is that thing's doing.
 */

function find(runs: readonly RunReport[], match: (r: RunReport) => boolean): RunReport | undefined {
  return runs.find(match);
}

function cycles(r: RunReport): string {
  return r.cyclesPerAccess.toFixed(1);
}

/**
 * Sentences on what the report's runs show, for the pairs it holds: what tagging saves on world
 * switches (a tagged run against its untagged twin), what nested paging saves in exits and costs in
 * walk length (against shadow paging), and what 2 MiB nested pages give back (against 4 KiB). Pairs
 * that are not in the report are left out.
 */
export function highlights(report: ReportDocument): string[] {
  const runs = report.runs;
  const lines: string[] = [];
  const tagged = find(runs, (r) => r.mmu === 'nested' && r.tagged && r.backing === '4K');
  // Of the vendors' tagged and untagged 4 KiB pairs, the one where tags matter most.
  let pair: [RunReport, RunReport] | null = null;
  for (const t of runs.filter((r) => r.mmu === 'nested' && r.tagged && r.backing === '4K')) {
    const u = find(
      runs,
      (r) => r.mmu === 'nested' && !r.tagged && r.vendor === t.vendor && r.backing === '4K',
    );
    if (
      u &&
      (pair === null ||
        u.cyclesPerAccess - t.cyclesPerAccess > pair[1].cyclesPerAccess - pair[0].cyclesPerAccess)
    )
      pair = [t, u];
  }
  if (pair !== null) {
    const [taggedRun, untagged] = pair;
    lines.push(
      `Tagging: ${untagged.config} flushes the TLB ${groupDigits(untagged.tlbFlushes)} times in ${groupDigits(untagged.worldSwitches)} world switches ` +
        `and makes ${groupDigits(untagged.walks - taggedRun.walks)} more walks; with tags (${taggedRun.config}) ${groupDigits(taggedRun.tlbFlushes)} flush${taggedRun.tlbFlushes === 1 ? '' : 'es'}, ` +
        `${cycles(taggedRun)} instead of ${cycles(untagged)} cycles per access.`,
    );
  }
  const shadow = find(runs, (r) => r.mmu === 'shadow' && r.tagged) ?? find(runs, (r) => r.mmu === 'shadow');
  if (shadow && tagged) {
    lines.push(
      `Nested paging: ${tagged.config} takes ${groupDigits(tagged.exits)} exits where ${shadow.config} takes ${groupDigits(shadow.exits)}, ` +
        `but its walks make ${tagged.referencesPerWalk.toFixed(2)} memory references instead of ${shadow.referencesPerWalk.toFixed(2)}.`,
    );
  }
  const large =
    tagged &&
    find(runs, (r) => r.mmu === 'nested' && r.tagged && r.vendor === tagged.vendor && r.backing === '2M');
  if (tagged && large) {
    lines.push(
      `Large pages: with 2 MiB nested pages (${large.config}) a walk makes ${large.referencesPerWalk.toFixed(2)} references instead of ` +
        `${tagged.referencesPerWalk.toFixed(2)} and the nested faults fall from ${groupDigits(tagged.exits)} exits to ${groupDigits(large.exits)}: ` +
        `${cycles(large)} instead of ${cycles(tagged)} cycles per access` +
        (large.overheadVsNative === null ? '.' : `, ${large.overheadVsNative.toFixed(2)}x native.`),
    );
  }
  return lines;
}
