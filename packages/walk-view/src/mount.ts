/// <reference lib="dom" />
// The view builds DOM; this brings the DOM types to any program that includes it (the CLI, say).
import type { DecodedValue } from './decoded.js';
import type { WalkViewDocument } from './document.js';
import type { WalkExplanation } from './explain-walk.js';

/** Where the view is: which variant, access, walk caches (`cacheMask` bits) and reference. */
export interface WalkViewPosition {
  readonly variant: number;
  readonly access: number;
  readonly caches: number;
  readonly step: number;
}

/** Options of `mountWalkView`. */
export interface WalkViewOptions {
  /**
   * Step with the keys wherever the focus is on the page (form fields keep theirs), not only inside
   * the view: for a page that holds one view, so a click elsewhere does not stop arrow-key stepping
   * (the web app and the page `renderWalkHtml` writes). Default false.
   */
  readonly pageKeys?: boolean;
  /** Where to start (default: the document's initial variant, access and caches, reference 0). */
  readonly start?: Partial<WalkViewPosition>;
  /** Told of the position after every change (to keep a shareable URL in step, say). */
  readonly onChange?: (position: WalkViewPosition) => void;
}

/** What `mountWalkView` returns: the current position, and a way to move it. */
export interface WalkViewHandle {
  /** The reference highlighted now (0: none yet). */
  readonly step: number;
  /** Moves to reference `step` (clamped to 0 … the number of references made). */
  goTo(step: number): void;
  /** Removes the view from its root. */
  destroy(): void;
}

/**
 * Builds the interactive walk view of `doc` inside `root` (replacing its children) and returns a
 * handle. Controls: the variant (when there are several), the access, the walk-cache toggles, and
 * First / Back / Next / Last buttons; with focus anywhere in the view outside a form field (anywhere
 * on the page with `options.pageKeys`), → or N steps forward, ← or P back, Home and End go to the
 * ends. `options.start` opens it at a position, `options.onChange` hears of every move.
 *
 * This function is self-contained on purpose (it uses nothing but its arguments and the DOM), so
 * `renderWalkHtml` can inline its source into a page: the web app and the exported page run this
 * same code.
 */
export function mountWalkView(
  root: HTMLElement,
  doc: WalkViewDocument,
  options: WalkViewOptions = {},
): WalkViewHandle {
  type Child = Node | string | null | undefined | false;
  const el = (tag: string, attrs: Record<string, string | null> = {}, ...children: Child[]): HTMLElement => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null) continue;
      if (name === 'class') node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child);
    }
    return node;
  };
  const put = (parent: HTMLElement, ...children: Child[]) => {
    parent.replaceChildren(
      ...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false),
    );
  };

  const start = options.start ?? {};
  const within = (value: number | undefined, count: number, fallback: number) =>
    value !== undefined && Number.isInteger(value) && value >= 0 && value < count ? value : fallback;
  const variantStart = within(start.variant, doc.variants.length, doc.initial.variant);
  const state = {
    variant: variantStart,
    access: within(start.access, doc.variants[variantStart].accesses.length, doc.initial.access),
    caches: within(start.caches, 8, doc.initial.caches),
    step: within(start.step, Number.MAX_SAFE_INTEGER, 0),
  };
  let uid = 0;
  const id = (name: string) => `hv-${name}-${++uid}-${Math.random().toString(36).slice(2, 7)}`;

  const variantOf = () => doc.variants[state.variant];
  const walkOf = (): WalkExplanation => {
    const walks = variantOf().accesses[state.access].walks;
    return walks[state.caches % walks.length];
  };

  const section = el('section', { class: 'hv-walk', 'aria-label': 'Page walk, step by step' });
  const heading = el('h2', { class: 'hv-title' }, doc.title);
  const about = el('p', { class: 'hv-about' });
  const modes = el('p', { class: 'hv-modes' });
  section.append(el('header', { class: 'hv-head' }, heading, about, modes));

  // Controls: variant, access, caches.
  const controls = el('div', { class: 'hv-controls' });
  let variantInputs: HTMLInputElement[] = [];
  if (doc.variants.length > 1) {
    const fieldset = el('fieldset', { class: 'hv-variants' }, el('legend', {}, 'Page sizes'));
    const group = id('variant');
    variantInputs = doc.variants.map((v, i) => {
      const input = el('input', {
        type: 'radio',
        name: group,
        value: String(i),
        'data-variant': String(i),
      }) as HTMLInputElement;
      input.checked = i === state.variant;
      input.addEventListener('change', () => {
        if (!input.checked) return;
        state.variant = i;
        if (state.access >= variantOf().accesses.length) state.access = 0;
        state.step = 0;
        fillAccesses();
        update();
      });
      fieldset.append(el('label', { class: 'hv-choice' }, input, ` ${v.label}`));
      return input;
    });
    controls.append(fieldset);
  }
  const accessId = id('access');
  const accessSelect = el('select', {
    id: accessId,
    class: 'hv-access-select',
    'data-control': 'access',
  }) as HTMLSelectElement;
  const fillAccesses = () => {
    accessSelect.replaceChildren(
      ...variantOf().accesses.map((a, i) => {
        const option = el('option', { value: String(i) }, a.label) as HTMLOptionElement;
        option.selected = i === state.access;
        return option;
      }),
    );
  };
  fillAccesses();
  accessSelect.addEventListener('change', () => {
    state.access = Number(accessSelect.value);
    state.step = 0;
    update();
  });
  controls.append(el('div', { class: 'hv-field' }, el('label', { for: accessId }, 'Access'), accessSelect));

  const cacheFieldset = el(
    'fieldset',
    { class: 'hv-caches' },
    el('legend', {}, 'Walk caches (warmed by one earlier walk of this access)'),
  );
  const cacheNames = ['guest walk cache', 'nested TLB', 'nested walk cache'];
  const cacheInputs = cacheNames.map((name, bit) => {
    const input = el('input', { type: 'checkbox', 'data-cache': name }) as HTMLInputElement;
    input.checked = (state.caches & (1 << bit)) !== 0;
    input.addEventListener('change', () => {
      state.caches = input.checked ? state.caches | (1 << bit) : state.caches & ~(1 << bit);
      state.step = Math.min(state.step, walkOf().made);
      update();
    });
    cacheFieldset.append(el('label', { class: 'hv-choice' }, input, ` ${name}`));
    return input;
  });
  controls.append(cacheFieldset);
  section.append(controls);

  // Stepper.
  const button = (label: string, action: string, hint: string) => {
    const b = el(
      'button',
      { type: 'button', class: 'hv-button', 'data-action': action, 'aria-label': hint },
      label,
    );
    b.addEventListener('click', () => act(action));
    return b;
  };
  const first = button('« First', 'first', 'Back to before the first reference (Home)');
  const back = button('◀ Back', 'back', 'Previous reference (left arrow)');
  const next = button('Next ▶', 'next', 'Next reference (right arrow)');
  const last = button('Last »', 'last', 'Last reference (End)');
  const position = el('p', { class: 'hv-position', 'aria-live': 'polite', 'data-position': '' });
  section.append(
    el(
      'div',
      { class: 'hv-stepper', role: 'group', 'aria-label': 'Step through the memory references' },
      first,
      back,
      next,
      last,
      position,
    ),
    el(
      'p',
      { class: 'hv-keys' },
      'Keys: → or N next reference, ← or P back, Home and End the ends (with focus in the view, outside a form field).',
    ),
  );

  // Grid, the current reference, the outcome, the TLBs.
  const gridWrap = el('div', {
    class: 'hv-grid-wrap',
    tabindex: '0',
    role: 'region',
    'aria-label': 'The walk: guest levels by nested levels. Arrow keys step through it.',
  });
  const detail = el('section', { class: 'hv-detail', 'aria-label': 'Current reference' });
  const outcome = el('section', { class: 'hv-outcome', 'aria-label': 'Outcome' });
  const tlb = el('section', { class: 'hv-tlb', 'aria-label': 'What the access left in the TLBs' });
  section.append(
    el(
      'div',
      { class: 'hv-main' },
      el('div', { class: 'hv-left' }, gridWrap, legend()),
      el('div', { class: 'hv-side' }, detail, outcome),
    ),
    tlb,
  );

  function legend(): HTMLElement {
    const item = (cls: string, text: string) =>
      el('li', {}, el('span', { class: `hv-swatch ${cls}`, 'aria-hidden': 'true' }), ` ${text}`);
    return el(
      'ul',
      { class: 'hv-legend', 'aria-label': 'Legend' },
      item('hv-cur', 'current reference'),
      item('hv-done', 'made already'),
      item('hv-made', 'still to come'),
      item('hv-fault', 'the reference that faulted'),
      item('hv-saved', 'saved by a cache'),
      item('hv-large', 'not needed: large page'),
      item('hv-unreached', 'not reached: the walk faulted first'),
    );
  }

  function bitsTable(decoded: DecodedValue, caption: string, kind: string): HTMLElement {
    return el(
      'table',
      { class: 'hv-bits', 'data-decoded': kind },
      el(
        'caption',
        {},
        `${caption}: ${decoded.value}`,
        el('span', { class: 'hv-source' }, ` (${decoded.source})`),
      ),
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', { scope: 'col' }, 'bits'),
          el('th', { scope: 'col' }, 'name'),
          el('th', { scope: 'col' }, 'value'),
          el('th', { scope: 'col' }, 'meaning'),
        ),
      ),
      el(
        'tbody',
        {},
        ...decoded.fields.map((f) =>
          el(
            'tr',
            {
              class: f.set ? 'hv-set' : null,
              'data-bit': f.bits,
              'data-name': f.name,
              'data-set': f.set ? '1' : '0',
            },
            el('td', {}, f.bits),
            el('td', {}, f.name),
            el('td', {}, f.value),
            el('td', {}, f.meaning),
          ),
        ),
      ),
    );
  }

  function act(action: string): void {
    const made = walkOf().made;
    if (action === 'next') state.step = Math.min(made, state.step + 1);
    else if (action === 'back') state.step = Math.max(0, state.step - 1);
    else if (action === 'first') state.step = 0;
    else if (action === 'last') state.step = made;
    update();
  }

  const onKey = (event: KeyboardEvent) => {
    const target = event.target as HTMLElement;
    if (target.closest?.('input, select, textarea')) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const action = {
      ArrowRight: 'next',
      n: 'next',
      N: 'next',
      ArrowLeft: 'back',
      p: 'back',
      P: 'back',
      Home: 'first',
      End: 'last',
    }[event.key];
    if (action === undefined) return;
    event.preventDefault();
    act(action);
  };
  const keyTarget: HTMLElement | Document = options.pageKeys === true ? document : section;
  keyTarget.addEventListener('keydown', onKey as EventListener);

  function update(): void {
    const variant = variantOf();
    const walk = walkOf();
    const nested = walk.columns.length > 1;
    state.step = Math.max(0, Math.min(state.step, walk.made));
    section.dataset.step = String(state.step);
    section.dataset.made = String(walk.made);
    section.dataset.access = String(state.access);
    section.dataset.caches = String(state.caches);
    about.textContent = variant.name;
    modes.textContent = `${variant.vendor === 'amd' ? 'AMD' : 'Intel'} · guest: ${variant.guestMode} · ${variant.nestedMode === null ? 'no second stage' : `nested: ${variant.nestedMode}`}`;
    accessSelect.value = String(state.access);
    cacheInputs.forEach((input, bit) => {
      input.checked = (state.caches & (1 << bit)) !== 0;
      // Without a second stage only the guest walk cache applies.
      input.disabled = !nested && bit > 0;
    });
    variantInputs.forEach((input, i) => {
      input.checked = i === state.variant;
    });
    first.toggleAttribute('disabled', state.step === 0);
    back.toggleAttribute('disabled', state.step === 0);
    next.toggleAttribute('disabled', state.step === walk.made);
    last.toggleAttribute('disabled', state.step === walk.made);
    // A disabled button loses focus; keep it in the view so the keys go on working.
    if (document.activeElement instanceof HTMLButtonElement && document.activeElement.disabled)
      gridWrap.focus();
    const savedText = walk.saved > 0 ? `; ${walk.saved} saved by caches` : '';
    position.textContent =
      state.step === 0
        ? `Before the first reference: ${walk.made} to make${savedText}.`
        : `Reference ${state.step} of ${walk.made}${savedText}.`;

    // The grid.
    const head = el(
      'tr',
      {},
      el('th', { scope: 'col', class: 'hv-corner' }, nested ? 'guest level ╲ nested level' : 'guest level'),
    );
    for (const column of walk.columns) head.append(el('th', { scope: 'col' }, column.label));
    const body = el('tbody');
    walk.rows.forEach((row, r) => {
      const tr = el(
        'tr',
        {},
        el(
          'th',
          { scope: 'row' },
          row.label,
          row.translating === null
            ? null
            : el('span', { class: 'hv-gpa' }, nested ? `gPA ${row.translating}` : row.translating),
        ),
      );
      walk.cells[r].forEach((cell) => {
        const ref = cell.reference === null ? null : walk.references[cell.reference];
        const classes = ['hv-cell'];
        let text: Child[] = [];
        const attrs: Record<string, string | null> = { 'data-state': cell.state };
        if (cell.state === 'made' && ref !== null && ref.order !== null) {
          attrs['data-order'] = String(ref.order);
          if (ref.order === state.step) {
            classes.push('hv-cur');
            attrs['aria-current'] = 'step';
          } else classes.push(ref.order < state.step ? 'hv-done' : 'hv-made');
          if (ref.faulted) classes.push('hv-fault');
          text = [
            el('span', { class: 'hv-num' }, String(ref.order)),
            el('span', { class: 'hv-addr' }, ref.address ?? ''),
            ref.faulted ? el('span', { class: 'hv-flag' }, 'fault') : null,
          ];
        } else if (cell.state === 'saved') {
          classes.push('hv-saved');
          text = [
            el('span', { class: 'hv-note' }, ref?.savedBy === undefined ? 'saved' : `saved: ${ref.savedBy}`),
          ];
        } else if (cell.state === 'large-page') {
          classes.push('hv-large');
          text = [el('span', { class: 'hv-note' }, 'large page')];
        } else if (cell.state === 'not-reached') {
          classes.push('hv-unreached');
          text = [el('span', { class: 'hv-note' }, 'not reached')];
        } else {
          classes.push('hv-none');
        }
        attrs.class = classes.join(' ');
        tr.append(el('td', attrs, ...text));
      });
      body.append(tr);
    });
    gridWrap.replaceChildren(
      el(
        'table',
        { class: 'hv-grid' },
        el(
          'caption',
          {},
          `Access ${walk.access.access} ${walk.access.address} at CPL ${walk.access.cpl}: ${walk.made} memory references, numbered in the order the CPU makes them`,
        ),
        el('thead', {}, head),
        body,
      ),
    );

    // The current reference.
    const current = walk.references.find((r) => r.order === state.step);
    if (current === undefined) {
      put(
        detail,
        el('h3', {}, 'Current reference'),
        el(
          'p',
          {},
          walk.made === 0
            ? 'This access reads no memory.'
            : 'None yet: press Next (or →) to make the first reference.',
        ),
      );
    } else {
      const decoded = current.decoded === null ? undefined : doc.decoded[current.decoded];
      const rowLabel = walk.rows[current.row];
      put(
        detail,
        el('h3', {}, `Reference ${current.order}: ${current.name}`),
        el(
          'p',
          { class: 'hv-what' },
          current.stage === 'nested'
            ? `Nested walk for ${rowLabel.guestLevel === null ? 'the final guest-physical address' : `the ${rowLabel.label}`}${rowLabel.translating === null ? '' : ` (gPA ${rowLabel.translating})`}: `
            : nested
              ? 'The guest entry itself, at the host-physical address the nested walk found: '
              : 'The entry: ',
          `read ${current.address} → ${current.entry}${current.updated ? ' (accessed/dirty bits written back)' : ''}.`,
          current.faulted ? ' The walk faults here.' : null,
        ),
        decoded === undefined ? null : bitsTable(decoded, decoded.title, 'entry'),
      );
    }

    // The outcome.
    const o = walk.outcome;
    const faultRef = o.faultedReference === null ? null : walk.references[o.faultedReference];
    put(
      outcome,
      el('h3', {}, 'Outcome'),
      el('p', { class: `hv-summary hv-outcome-${o.outcome}`, 'data-outcome': o.outcome }, o.summary),
      el(
        'dl',
        { class: 'hv-fields' },
        ...o.fields.flatMap((f) => [
          el('dt', {}, f.name),
          el('dd', { 'data-field': f.name }, f.value ?? 'null (not valid)'),
        ]),
        faultRef === null ? null : el('dt', {}, 'faulting reference'),
        faultRef === null
          ? null
          : el('dd', { 'data-field': 'faultingReference' }, `${faultRef.order} (${faultRef.name})`),
      ),
      el('p', {}, o.explanation),
      o.decoded === null ? null : bitsTable(o.decoded, o.decoded.title, 'fault'),
    );

    // The TLBs.
    tlb.replaceChildren(
      el('h3', {}, 'What the access left in the TLBs'),
      el(
        'p',
        {},
        `${variant.vendor === 'amd' ? 'Zen-class' : 'Skylake-class'} TLB levels (the presets of @hvsim/tlb-tagged); walk caches and nested TLB sized for illustration. Tags: ${variant.vendor === 'amd' ? 'ASID' : 'VPID'} 1 for the guest${variant.vendor === 'intel' ? ' and the EPT root (EP4TA)' : ''}; the PCID from CR3.`,
      ),
      el(
        'table',
        { class: 'hv-tlb-table' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ...['structure', 'covers', 'size', 'maps to', 'tag', 'permissions'].map((h) =>
              el('th', { scope: 'col' }, h),
            ),
          ),
        ),
        el(
          'tbody',
          {},
          ...walk.tlb.flatMap((s) =>
            s.entries.length === 0
              ? [
                  el(
                    'tr',
                    { class: 'hv-empty' },
                    el('th', { scope: 'row' }, s.name, el('span', { class: 'hv-geometry' }, s.geometry)),
                    el('td', { colspan: '5' }, 'empty'),
                  ),
                ]
              : s.entries.map((e, i) =>
                  el(
                    'tr',
                    { 'data-structure': s.name },
                    el(
                      'th',
                      { scope: 'row' },
                      i === 0 ? s.name : '',
                      i === 0 ? el('span', { class: 'hv-geometry' }, s.geometry) : null,
                    ),
                    el('td', {}, e.covers),
                    el('td', {}, e.size),
                    el('td', {}, e.maps),
                    el('td', {}, e.tag),
                    el('td', {}, e.perms),
                  ),
                ),
          ),
        ),
      ),
    );
    options.onChange?.({
      variant: state.variant,
      access: state.access,
      caches: state.caches,
      step: state.step,
    });
  }

  update();
  root.replaceChildren(section);
  return {
    get step() {
      return state.step;
    },
    goTo(step: number) {
      state.step = step;
      update();
    },
    destroy() {
      keyTarget.removeEventListener('keydown', onKey as EventListener);
      section.remove();
    },
  };
}
