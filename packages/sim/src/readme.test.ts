import { readFileSync } from 'node:fs';
import { renderTable } from '@hvsim/report';
import { expect, it, vi } from 'vitest';
import { compare, loadPreset, parseConfig, runConfig } from './index.js';

/*
 * The README's example, verbatim (between the markers), run here so that it stays correct. What it
 * prints is checked against reasoning written out below, not against a pasted output.
 */

async function readmeExample(): Promise<void> {
  // README example begin
  // A configuration of your own: Intel EPT with 2 MiB nested pages, a Zen-class TLB, no VPIDs.
  const mine = parseConfig(
    'mmu: nested\nvendor: intel\nbacking: 2M\ntlb: zen\ntagging: false\n',
    'mine.yaml',
  );

  const workload = { kind: 'workload', name: 'zipf', accesses: 20_000 } as const;
  const run = await runConfig(mine, workload, { seed: 1 });
  console.log(
    `${run.config}: ${run.referencesPerWalk.toFixed(2)} references per walk, ${run.entryFlushes} TLB flushes`,
  );

  // The same workload on presets and on yours, side by side (on worker threads), against native.
  const report = await compare([loadPreset('native'), loadPreset('npt-4k'), mine], workload, { seed: 1 });
  console.log(renderTable(report));
  // README example end
}

const between = (text: string) =>
  text
    .slice(text.indexOf('// README example begin'), text.indexOf('// README example end'))
    .replace(/\s+/g, '')
    .replace(/,\)/g, ')');

it("runs the README's example and prints what the README says", async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const self = readFileSync(new URL('./readme.test.ts', import.meta.url), 'utf8');
  const fenced = readme.slice(readme.indexOf('```ts'), readme.indexOf('```', readme.indexOf('```ts') + 5));
  expect(between(self)).toBe(
    between(
      fenced.replace('// A configuration', '// README example begin\n// A configuration') +
        '// README example end',
    ),
  );

  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => lines.push(line));
  try {
    await readmeExample();
  } finally {
    log.mockRestore();
  }
  const first = /^mine: (\d+\.\d\d) references per walk, (\d+) TLB flushes$/.exec(lines[0]);
  expect(first).not.toBeNull();
  // A 4-level guest walk over 3-level EPT (2 MiB pages) makes at most (4 + 1) x (3 + 1) - 1 = 19
  // references; more than a native walk's 4 at most on average, as the nested stage adds to each.
  expect(Number(first?.[1])).toBeLessThanOrEqual(19);
  expect(Number(first?.[1])).toBeGreaterThan(4);
  // Untagged, scheduling the vCPU in flushes: at least once.
  expect(Number(first?.[2])).toBeGreaterThanOrEqual(1);
  const table = lines[1].split('\n');
  expect(table[2]).toMatch(/^configuration +accesses/);
  expect(table.slice(4, 7).map((l) => l.split(' ')[0])).toEqual(['native', 'npt-4k', 'mine']);
  expect(table[4]).toMatch(/1\.00x$/);
});
