import { readFileSync } from 'node:fs';
import { loadBundledScenario } from '@hvsim/scenario/node';
import { expect, it, vi } from 'vitest';
import { explainAccess, renderWalkHtml } from './index.js';

/*
 * The README's example, verbatim (between the markers), run here so that it stays correct. The
 * printed values are the hand-derived ones of amd-npt-4x4.expected.json (AMD APM vol. 2 §15.25.5-6)
 * and the scenario's table layout.
 */

function readmeExample(writeFileSync: (path: string, text: string) => void): void {
  // README example begin
  // The full 4x4 walk: a 4-level guest over 4-level AMD nested tables with 4 KiB nested pages.
  const scenario = loadBundledScenario('amd-npt-4x4');

  // Access 1 writes to a page the nested tables map read-only.
  const walk = explainAccess(scenario, 1);
  for (const ref of walk.references.filter((r) => r.row === 0 || r.faulted)) {
    console.log(`${ref.order}. ${ref.name} at ${ref.address}: ${ref.entry}`);
  }
  console.log(walk.outcome.summary);
  console.log(
    walk.outcome.decoded?.fields
      .filter((f) => f.set)
      .map((f) => `${f.bits} ${f.name}`)
      .join(', '),
  );

  // Every access under every walk-cache setting, as one page to open in a browser.
  writeFileSync('walk.html', renderWalkHtml(scenario, { source: 'amd-npt-4x4', access: 1 }));
  // README example end
}

const between = (text: string) =>
  text
    .slice(text.indexOf('// README example begin'), text.indexOf('// README example end'))
    .replace(/\s+/g, '')
    .replace(/,\)/g, ')');

it("runs the README's example and prints what the README says", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const self = readFileSync(new URL('./readme.test.ts', import.meta.url), 'utf8');
  // The same code, whitespace and trailing commas aside (the formatter wraps the test's copy).
  expect(between(self)).toBe(between(readme));

  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => lines.push(line));
  const written = new Map<string, string>();
  try {
    readmeExample((path, text) => written.set(path, text));
  } finally {
    log.mockRestore();
  }
  const printed = readme.slice(readme.indexOf('prints\n\n```\n') + 'prints\n\n```\n'.length);
  expect(lines.join('\n')).toBe(printed.slice(0, printed.indexOf('\n```')));
  expect(written.get('walk.html')).toMatch(/^<!doctype html>/);
});
