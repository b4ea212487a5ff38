import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { COMPONENT_TITLES, exitKinds, groupDigits, levelNames, percent } from './columns.js';
import { highlights } from './highlights.js';
import {
  CYCLE_COMPONENTS,
  type CycleComponent,
  componentCycles,
  type ReportDocument,
} from './report-document.js';

/** Options of the HTML page. */
export interface HtmlOptions {
  /** The page title (default: the workload's name). */
  readonly title?: string;
}

let chartJs: string | null = null;

/**
 * Chart.js's standalone (UMD) build, read from the installed package the first time a page is made,
 * so the page carries its chart library inline and works offline.
 */
export function chartLibrarySource(): string {
  if (chartJs === null) {
    // The package's `require` entry sits in dist/ beside the UMD build (its exports map does not list it).
    const entry = createRequire(import.meta.url).resolve('chart.js');
    chartJs = readFileSync(join(dirname(entry), 'chart.umd.min.js'), 'utf8');
  }
  return chartJs;
}

function wideRange(values: readonly number[]): boolean {
  const positive = values.filter((v) => v > 0);
  return positive.length > 1 && Math.max(...positive) > 30 * Math.min(...positive);
}

/** Text that is safe inside an HTML element or attribute. */
function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

/** JSON that is safe inside a `<script>` element (no `</script>`, no HTML comment openers). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
  '#1f77b4',
  '#8c564b',
  '#17becf',
  '#bcbd22',
];

/**
 * The colour of an exit kind or TLB level, the same in every report: the kinds and levels hvsim
 * reports have their own, any other name one chosen by a hash of it.
 */
const FIXED_COLOURS: Readonly<Record<string, string>> = {
  NPF: '#4e79a7',
  'EPT violation': '#4e79a7',
  'EPT misconfiguration': '#9c755f',
  'external interrupt': '#bab0ac',
  'page-table write': '#e15759',
  'hidden page fault': '#f28e2b',
  'guest page fault': '#edc948',
  INVLPG: '#76b7b2',
  'CR3 write': '#b07aa1',
  'CR0/CR4 write': '#ff9da7',
  'emulated access': '#8c564b',
  hypercall: '#17becf',
  'IPI kick': '#bcbd22',
  'L0 ITLB': '#bcbd22',
  'L1 ITLB': '#76b7b2',
  'L1 DTLB': '#4e79a7',
  'L2 ITLB': '#b07aa1',
  'L2 DTLB': '#f28e2b',
  STLB: '#f28e2b',
};

/** The colour of each component of the cycles in the breakdown chart, the same in every report. */
const COMPONENT_COLOURS: Readonly<Record<CycleComponent, string>> = {
  tlbHits: '#59a14f',
  walkReferences: '#4e79a7',
  worldSwitches: '#bab0ac',
  exitHandling: '#f28e2b',
  pagePopulation: '#edc948',
  ipis: '#b07aa1',
  shadowFills: '#76b7b2',
  emulation: '#e15759',
};

function colourOf(name: string): string {
  const fixed = FIXED_COLOURS[name];
  if (fixed !== undefined) return fixed;
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + name.charCodeAt(i)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

/**
 * The report as one self-contained HTML page: Chart.js inline, the report's data inline, no request
 * to anywhere. Under the title, the sentences `highlights` finds (what the terminal demo prints).
 * Charts: estimated cycles per access by configuration (the headline, with the overhead
 * against native), where the cycles go (each component's share, stacked to 100%), VM exits by kind stacked, world switches and the flushes among them, memory
 * references per walk, and TLB hits by level; then the figures as a table, and cycles per access by component as another. Deterministic: the same
 * report gives the same bytes (no timestamp).
 */
export function renderHtml(report: ReportDocument, options: HtmlOptions = {}): string {
  const title = options.title ?? `hvsim: ${report.workload.name}`;
  const levels = levelNames(report);
  const kinds = exitKinds(report);
  const data = {
    configs: report.runs.map((r) => r.config),
    mmu: report.runs.map((r) => r.mmu),
    tagged: report.runs.map((r) => r.tagged),
    cyclesPerAccess: report.runs.map((r) => r.cyclesPerAccess),
    // A logarithmic axis when the dearest configuration costs over 30 times the cheapest, so the
    // cheap ones stay visible beside it.
    logCycles: wideRange(report.runs.map((r) => r.cyclesPerAccess)),
    logSwitches: wideRange(report.runs.map((r) => r.worldSwitches)),
    overhead: report.runs.map((r) => r.overheadVsNative),
    referencesPerWalk: report.runs.map((r) => r.referencesPerWalk),
    walksPer1k: report.runs.map((r) => (r.accesses === 0 ? 0 : (1000 * r.walks) / r.accesses)),
    switches: report.runs.map((r) => r.worldSwitches),
    flushes: report.runs.map((r) => r.tlbFlushes),
    exits: kinds.map((kind) => ({
      kind,
      colour: colourOf(kind),
      counts: report.runs.map((r) => r.exitsByKind[kind] ?? 0),
    })),
    // Each component's share of each run's cycles (a stacked bar per run adds up to 100%), and its
    // cycles per workload access for the tooltip: shares, because the runs differ by three orders of
    // magnitude and a stack on a logarithmic axis would misstate its parts.
    components: CYCLE_COMPONENTS.map((c) => ({
      name: COMPONENT_TITLES[c],
      colour: COMPONENT_COLOURS[c],
      shares: report.runs.map((r) =>
        r.cycles === 0 ? 0 : (100 * componentCycles(r.cyclesBy, c)) / r.cycles,
      ),
      perAccess: report.runs.map((r) =>
        r.workloadAccesses === 0 ? 0 : componentCycles(r.cyclesBy, c) / r.workloadAccesses,
      ),
    })),
    levels: levels.map((name) => ({
      name,
      colour: colourOf(name),
      rates: report.runs.map((r) => 100 * (r.tlbLevels.find((l) => l.name === name)?.hitRate ?? 0)),
    })),
  };
  const rows = report.runs
    .map(
      (r) =>
        `<tr><th scope="row">${escapeHtml(r.config)}</th><td>${escapeHtml(r.description)}</td>` +
        `<td>${groupDigits(r.accesses)}</td><td>${percent(r.tlbHitRate)}</td><td>${groupDigits(r.walks)}</td>` +
        `<td>${r.referencesPerWalk.toFixed(2)}</td><td>${groupDigits(r.walkCacheHits)}</td>` +
        `<td>${groupDigits(r.exits)}</td><td>${groupDigits(r.worldSwitches)}</td><td>${groupDigits(r.tlbFlushes)}</td>` +
        `<td>${r.cyclesPerAccess.toFixed(2)}</td><td>${r.overheadVsNative === null ? '-' : `${r.overheadVsNative.toFixed(2)}x`}</td></tr>`,
    )
    .join('\n');
  const perAccess = (cycles: number, accesses: number) => (accesses === 0 ? 0 : cycles / accesses).toFixed(2);
  const costRows = report.runs
    .map(
      (r) =>
        `<tr><th scope="row">${escapeHtml(r.config)}</th>` +
        CYCLE_COMPONENTS.map(
          (c) => `<td>${perAccess(componentCycles(r.cyclesBy, c), r.workloadAccesses)}</td>`,
        ).join('') +
        `<td>${perAccess(r.cycles, r.workloadAccesses)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1.5rem; color: #1d232b; background: #fbfbfd; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
.lead { color: #4a5563; margin-top: 0; }
.highlight { margin: 0.4rem 0; max-width: 60rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 1.2rem; }
figure { margin: 0; background: #fff; border: 1px solid #e2e5ea; border-radius: 8px; padding: 0.8rem 1rem 1rem; }
figure.wide { grid-column: 1 / -1; }
figcaption { font-weight: 600; margin-bottom: 0.2rem; }
figure p { margin: 0 0 0.5rem; color: #4a5563; font-size: 0.9rem; }
.chart { position: relative; height: 320px; }
table { border-collapse: collapse; width: 100%; margin-top: 1.5rem; font-size: 0.85rem; background: #fff; }
th, td { border-bottom: 1px solid #e2e5ea; padding: 0.3rem 0.5rem; text-align: right; }
th[scope=row], td:nth-child(2), thead th:first-child, thead th:nth-child(2) { text-align: left; }
</style>
</head>
<body>
<h1>${escapeHtml(report.workload.name)}</h1>
<p class="lead">${escapeHtml(report.workload.description)} &middot; seed ${report.workload.seed} &middot; ${report.runs.length} configuration${report.runs.length === 1 ? '' : 's'}</p>
${highlights(report)
  .map((line) => `<p class="highlight">${escapeHtml(line)}</p>`)
  .join('\n')}
<div class="grid">
<figure class="wide"><figcaption>Estimated cycles per access</figcaption><p>Lower is better. The label is the overhead against the native run.</p><div class="chart"><canvas id="cycles"></canvas></div></figure>
<figure class="wide"><figcaption>Where the cycles go</figcaption><p>Each configuration's estimated cycles by what the cost model charged them for, as a share of its total; the tooltip gives cycles per access. The parts add up to the total.</p><div class="chart"><canvas id="breakdown"></canvas></div></figure>
<figure><figcaption>VM exits by kind</figcaption><p>What sends the guest back to the hypervisor.</p><div class="chart"><canvas id="exits"></canvas></div></figure>
<figure><figcaption>World switches and TLB flushes</figcaption><p>Without tags, world switches flush the TLB; ASIDs and VPIDs keep it.</p><div class="chart"><canvas id="switches"></canvas></div></figure>
<figure><figcaption>Memory references per walk</figcaption><p>A two-dimensional walk costs up to 24; large nested pages shorten it.</p><div class="chart"><canvas id="walks"></canvas></div></figure>
<figure><figcaption>TLB hits by level</figcaption><p>Share of all translations served at each level.</p><div class="chart"><canvas id="levels"></canvas></div></figure>
</div>
<table>
<thead><tr><th>configuration</th><th>description</th><th>accesses</th><th>TLB hits</th><th>walks</th><th>refs/walk</th><th>PWC hits</th><th>exits</th><th>switches</th><th>TLB flushes</th><th>cycles/access</th><th>vs native</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<table>
<thead><tr><th>cycles per access by</th>${CYCLE_COMPONENTS.map((c) => `<th>${escapeHtml(COMPONENT_TITLES[c])}</th>`).join('')}<th>total</th></tr></thead>
<tbody>
${costRows}
</tbody>
</table>
<script id="report" type="application/json">${scriptJson(report)}</script>
<script>${chartLibrarySource().replaceAll('</script', '<\\/script')}</script>
<script>
(function () {
  var d = ${scriptJson(data)};
  function colour(i) {
    var base = { native: '#7f8c8d', shadow: '#f28e2b', nested: '#4e79a7' }[d.mmu[i]] || '#4e79a7';
    return d.tagged[i] || d.mmu[i] === 'native' ? base : base + '88';
  }
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  var overheadLabel = {
    id: 'overheadLabel',
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      var meta = chart.getDatasetMeta(0);
      ctx.save();
      ctx.font = '12px system-ui, sans-serif';
      ctx.fillStyle = '#1d232b';
      ctx.textAlign = 'center';
      meta.data.forEach(function (bar, i) {
        var o = d.overhead[i];
        if (o !== null) ctx.fillText(o.toFixed(2) + 'x', bar.x, bar.y - 4);
      });
      ctx.restore();
    }
  };
  new Chart(document.getElementById('cycles'), {
    type: 'bar',
    data: { labels: d.configs, datasets: [{ label: 'cycles per access', data: d.cyclesPerAccess, backgroundColor: d.configs.map(function (_, i) { return colour(i); }) }] },
    options: { plugins: { legend: { display: false } }, layout: { padding: { top: 18 } }, scales: { y: { type: d.logCycles ? 'logarithmic' : 'linear', beginAtZero: !d.logCycles, title: { display: true, text: d.logCycles ? 'cycles (log scale)' : 'cycles' } } } },
    plugins: [overheadLabel]
  });
  new Chart(document.getElementById('breakdown'), {
    type: 'bar',
    data: { labels: d.configs, datasets: d.components.map(function (c) { return { label: c.name, data: c.shares, backgroundColor: c.colour, perAccess: c.perAccess }; }) },
    options: {
      plugins: { tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ': ' + ctx.dataset.perAccess[ctx.dataIndex].toFixed(2) + ' cycles per access (' + ctx.parsed.y.toFixed(1) + '%)'; } } } },
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, max: 100, title: { display: true, text: '% of cycles' } } }
    }
  });
  new Chart(document.getElementById('exits'), {
    type: 'bar',
    data: { labels: d.configs, datasets: d.exits.map(function (e) { return { label: e.kind, data: e.counts, backgroundColor: e.colour }; }) },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
  });
  new Chart(document.getElementById('switches'), {
    type: 'bar',
    data: { labels: d.configs, datasets: [
      { label: 'world switches', data: d.switches, backgroundColor: '#4e79a7' },
      { label: 'TLB flushes', data: d.flushes, backgroundColor: '#e15759' }
    ] },
    options: { scales: { y: { type: d.logSwitches ? 'logarithmic' : 'linear', beginAtZero: !d.logSwitches, title: { display: d.logSwitches, text: 'log scale' } } } }
  });
  new Chart(document.getElementById('walks'), {
    type: 'bar',
    data: { labels: d.configs, datasets: [
      { label: 'references per walk', data: d.referencesPerWalk, backgroundColor: d.configs.map(function (_, i) { return colour(i); }), yAxisID: 'y' },
      { label: 'walks per 1000 accesses', data: d.walksPer1k, type: 'line', borderColor: '#59a14f', backgroundColor: '#59a14f', yAxisID: 'y1' }
    ] },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'references' } }, y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false }, title: { display: true, text: 'walks / 1000' } } } }
  });
  new Chart(document.getElementById('levels'), {
    type: 'bar',
    data: { labels: d.configs, datasets: d.levels.map(function (l) { return { label: l.name, data: l.rates, backgroundColor: l.colour }; }) },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, max: 100, title: { display: true, text: '% of translations' } } } }
  });
})();
</script>
</body>
</html>
`;
}
