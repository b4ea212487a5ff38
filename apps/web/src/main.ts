import { DocumentError, parseScenario, type Scenario, serializeScenario } from '@hvsim/scenario';
import {
  type AccessSpec,
  buildScenarioVariants,
  explainScenario,
  explainSequence,
  type GuestModeName,
  type MappingSpec,
  mountSequenceView,
  mountWalkView,
  WALK_VIEW_CSS,
  type WalkViewDocument,
  type WalkViewHandle,
  type WalkViewPosition,
} from '@hvsim/walk-view';
import './app.css';
import { bundledScenarios } from './bundled.ts';

/*
 * The web app composes: it picks a scenario (bundled, a file, or built in the form), asks
 * @hvsim/walk-view for the explained walks, and mounts the same view `hvsim explain --html` writes.
 * Location hash: `#scenario=NAME&access=N&caches=M&step=K` opens a bundled scenario at an access,
 * with walk caches M (`cacheMask` bits) and reference K; the hash follows every move in the view, so
 * the address bar can be shared or bookmarked. The keys step the view wherever the focus is. A
 * sequence (a scenario with `steps`) opens the sequence view instead, `#scenario=NAME&step=K` at its
 * step K, with what the TLBs and walk caches hold after each step.
 */

const style = document.createElement('style');
style.textContent = WALK_VIEW_CSS;
document.head.append(style);

const walkRoot = document.querySelector<HTMLElement>('#walk')!;
const message = document.querySelector<HTMLElement>('#message')!;
const bundledForm = document.querySelector<HTMLFormElement>('#bundled')!;
const bundledSelect = document.querySelector<HTMLSelectElement>('#bundled-name')!;
const fileInput = document.querySelector<HTMLInputElement>('#file-input')!;
const buildForm = document.querySelector<HTMLFormElement>('#build')!;
const exportLink = document.querySelector<HTMLAnchorElement>('#export')!;

let view: WalkViewHandle | { destroy(): void } | null = null;

/** Shows a document; a bundled scenario's position goes into the location hash as it changes. */
function show(
  make: () => WalkViewDocument,
  bundled: string | null = null,
  start: Partial<WalkViewPosition> = {},
  onMove: (position: WalkViewPosition) => void = () => {},
): void {
  try {
    const doc = make();
    message.textContent = '';
    view?.destroy();
    exportLink.hidden = true;
    view = mountWalkView(walkRoot, doc, {
      pageKeys: true,
      start,
      onChange: (p) => {
        const hash =
          bundled === null
            ? ''
            : `#scenario=${encodeURIComponent(bundled)}&access=${p.access}&caches=${p.caches}&step=${p.step}`;
        if (location.hash !== hash) history.replaceState(null, '', hash === '' ? location.pathname : hash);
        onMove(p);
      },
    });
  } catch (error) {
    message.textContent =
      error instanceof DocumentError ? error.message : `Cannot show this: ${(error as Error).message}`;
  }
}

/** Shows a sequence step by step; a bundled one's step goes into the location hash. */
function showSequence(scenario: Scenario, bundled: string | null, step = 0): void {
  try {
    const doc = explainSequence(scenario);
    message.textContent = '';
    view?.destroy();
    exportLink.hidden = true;
    view = mountSequenceView(walkRoot, doc, {
      pageKeys: true,
      start: step,
      onChange: (k) => {
        const hash = bundled === null ? '' : `#scenario=${encodeURIComponent(bundled)}&step=${k}`;
        if (location.hash !== hash) history.replaceState(null, '', hash === '' ? location.pathname : hash);
      },
    });
  } catch (error) {
    message.textContent =
      error instanceof DocumentError ? error.message : `Cannot show this: ${(error as Error).message}`;
  }
}

function showScenario(
  scenario: Scenario,
  source: string,
  bundled: string | null = null,
  start: Partial<WalkViewPosition> = {},
): void {
  show(
    () =>
      explainScenario(scenario, { source, ...(start.access === undefined ? {} : { access: start.access }) }),
    bundled,
    start,
  );
}

// Bundled scenarios.
for (const { name, scenario } of bundledScenarios) {
  const option = document.createElement('option');
  option.value = name;
  const kind = [
    scenario.nested.enabled ? `nested, ${scenario.vendor.toUpperCase()}` : null,
    scenario.steps === undefined ? null : 'sequence',
  ].filter((k) => k !== null);
  option.textContent = `${name}${kind.length === 0 ? '' : ` (${kind.join(', ')})`}`;
  bundledSelect.append(option);
}
function showBundled(name: string, start: Partial<WalkViewPosition> = {}): void {
  const found = bundledScenarios.find((b) => b.name === name);
  if (found === undefined) {
    message.textContent = `No bundled scenario named "${name}".`;
    return;
  }
  bundledSelect.value = name;
  if (found.scenario.steps !== undefined) {
    showSequence(found.scenario, name, start.step ?? 0);
    return;
  }
  const access = start.access ?? 0;
  // An access the scenario does not have opens its first one.
  showScenario(
    found.scenario,
    name,
    name,
    access < found.scenario.accesses.length ? start : { ...start, access: 0 },
  );
}
bundledForm.addEventListener('submit', (event) => {
  event.preventDefault();
  showBundled(bundledSelect.value);
});
bundledSelect.addEventListener('change', () => showBundled(bundledSelect.value));

// A scenario file.
fileInput.addEventListener('change', async () => {
  const file = fileInput.files?.[0];
  if (file === undefined) return;
  const text = await file.text();
  let scenario: Scenario;
  try {
    scenario = parseScenario(text, file.name);
  } catch (error) {
    message.textContent = error instanceof DocumentError ? error.message : (error as Error).message;
    return;
  }
  if (scenario.steps !== undefined) showSequence(scenario, null);
  else show(() => explainScenario(scenario, { source: file.name }));
});

// The form.
const DEFAULT_MAPPINGS = [
  ['0x400000', '0x200000', '0x1000000', true, true, true, true],
  ['0x600000', '0x400000', '0x1200000', true, true, true, false],
  ['0x800000', '0x600000', '0x1400000', true, true, false, true],
] as const;
const DEFAULT_ACCESSES = [
  ['0x400123', 'read', '3'],
  ['0x600008', 'write', '3'],
  ['0x800000', 'read', '0'],
] as const;

const mappingRows = document.querySelector<HTMLTableSectionElement>('#mapping-rows')!;
DEFAULT_MAPPINGS.forEach((row, i) => {
  const tr = document.createElement('tr');
  const names = [
    'linear',
    'guestPhysical',
    'hostPhysical',
    'guestWritable',
    'guestUser',
    'nestedPresent',
    'nestedWritable',
  ];
  row.forEach((value, j) => {
    const td = document.createElement('td');
    const input = document.createElement('input');
    input.name = `m${i}-${names[j]}`;
    input.setAttribute('aria-label', `mapping ${i + 1} ${names[j]}`);
    if (typeof value === 'boolean') {
      input.type = 'checkbox';
      input.checked = value;
    } else {
      input.type = 'text';
      input.value = value;
      input.size = 12;
      input.spellcheck = false;
    }
    td.append(input);
    tr.append(td);
  });
  mappingRows.append(tr);
});
const accessRows = document.querySelector<HTMLTableSectionElement>('#access-rows')!;
DEFAULT_ACCESSES.forEach(([address, kind, cpl], i) => {
  const tr = document.createElement('tr');
  tr.innerHTML = `<td><input name="a${i}-address" type="text" size="14" spellcheck="false" aria-label="access ${i + 1} linear address"></td>
    <td><select name="a${i}-kind" aria-label="access ${i + 1} kind"><option>read</option><option>write</option><option>execute</option></select></td>
    <td><select name="a${i}-cpl" aria-label="access ${i + 1} CPL"><option>0</option><option>3</option></select></td>`;
  (tr.querySelector(`[name="a${i}-address"]`) as HTMLInputElement).value = address;
  (tr.querySelector(`[name="a${i}-kind"]`) as HTMLSelectElement).value = kind;
  (tr.querySelector(`[name="a${i}-cpl"]`) as HTMLSelectElement).value = cpl;
  accessRows.append(tr);
});

function hexField(form: FormData, name: string, what: string): bigint | null {
  const text = String(form.get(name) ?? '').trim();
  if (text === '') return null;
  if (!/^(0x)?[0-9a-f]+$/i.test(text)) throw new Error(`${what}: "${text}" is not a hexadecimal address`);
  return BigInt(text.startsWith('0x') || text.startsWith('0X') ? text : `0x${text}`);
}

buildForm.addEventListener('submit', (event) => {
  event.preventDefault();
  show(
    () => {
      const form = new FormData(buildForm);
      const mappings: MappingSpec[] = [];
      for (let i = 0; i < DEFAULT_MAPPINGS.length; i++) {
        const linear = hexField(form, `m${i}-linear`, `mapping ${i + 1} linear`);
        if (linear === null) continue;
        mappings.push({
          linear,
          guestPhysical: hexField(form, `m${i}-guestPhysical`, `mapping ${i + 1} guest-physical`) ?? linear,
          hostPhysical: hexField(form, `m${i}-hostPhysical`, `mapping ${i + 1} host-physical`) ?? linear,
          guestWritable: form.has(`m${i}-guestWritable`),
          guestUser: form.has(`m${i}-guestUser`),
          nestedPresent: form.has(`m${i}-nestedPresent`),
          nestedWritable: form.has(`m${i}-nestedWritable`),
        });
      }
      const accesses: AccessSpec[] = [];
      for (let i = 0; i < DEFAULT_ACCESSES.length; i++) {
        const address = hexField(form, `a${i}-address`, `access ${i + 1}`);
        if (address === null) continue;
        accesses.push({
          address,
          access: String(form.get(`a${i}-kind`)) as AccessSpec['access'],
          cpl: Number(form.get(`a${i}-cpl`)) as AccessSpec['cpl'],
        });
      }
      if (accesses.length === 0) throw new Error('give at least one access');
      const { variants, selected } = buildScenarioVariants({
        vendor: String(form.get('vendor')) as 'amd' | 'intel',
        guestMode: String(form.get('guestMode')) as GuestModeName,
        nested: form.has('nested'),
        largeGuestPages: form.has('largeGuestPages'),
        largeNestedPages: form.has('largeNestedPages'),
        mappings,
        accesses,
      });
      built = variants.map((v) => v.scenario);
      return explainScenario(variants, { source: 'built in the form', variant: selected });
    },
    null,
    {},
    (p) => offerExport(built[p.variant]),
  );
});

let built: Scenario[] = [];
let exportUrl: string | null = null;

/** Offers the scenario the view shows (the variant chosen above the walk) as an hvsim.scenario/1 file. */
function offerExport(scenario: Scenario | undefined): void {
  if (scenario === undefined) return;
  if (exportUrl !== null) URL.revokeObjectURL(exportUrl);
  exportUrl = URL.createObjectURL(new Blob([serializeScenario(scenario)], { type: 'application/json' }));
  exportLink.href = exportUrl;
  exportLink.hidden = false;
}

// Start from the location hash, or the full 4x4 walk.
const params = new URLSearchParams(location.hash.slice(1));
const number = (key: string): number | undefined => {
  const text = params.get(key);
  return text !== null && /^\d+$/.test(text) ? Number(text) : undefined;
};
const start: { -readonly [K in keyof WalkViewPosition]?: number } = {};
for (const key of ['access', 'caches', 'step'] as const) {
  const value = number(key);
  if (value !== undefined) start[key] = value;
}
showBundled(params.get('scenario') ?? 'amd-npt-4x4', start);
