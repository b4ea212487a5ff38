import { InputError } from '@hvsim/errors';
import { describe, expect, it } from 'vitest';
import { columnName, renderCsv, renderJson } from './csv.js';
import { highlights } from './highlights.js';
import { chartLibrarySource, renderHtml } from './html.js';
import { parseReport, REPORT_FORMAT, type ReportDocument, type RunReport } from './report-document.js';
import { renderTable } from './table.js';

/*
 * A report written by hand: two runs whose figures are chosen so each rendering can be checked by
 * arithmetic done here, not by pasting what a renderer printed.
 */

const native: RunReport = {
  config: 'native',
  description: 'bare metal',
  mmu: 'native',
  vendor: 'none',
  tagged: false,
  backing: '-',
  tlb: 'Skylake-class',
  accesses: 1000,
  workloadAccesses: 1000,
  tlbHits: 900,
  tlbHitRate: 0.9,
  tlbLevels: [
    { name: 'L1 DTLB', hits: 800, hitRate: 0.8 },
    { name: 'STLB', hits: 100, hitRate: 0.1 },
  ],
  walks: 100,
  walkReferences: 400,
  referencesPerWalk: 4,
  walkCacheHits: 50,
  exits: 0,
  exitsByKind: {},
  worldSwitches: 0,
  entryFlushes: 0,
  tlbFlushes: 1,
  guestPageFaults: 10,
  pagesPopulatedOnFault: 0,
  ipis: 0,
  shadowFills: 0,
  emulations: 0,
  costs: {
    tlbHit: [0, 2],
    walkReference: 12,
    worldSwitch: 1360,
    exitHandling: 1152,
    pagePopulate: 2000,
    ipi: 2000,
    shadowFill: 1000,
    emulation: 2500,
  },
  // 100 STLB hits at 2 cycles and 400 references at 12: 200 + 4,800 = 5,000.
  cyclesBy: {
    tlbHits: { 'L1 DTLB': 0, STLB: 200 },
    walkReferences: 4800,
    worldSwitches: 0,
    exitHandling: {},
    pagePopulation: 0,
    ipis: 0,
    shadowFills: 0,
    emulation: 0,
  },
  cycles: 5000,
  cyclesPerAccess: 5,
  overheadVsNative: 1,
  guest: { pageFaults: 10 },
};

const nested: RunReport = {
  ...native,
  config: 'npt-4k, "untagged"',
  description: 'AMD NPT <4K>',
  mmu: 'nested',
  vendor: 'amd',
  backing: '4K',
  // 1,000 workload accesses, 250 of them translated again after a guest #PF: 1,250 translations,
  // 800 TLB hits (64%: 700 + 100, 56% + 8%) and 450 walks.
  accesses: 1250,
  tlbHits: 800,
  tlbHitRate: 0.64,
  tlbLevels: [
    { name: 'L1 DTLB', hits: 700, hitRate: 0.56 },
    { name: 'STLB', hits: 100, hitRate: 0.08 },
  ],
  walks: 450,
  walkReferences: 10800,
  referencesPerWalk: 24,
  exits: 30,
  exitsByKind: { NPF: 20, 'external interrupt': 10 },
  worldSwitches: 31,
  entryFlushes: 31,
  tlbFlushes: 62,
  pagesPopulatedOnFault: 20,
  costs: { ...native.costs, walkReference: 1, worldSwitch: 20, exitHandling: 40, pagePopulate: 4.5 },
  // 100 STLB hits at 2; 10,800 references at 1; 31 entries and 30 exits at half of 20; 20 NPFs
  // handled at 40 (the timer's external interrupts are not); 20 pages at 4.5: 200 + 10,800 + 610 +
  // 800 + 90 = 12,500.
  cyclesBy: {
    tlbHits: { 'L1 DTLB': 0, STLB: 200 },
    walkReferences: 10800,
    worldSwitches: 610,
    exitHandling: { NPF: 800 },
    pagePopulation: 90,
    ipis: 0,
    shadowFills: 0,
    emulation: 0,
  },
  cycles: 12500,
  cyclesPerAccess: 12.5,
  overheadVsNative: 2.5,
  guest: { pageFaults: 10, contextSwitches: 2 },
};

const report: ReportDocument = {
  format: REPORT_FORMAT,
  workload: { name: 'zipf', description: 'Zipf-distributed reads', seed: 7 },
  runs: [native, nested],
};

describe('renderTable', () => {
  const text = renderTable(report);
  const lines = text.split('\n');

  it('has one column per figure, one per TLB level with hits, and one row per configuration', () => {
    const header = lines[2].split(/\s{2,}/);
    expect(header).toEqual([
      'configuration',
      'accesses',
      '+retried',
      'TLB hits',
      'L1 DTLB',
      'STLB',
      'walks',
      'refs/walk',
      'PWC hits',
      'exits',
      'switches',
      'TLB flushes',
      'cycles',
      'cycles/access',
      'vs native',
    ]);
    const row = lines[5].split(/\s{2,}/);
    // 1,250 - 1,000 = 250 retried; 800/1,250 hits, 700 and 100 of them by level; 10,800/450 = 24
    // references a walk; 12,500 cycles over 1,000 workload accesses = 12.5, against native's 5: 2.5x.
    expect(row).toEqual([
      'npt-4k, "untagged"',
      '1,000',
      '250',
      '64.0%',
      '56.0%',
      '8.0%',
      '450',
      '24.00',
      '50',
      '30',
      '31',
      '62',
      '12,500',
      '12.50',
      '2.50x',
    ]);
    // What the accesses are and what the rates divide by, said under the table.
    expect(text).toContain("accesses are the workload's own, each counted once by the guest kernel");
    expect(text).toContain('so it can make a few more than asked for');
    expect(text).toContain('cycles/access is cycles over the workload');
  });

  it('breaks cycles per access down by component, adding up to the total', () => {
    const start = lines.findIndex((l) => l.startsWith('cycles/access by'));
    expect(lines[start].split(/\s{2,}/)).toEqual([
      'cycles/access by',
      'TLB hits',
      'walk refs',
      'world switches',
      'exit handling',
      'page population',
      'IPIs',
      'shadow fills',
      'emulation',
      'total',
    ]);
    // Over 1,000 workload accesses: 200, 4,800 (native); 200, 10,800, 610, 800, 90 (nested).
    expect(lines[start + 2].split(/\s{2,}/)).toEqual([
      'native',
      '0.20',
      '4.80',
      ...Array(6).fill('0.00'),
      '5.00',
    ]);
    expect(lines[start + 3].split(/\s{2,}/)).toEqual([
      'npt-4k, "untagged"',
      '0.20',
      '10.80',
      '0.61',
      '0.80',
      '0.09',
      '0.00',
      '0.00',
      '0.00',
      '12.50',
    ]);
  });

  it('lists exits by kind for the runs that had any, kinds sorted', () => {
    const start = lines.findIndex((l) => l.startsWith('exits by kind'));
    expect(lines[start].split(/\s{2,}/)).toEqual(['exits by kind', 'NPF', 'external interrupt']);
    expect(lines[start + 2].split(/\s{2,}/)).toEqual(['npt-4k, "untagged"', '20', '10']);
    expect(lines[start + 3]).toBe('');
  });

  it('is plain text unless asked for colour, which marks the cheapest and dearest run', () => {
    expect(text).not.toContain('\u001b');
    const coloured = renderTable(report, { color: true });
    expect(coloured).toContain('\u001b[32m');
    expect(coloured).toContain('\u001b[31m');
  });
});

describe('renderCsv', () => {
  const csv = renderCsv(report);
  const rows = csv.split('\r\n');

  it('has a header of fixed columns, then TLB levels, exit kinds and guest counters that occur', () => {
    expect(rows[0]).toBe(
      'config,mmu,vendor,tagged,backing,tlb,accesses,workload_accesses,tlb_hits,tlb_hit_rate,walks,walk_references,' +
        'references_per_walk,walk_cache_hits,exits,world_switches,entry_flushes,tlb_flushes,guest_page_faults,' +
        'pages_populated_on_fault,ipis,shadow_fills,emulations,cycles,cycles_per_access,overhead_vs_native,' +
        'cycles_tlb_hits,cycles_walk_references,cycles_world_switches,cycles_exit_handling,cycles_page_population,' +
        'cycles_ipis,cycles_shadow_fills,cycles_emulation,tlb_hits_l1_dtlb,tlb_hits_stlb,exits_npf,' +
        'exits_external_interrupt,guest_os_context_switches,guest_os_page_faults',
    );
    // Every header is an identifier.
    for (const name of rows[0].split(',')) expect(name).toMatch(/^[a-z][a-z0-9_]*$/);
    expect(rows).toHaveLength(4); // header, two runs, and the empty string after the last CRLF
  });

  it('has the breakdown columns in every report, adding up to the cycles column', () => {
    const header = rows[0].split(',');
    const alone = renderCsv({ ...report, runs: [native] })
      .split('\r\n')[0]
      .split(',');
    const breakdown = header.filter((h) => h.startsWith('cycles_') && h !== 'cycles_per_access');
    expect(breakdown).toHaveLength(8);
    for (const name of breakdown) expect(alone).toContain(name);
    // The first field is quoted with a comma inside: splitting at commas makes two of it.
    const cells = rows[2].split(',').slice(1);
    const at = (name: string) => Number(cells[header.indexOf(name)]);
    expect(at('cycles_walk_references')).toBe(10800);
    expect(breakdown.reduce((sum, name) => sum + at(name), 0)).toBe(at('cycles'));
  });

  it('names columns as identifiers: words split at spaces, slashes and camel-case humps', () => {
    expect(
      ['L1 DTLB', 'external interrupt', 'CR0/CR4 write', 'contextSwitches', 'NPF'].map(columnName),
    ).toEqual(['l1_dtlb', 'external_interrupt', 'cr0_cr4_write', 'context_switches', 'npf']);
  });

  it('quotes fields with commas or quotes (RFC 4180); a cell a configuration lacks is empty', () => {
    expect(rows[2].startsWith('"npt-4k, ""untagged""",nested,amd,false,4K,')).toBe(true);
    // Native: no exits of any kind to count (no hypervisor), no context-switch counter in its guest.
    expect(rows[1].endsWith(',800,100,,,,10')).toBe(true);
    expect(rows[2].endsWith(',700,100,20,10,2,10')).toBe(true);
  });

  it('has the same columns in every report when given them, a level a run lacks empty', () => {
    const columns = { tlbLevels: ['L1 DTLB', 'L2 DTLB', 'STLB'], exitKinds: ['NPF', 'INVLPG'] };
    const zenRun: RunReport = {
      ...nested,
      config: 'zen',
      tlbLevels: [{ name: 'L2 DTLB', hits: 100, hitRate: 0.08 }],
      exitsByKind: { hypercall: 3 },
    };
    const alone = renderCsv({ ...report, runs: [native] }, columns).split('\r\n');
    const both = renderCsv(report, columns).split('\r\n');
    const zen = renderCsv({ ...report, runs: [zenRun] }, columns).split('\r\n');
    const tail = (header: string): string => header.slice(header.indexOf(',tlb_hits_'));
    expect(tail(alone[0])).toBe(
      ',tlb_hits_l1_dtlb,tlb_hits_l2_dtlb,tlb_hits_stlb,exits_invlpg,exits_npf,guest_os_page_faults',
    );
    // The exit kinds of the runs join the given ones, sorted (by code unit, as the table sorts them).
    expect(tail(both[0])).toBe(
      ',tlb_hits_l1_dtlb,tlb_hits_l2_dtlb,tlb_hits_stlb,exits_invlpg,exits_npf,exits_external_interrupt,' +
        'guest_os_context_switches,guest_os_page_faults',
    );
    expect(tail(zen[0])).toBe(
      ',tlb_hits_l1_dtlb,tlb_hits_l2_dtlb,tlb_hits_stlb,exits_invlpg,exits_npf,exits_hypercall,' +
        'guest_os_context_switches,guest_os_page_faults',
    );
    // Native: a level its hierarchy lacks (L2 DTLB) and every exit kind empty.
    expect(alone[1].endsWith(',800,,100,,,10')).toBe(true);
    // zen: no L1 DTLB or STLB; 3 hypercalls, no INVLPG or NPF exits (0: it has a hypervisor).
    expect(zen[1].endsWith(',,100,,0,0,3,2,10')).toBe(true);
    for (const csv of [alone, zen]) expect(csv[1].split(',')).toHaveLength(csv[0].split(',').length);
  });

  it('leaves the overhead empty when there is no native run', () => {
    const alone = renderCsv({ ...report, runs: [{ ...nested, overheadVsNative: null }] });
    expect(alone.split('\r\n')[1]).toContain(',12.5,,');
  });
});

describe('renderJson and parseReport', () => {
  it('round-trips a report', () => {
    expect(parseReport(renderJson(report))).toEqual(report);
  });

  it('throws an InputError naming the source for what it cannot read', () => {
    let caught: unknown;
    try {
      parseReport('{ nope', 'r.json');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect((caught as InputError).source).toBe('r.json');
    expect((caught as Error).message).toMatch(/^r\.json: invalid JSON: /);
  });

  it('names the path of a bad field and refuses another format', () => {
    const bad = JSON.parse(renderJson(report));
    bad.runs[1].walks = -1;
    expect(() => parseReport(JSON.stringify(bad), 'r.json')).toThrow(/^r\.json: runs\[1\]\.walks: /);
    expect(() => parseReport(JSON.stringify({ ...report, format: 'hvsim.report/2' }))).toThrow(/format/);
    expect(() => parseReport('{', 'r.json')).toThrow(/^r\.json: invalid JSON/);
  });

  it('refuses a breakdown that does not add up to the cycles, or that names other TLB levels', () => {
    const bad = JSON.parse(renderJson(report));
    bad.runs[1].cyclesBy.walkReferences = 10801;
    expect(() => parseReport(JSON.stringify(bad), 'r.json')).toThrow(
      /^r\.json: runs\[1\]\.cyclesBy: adds up to 12501 cycles, not the run's 12500$/,
    );
    const levels = JSON.parse(renderJson(report));
    levels.runs[0].costs.tlbHit = [0];
    levels.runs[0].cyclesBy.tlbHits = { STLB: 200, 'L1 DTLB': 0 };
    expect(() => parseReport(JSON.stringify(levels), 'r.json')).toThrow(
      /runs\[0\]\.costs\.tlbHit: has 1 costs for 2 TLB levels[^\n]*\n.*runs\[0\]\.cyclesBy\.tlbHits: names levels \["STLB","L1 DTLB"\]/,
    );
  });
});

describe('renderHtml', () => {
  const html = renderHtml(report);

  it('is one page with Chart.js and the data inline, and nothing fetched', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain(chartLibrarySource().slice(0, 200));
    expect(chartLibrarySource()).toContain('Chart.js v4');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/i);
    for (const id of ['cycles', 'breakdown', 'exits', 'switches', 'walks', 'levels'])
      expect(html).toContain(`<canvas id="${id}">`);
    expect(html).toContain('"cyclesPerAccess":[5,12.5]');
    expect(html).toContain('{"kind":"NPF","colour":"#4e79a7","counts":[0,20]}');
  });

  it("stacks each run's cycles by component, as shares that add up to 100%", () => {
    // Walk references: 4,800 of 5,000 (96%) and 10,800 of 12,500 (86.4%); 4.8 and 10.8 per access.
    expect(html).toContain(
      '{"name":"walk refs","colour":"#4e79a7","shares":[96,86.4],"perAccess":[4.8,10.8]}',
    );
    expect(html).toContain('<th>cycles per access by</th><th>TLB hits</th>');
    expect(html).toContain('<tr><th scope="row">native</th><td>0.20</td><td>4.80</td>');
  });

  it('says under its title what the terminal says after its table: the highlights', () => {
    // A tagged and an untagged run of one nested configuration: highlights() has a sentence on tags.
    const pair: ReportDocument = {
      ...report,
      runs: [native, { ...nested, config: 'npt-4k', tagged: true }, { ...nested, config: 'npt-4k-untagged' }],
    };
    const lines = highlights(pair);
    expect(lines.length).toBeGreaterThan(0);
    const page = renderHtml(pair);
    for (const line of lines)
      expect(page).toContain(`<p class="highlight">${line.replaceAll('"', '&quot;')}</p>`);
    expect(page.split('<p class="highlight">').length - 1).toBe(lines.length);
  });

  it('gives an exit kind or TLB level the same colour in every report', () => {
    // A report whose only exit kind is the external interrupt: NPF is not there to take the first colour.
    const other = renderHtml({ ...report, runs: [{ ...nested, exitsByKind: { 'external interrupt': 10 } }] });
    const colourOf = (page: string, key: string, name: string) =>
      new RegExp(`"${key}":"${name}","colour":"(#[0-9a-f]{6})"`).exec(page)?.[1];
    expect(colourOf(other, 'kind', 'external interrupt')).toBe(colourOf(html, 'kind', 'external interrupt'));
    expect(colourOf(html, 'kind', 'NPF')).not.toBe(colourOf(html, 'kind', 'external interrupt'));
    expect(colourOf(html, 'name', 'STLB')).toBeDefined();
  });

  it('escapes text from the report in markup and in scripts', () => {
    expect(html).toContain('AMD NPT &lt;4K&gt;');
    const sneaky = renderHtml({ ...report, workload: { ...report.workload, name: '</script><b>' } });
    expect(sneaky).not.toContain('</script><b>');
    expect(sneaky).toContain('\\u003c/script>\\u003cb>');
  });

  it('is the same bytes for the same report', () => {
    expect(renderHtml(parseReport(renderJson(report)))).toBe(html);
  });
});

describe('highlights', () => {
  const run = (over: Partial<RunReport>): RunReport => ({ ...nested, ...over });
  const full: ReportDocument = {
    ...report,
    runs: [
      native,
      run({ config: 'shadow', mmu: 'shadow', tagged: true, exits: 9000, referencesPerWalk: 1.5 }),
      run({
        config: 't4',
        tagged: true,
        tlbFlushes: 0,
        walks: 200,
        exits: 300,
        referencesPerWalk: 20,
        cyclesPerAccess: 30,
      }),
      run({
        config: 'u4',
        tagged: false,
        tlbFlushes: 40,
        worldSwitches: 301,
        walks: 260,
        cyclesPerAccess: 33,
      }),
      run({
        config: 't2',
        tagged: true,
        backing: '2M',
        exits: 10,
        referencesPerWalk: 15,
        cyclesPerAccess: 12,
        overheadVsNative: 2.4,
      }),
    ],
  };

  it('pairs runs that differ in one thing and says what that thing did', () => {
    expect(highlights(full)).toEqual([
      'Tagging: u4 flushes the TLB 40 times in 301 world switches and makes 60 more walks; with tags (t4) 0 flushes, 30.0 instead of 33.0 cycles per access.',
      'Nested paging: t4 takes 300 exits where shadow takes 9,000, but its walks make 20.00 memory references instead of 1.50.',
      'Large pages: with 2 MiB nested pages (t2) a walk makes 15.00 references instead of 20.00 and the nested faults fall from 300 exits to 10: 12.0 instead of 30.0 cycles per access, 2.40x native.',
    ]);
  });

  it('leaves out the pairs a report does not hold', () => {
    expect(highlights(report)).toEqual([]);
  });
});
