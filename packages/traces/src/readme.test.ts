import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readmeProblems, undocumentedExports } from '@hvsim/test-utils';
import { expect, it, vi } from 'vitest';
import * as api from './index.js';
import { convertTrace, openTrace, TraceKind } from './index.js';

/*
 * The README's code block, verbatim (between the README markers), runs here so that it stays
 * correct. The expected figures were counted on the fixture with other tools: `zcat | grep -v ^==`
 * gives 19994 access lines, awk on their first two columns 16653 `I`, 3151 ` L`, 170 ` S` and 20
 * ` M`; a Python loop over the lines' addresses and sizes (pages address >> 12 through
 * (address + size - 1) >> 12) finds 5 code and 7 data pages, none crossed by an access here, so the
 * example's first-byte page count agrees.
 */

async function readmeExample(): Promise<void> {
  // README example begin
  // A gzipped lackey trace of `sort` (in fixtures/ of hvsim's repository), as valgrind wrote it:
  // count its records by kind and the 4 KiB pages it touches. The format and the compression are
  // found from the content.
  const reader = openTrace('fixtures/sort-small.lackey.gz');
  const perKind = [0, 0, 0, 0];
  const codePages = new Set<number>();
  const dataPages = new Set<number>();
  for await (const batch of reader) {
    for (let i = 0; i < batch.length; i++) {
      const kind = batch.kind[i];
      perKind[kind]++;
      // Page number = address >> 12, from the two 32-bit halves (no BigInt).
      const page = batch.addressHi[i] * 0x10_0000 + (batch.addressLo[i] >>> 12);
      (kind === TraceKind.Fetch ? codePages : dataPages).add(page);
    }
  }
  console.log(`${reader.format}, ${reader.recordsRead} records`);
  console.log(
    `fetch ${perKind[TraceKind.Fetch]}, load ${perKind[TraceKind.Load]}, store ${perKind[TraceKind.Store]}, modify ${perKind[TraceKind.Modify]}`,
  );
  console.log(`${codePages.size} code pages, ${dataPages.size} data pages`);

  // Convert it to hvsim's compact format (written to a temporary file, renamed when complete).
  const converted = await convertTrace('fixtures/sort-small.lackey.gz', 'sort-small.hvt');
  console.log(`${converted.records} records in ${converted.bytes} bytes`);
  const again = openTrace('sort-small.hvt');
  console.log(`read back as ${await again.ready()}`);
  await again.close();
  // README example end
}

it('runs the README example and prints what the fixture holds', async () => {
  // In a folder of its own, as a user runs it: the fixture under fixtures/, the converted file beside.
  const fixture = fileURLToPath(new URL('../fixtures/sort-small.lackey.gz', import.meta.url));
  const folder = mkdtempSync(join(tmpdir(), 'hvsim-traces-readme-'));
  mkdirSync(join(folder, 'fixtures'));
  copyFileSync(fixture, join(folder, 'fixtures/sort-small.lackey.gz'));
  const before = process.cwd();
  process.chdir(folder);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await readmeExample();
    const lines = log.mock.calls.map((args) => args.join(' '));
    expect(lines.slice(0, 3)).toEqual([
      'lackey, 19994 records',
      'fetch 16653, load 3151, store 170, modify 20',
      '5 code pages, 7 data pages',
    ]);
    // The converted size is the format's own business; it must be far below the text's.
    expect(lines[3]).toMatch(/^19994 records in \d+ bytes$/);
    expect(Number(/in (\d+) bytes/.exec(lines[3])![1])).toBeLessThan(19994 * 4);
    expect(lines[4]).toBe('read back as hvsim');
  } finally {
    log.mockRestore();
    process.chdir(before);
    rmSync(folder, { recursive: true, force: true });
  }
});

it('README.md opens with exactly the code that runs here', () => {
  expect(readmeProblems(import.meta.url, '@hvsim/traces', api)).toEqual([]);
});

it('exports only documented names', () => {
  expect(undocumentedExports(import.meta.url)).toEqual([]);
});
