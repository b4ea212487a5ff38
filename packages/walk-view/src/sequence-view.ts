import {
  type CacheEntryView,
  runScenario,
  type Scenario,
  type ScenarioStep,
  type StepResult,
} from '@hvsim/scenario';

/*
 * A sequence with caches (spec/scenario.md, "Sequences with caches"), step by step: what each step
 * is, what it did, what it removed from the TLBs and walk caches, and what they hold after it. The
 * data is `runScenario`'s explanation (`caches`, `removed`), computed ahead as plain JSON; the view
 * only draws it.
 */

/** One step of the sequence view. */
export interface SequenceStepView {
  /** What the step is: `read 0x10000 at CPL 0`, `world-switch: TLB_CONTROL 07h`. */
  readonly label: string;
  /** What it did: `ok: guest-physical 0x10000, host-physical 0x410000`, `done`, `VMfail 28`. */
  readonly outcome: string;
  /** An access a TLB served without a walk. */
  readonly cached: boolean;
  /** What the step removed from the translation caches. */
  readonly removed: readonly CacheEntryView[];
  /** What the translation caches hold after the step. */
  readonly caches: readonly CacheEntryView[];
}

/** The whole sequence view's data. */
export interface SequenceViewDocument {
  readonly title: string;
  readonly steps: readonly SequenceStepView[];
}

const hex = (n: bigint | number) => `0x${n.toString(16)}`;

/** A step's name as a reader would say it. */
export function describeStep(step: ScenarioStep): string {
  switch (step.step) {
    case 'access':
      return `${step.access} ${hex(step.address)} at CPL ${step.cpl}`;
    case 'store':
      return `store ${hex(step.qword)} at host-physical ${hex(step.address)}`;
    case 'invlpg':
      return `INVLPG ${hex(step.address)}`;
    case 'invpcid':
      return `INVPCID type ${step.type}, PCID ${step.pcid}, address ${hex(step.address)}`;
    case 'mov-cr0':
    case 'mov-cr3':
    case 'mov-cr4':
      return `MOV to ${step.step.slice(4).toUpperCase()}, ${hex(step.value)}`;
    case 'world-switch': {
      const parts = [
        step.tlbControl === null ? null : `TLB_CONTROL ${step.tlbControl.toString(16).padStart(2, '0')}h`,
        step.asid === undefined ? null : `ASID ${step.asid}`,
        step.vpid === undefined ? null : `VPID ${step.vpid}`,
        step.root === undefined ? null : `root ${hex(step.root)}`,
      ].filter((p) => p !== null);
      return `world switch${parts.length === 0 ? '' : `: ${parts.join(', ')}`}`;
    }
    case 'invlpga':
      return `INVLPGA ${hex(step.address)}, ASID ${step.asid}`;
    case 'invept':
      return `INVEPT type ${step.type}${step.root === undefined ? '' : `, EPTP ${hex(step.root)}`}`;
    case 'invvpid':
      return `INVVPID type ${step.type}, VPID ${step.vpid}, address ${hex(step.address)}`;
  }
}

/** A step result in words. */
export function describeResult(result: StepResult): string {
  switch (result.outcome) {
    case 'ok':
      return `ok: guest-physical ${hex(result.guestPhysical)}, host-physical ${hex(result.hostPhysical)}`;
    case 'page-fault':
      return `#PF, error code ${hex(result.errorCode)}, CR2 ${hex(result.address)}`;
    case 'general-protection':
      return `#GP(${hex(result.errorCode)})`;
    case 'nested-page-fault':
      return `#VMEXIT(NPF), EXITINFO1 ${hex(result.exitInfo1)}, EXITINFO2 ${hex(result.exitInfo2)}`;
    case 'ept-violation':
      return `EPT violation, qualification ${hex(result.exitQualification)}, guest-physical ${hex(result.guestPhysical)}`;
    case 'ept-misconfiguration':
      return `EPT misconfiguration, guest-physical ${hex(result.guestPhysical)}`;
    case 'done':
      return 'done';
    case 'vmfail':
      return `VMfail, VM-instruction error ${result.error}`;
  }
}

/**
 * Runs a sequence (`steps`, or `accesses` with `caches`) with its explanation and returns the view's
 * data: each step with its result, what it removed and what the caches hold after it.
 */
export function explainSequence(scenario: Scenario, title?: string): SequenceViewDocument {
  const steps: readonly ScenarioStep[] =
    scenario.steps ?? scenario.accesses.map((access) => ({ step: 'access', ...access }));
  const results = runScenario(scenario, { explain: true }).results;
  return {
    title: title ?? scenario.name ?? 'A sequence with caches',
    steps: steps.map((step, i) => {
      const result = results[i];
      return {
        label: describeStep(step),
        outcome: describeResult(result),
        cached: 'cached' in result && result.cached === true,
        removed: result.removed ?? [],
        caches: result.caches ?? [],
      };
    }),
  };
}

/** What `mountSequenceView` returns. */
export interface SequenceViewHandle {
  /** The step shown now, from 0. */
  readonly step: number;
  /** Shows step `index` (clamped to the steps there are). */
  goTo(index: number): void;
  /** Removes the view from its root. */
  destroy(): void;
}

/** Options of `mountSequenceView`. */
export interface SequenceViewOptions {
  /** The step shown first (default 0). */
  readonly start?: number;
  /** Listen for the keys on the whole page, not only inside the view (default false). */
  readonly pageKeys?: boolean;
  /** Told the step after every move. */
  readonly onChange?: (step: number) => void;
}

/**
 * Builds the sequence view of `doc` inside `root` (replacing its children): the steps as a list, the
 * current one's result, what it removed, and a table of what the TLBs and walk caches hold after it.
 * → or N shows the next step, ← or P the previous one, Home and End the first and last. Self-contained
 * (it uses nothing from outside its own body), so `renderSequenceHtml` can inline its source.
 */
export function mountSequenceView(
  root: HTMLElement,
  doc: SequenceViewDocument,
  options: SequenceViewOptions = {},
): SequenceViewHandle {
  const COLUMNS: readonly (keyof CacheEntryView)[] = ['structure', 'covers', 'size', 'maps', 'tag', 'perms'];
  const el = <K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = '') => {
    const node = document.createElement(tag);
    if (className !== '') node.className = className;
    if (text !== '') node.textContent = text;
    return node;
  };
  const section = el('section', 'hv-walk hv-seq');
  section.setAttribute('aria-label', 'The sequence, step by step');
  section.append(el('h2', '', doc.title));
  section.append(
    el('p', 'hv-keys', 'Keys: → or N next step, ← or P previous step, Home and End the first and last.'),
  );
  const stepper = el('div', 'hv-stepper');
  const buttons = (['First', 'Back', 'Next', 'Last'] as const).map((name) => {
    const button = el('button', 'hv-button', name);
    button.type = 'button';
    stepper.append(button);
    return button;
  });
  const position = el('p', 'hv-position');
  position.setAttribute('aria-live', 'polite');
  stepper.append(position);
  section.append(stepper);

  const list = el('ol', 'hv-seq-steps');
  const items = doc.steps.map((step, i) => {
    const button = el('button', 'hv-seq-step');
    button.type = 'button';
    button.textContent = `${step.label}: ${step.outcome}${step.cached ? ' (TLB)' : ''}`;
    button.addEventListener('click', () => goTo(i));
    const item = el('li');
    item.append(button);
    list.append(item);
    return button;
  });
  section.append(list);
  const now = el('div', 'hv-seq-now');
  section.append(now);
  root.replaceChildren(section);

  const table = (entries: readonly CacheEntryView[], className: string, empty: string): HTMLElement => {
    if (entries.length === 0) return el('p', `${className} hv-seq-empty`, empty);
    const t = el('table', className);
    const head = el('tr');
    for (const c of COLUMNS) {
      const th = el('th', '', c);
      th.scope = 'col';
      head.append(th);
    }
    t.append(el('thead'));
    t.tHead?.append(head);
    const body = el('tbody');
    for (const entry of entries) {
      const row = el('tr');
      for (const c of COLUMNS) row.append(el('td', '', entry[c]));
      body.append(row);
    }
    t.append(body);
    return t;
  };

  let current = 0;
  function goTo(index: number): void {
    const last = doc.steps.length - 1;
    current = Math.max(0, Math.min(last, Math.trunc(index)));
    const step = doc.steps[current];
    items.forEach((button, i) => {
      if (i === current) button.setAttribute('aria-current', 'step');
      else button.removeAttribute('aria-current');
    });
    position.textContent = doc.steps.length === 0 ? 'No steps' : `Step ${current + 1} of ${doc.steps.length}`;
    buttons[0].disabled = buttons[1].disabled = current <= 0;
    buttons[2].disabled = buttons[3].disabled = current >= last;
    if (step === undefined) {
      now.replaceChildren();
      return;
    }
    const outcome = el('p', 'hv-seq-outcome', step.outcome);
    if (step.cached) outcome.append(el('span', 'hv-seq-cached', ' served by the TLB, no walk'));
    now.replaceChildren(
      el('h3', '', `Step ${current + 1}: ${step.label}`),
      outcome,
      el('h3', '', 'Removed by this step'),
      table(step.removed, 'hv-seq-removed', 'Nothing.'),
      el('h3', '', 'What the TLBs and walk caches hold after it'),
      table(step.caches, 'hv-seq-caches', 'Nothing.'),
    );
    options.onChange?.(current);
  }
  buttons[0].addEventListener('click', () => goTo(0));
  buttons[1].addEventListener('click', () => goTo(current - 1));
  buttons[2].addEventListener('click', () => goTo(current + 1));
  buttons[3].addEventListener('click', () => goTo(doc.steps.length - 1));

  const onKey = (event: KeyboardEvent) => {
    const target = event.target as HTMLElement | null;
    if (target !== null && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) return;
    const move: Record<string, () => number> = {
      ArrowRight: () => current + 1,
      n: () => current + 1,
      ArrowLeft: () => current - 1,
      p: () => current - 1,
      Home: () => 0,
      End: () => doc.steps.length - 1,
    };
    const to = move[event.key];
    if (to === undefined || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault();
    goTo(to());
  };
  const keyTarget: HTMLElement | Document = options.pageKeys === true ? document : section;
  keyTarget.addEventListener('keydown', onKey as EventListener);
  goTo(options.start ?? 0);
  return {
    get step() {
      return current;
    },
    goTo,
    destroy() {
      keyTarget.removeEventListener('keydown', onKey as EventListener);
      section.remove();
    },
  };
}
