import { loadBundledExpectedResult, loadBundledScenario } from '@hvsim/scenario/node';
import { describe, expect, it } from 'vitest';
import { describeResult, explainSequence } from './sequence-view.js';

/* The sequence view's data, against the bundled sequence's hand-derived expected result (AMD APM vol. 2 §15.16.1). */

describe('explainSequence', () => {
  it('names every step and its result, marks TLB hits, and carries what each step removed', () => {
    const doc = explainSequence(loadBundledScenario('seq-amd-tlb-control-7'));
    const expected = loadBundledExpectedResult('seq-amd-tlb-control-7')!;
    expect(doc.title).toBe(loadBundledScenario('seq-amd-tlb-control-7').name);
    expect(doc.steps.map((s) => s.label)).toEqual([
      'read 0x10000 at CPL 0',
      'read 0x11000 at CPL 0',
      'store 0x12167 at host-physical 0x804080',
      'store 0x13067 at host-physical 0x804088',
      'world switch: TLB_CONTROL 07h',
      'read 0x10000 at CPL 0',
      'read 0x11000 at CPL 0',
    ]);
    expect(doc.steps.map((s) => s.outcome)).toEqual(expected.results.map(describeResult));
    expect(doc.steps.map((s) => s.cached)).toEqual([false, false, false, false, false, true, false]);
    // TLB_CONTROL 07h removes the non-global page and keeps the global one.
    const removed = doc.steps[4].removed.map((e) => e.covers);
    expect(removed).toContain('0x11000-0x11fff');
    expect(removed).not.toContain('0x10000-0x10fff');
    expect(doc.steps[2].removed).toEqual([]);
  });
});
