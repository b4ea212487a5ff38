import { readFileSync } from 'node:fs';
import { expect, it, vi } from 'vitest';
import {
  highlights,
  parseReport,
  REPORT_FORMAT,
  type RunReport,
  renderCsv,
  renderHtml,
  renderTable,
} from './index.js';

/*
 * The README's example, verbatim (between the markers), run here with the file system replaced by a
 * map, on a report written by hand: two runs whose table rows are checked by arithmetic below.
 */

function readmeExample(
  readFileSync: (path: string, encoding: 'utf8') => string,
  writeFileSync: (path: string, text: string) => void,
): void {
  // README example begin
  // A report as `hvsim compare --json -o report.json` writes it (or @hvsim/sim's `compare` returns it).
  const report = parseReport(readFileSync('report.json', 'utf8'), 'report.json');

  console.log(renderTable(report)); // one row per configuration, then the exits by kind
  console.log(highlights(report).join('\n')); // what tagging, nested paging and large pages did
  writeFileSync('report.csv', renderCsv(report)); // RFC 4180, one row per configuration
  writeFileSync('report.html', renderHtml(report)); // one page, Chart.js inline: works offline
  // README example end
}

const between = (text: string) =>
  text
    .slice(text.indexOf('// A report as'), text.indexOf('works offline') + 'works offline'.length)
    .replace(/\s+/g, '');

const run = (config: string, over: Partial<RunReport>): RunReport => ({
  config,
  description: config,
  mmu: 'native',
  vendor: 'none',
  tagged: false,
  backing: '-',
  tlb: 'Skylake-class',
  accesses: 2000,
  workloadAccesses: 2000,
  tlbHits: 1500,
  tlbHitRate: 0.75,
  tlbLevels: [{ name: 'L1 DTLB', hits: 1500, hitRate: 0.75 }],
  walks: 500,
  walkReferences: 2000,
  referencesPerWalk: 4,
  walkCacheHits: 0,
  exits: 0,
  exitsByKind: {},
  worldSwitches: 0,
  entryFlushes: 0,
  tlbFlushes: 0,
  guestPageFaults: 0,
  pagesPopulatedOnFault: 0,
  ipis: 0,
  shadowFills: 0,
  emulations: 0,
  costs: {
    tlbHit: [0],
    walkReference: 12,
    worldSwitch: 1360,
    exitHandling: 1152,
    pagePopulate: 2000,
    ipi: 2000,
    shadowFill: 1000,
    emulation: 2500,
  },
  // 2,000 references at 12 cycles.
  cyclesBy: {
    tlbHits: { 'L1 DTLB': 0 },
    walkReferences: 24000,
    worldSwitches: 0,
    exitHandling: {},
    pagePopulation: 0,
    ipis: 0,
    shadowFills: 0,
    emulation: 0,
  },
  cycles: 24000,
  cyclesPerAccess: 12,
  overheadVsNative: 1,
  guest: {},
  ...over,
});

it("runs the README's example", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const self = readFileSync(new URL('./readme.test.ts', import.meta.url), 'utf8');
  expect(between(self)).toBe(between(readme));

  const input = JSON.stringify({
    format: REPORT_FORMAT,
    workload: { name: 'zipf', description: 'hot pages', seed: 1 },
    runs: [
      run('native', {}),
      // 500 walks of 24 references each, at 4 cycles: 48,000; 6 entries and 5 exits at half of 800:
      // 4,400; 5 NPFs handled at 520 and 5 pages backed at 1,000: 2,600 + 5,000. In all 60,000 cycles
      // over 2,000 accesses = 30 = 2.5 x native's 12.
      run('npt-4k', {
        mmu: 'nested',
        vendor: 'amd',
        tagged: true,
        backing: '4K',
        walkReferences: 12000,
        referencesPerWalk: 24,
        exits: 5,
        exitsByKind: { NPF: 5 },
        worldSwitches: 6,
        pagesPopulatedOnFault: 5,
        costs: {
          tlbHit: [0],
          walkReference: 4,
          worldSwitch: 800,
          exitHandling: 520,
          pagePopulate: 1000,
          ipi: 2000,
          shadowFill: 1000,
          emulation: 2500,
        },
        cyclesBy: {
          tlbHits: { 'L1 DTLB': 0 },
          walkReferences: 48000,
          worldSwitches: 4400,
          exitHandling: { NPF: 2600 },
          pagePopulation: 5000,
          ipis: 0,
          shadowFills: 0,
          emulation: 0,
        },
        cycles: 60000,
        cyclesPerAccess: 30,
        overheadVsNative: 2.5,
      }),
    ],
  });
  const files = new Map<string, string>([['report.json', input]]);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => lines.push(line));
  try {
    readmeExample(
      (path) => files.get(path) ?? '',
      (path, text) => files.set(path, text),
    );
  } finally {
    log.mockRestore();
  }
  const table = lines[0].split('\n');
  // 2,000 accesses, none retried; 60,000 cycles over them, 30 each.
  expect(table[5]).toMatch(
    /^npt-4k +2,000 +0 +75\.0% +75\.0% +500 +24\.00 +0 +5 +6 +0 +60,000 +30\.00 +2\.50x$/,
  );
  expect(lines[1]).toBe(''); // no untagged, shadow or 2 MiB twin to compare with
  expect(files.get('report.csv')?.split('\r\n')).toHaveLength(4);
  expect(files.get('report.html')).toContain('Chart.js v4');
});
