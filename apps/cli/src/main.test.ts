import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareResults, parseResult } from '@hvsim/scenario';
import { listBundledScenarios, loadBundledExpectedResult } from '@hvsim/scenario/node';
import { afterAll, describe, expect, it } from 'vitest';

/* The CLI run as a user runs it: a child process, checked by its stdout, stderr and exit code. */

const cliDir = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'hvsim-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `hvsim args` as `pnpm hvsim` does (the bundled sources) with `input` on standard input. */
function hvsim(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['scripts/hvsim.mjs', ...args],
      { cwd: cliDir, encoding: 'utf8', env: { ...process.env, HVSIM_DEBUG: '' } },
      (error, stdout, stderr) => {
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
          stdout,
          stderr,
        });
      },
    );
    child.stdin?.end(input);
  });
}

const example = listBundledScenarios().find((e) => e.name === 'long4')!;
const expected = loadBundledExpectedResult('long4')!;
const badScenario = JSON.parse(readFileSync(example.path, 'utf8'));
badScenario.accesses[2].cpl = 4;

// Each case starts node; running them side by side keeps the file quick.
describe.concurrent('hvsim translate', () => {
  it('runs a scenario file and prints its result', async () => {
    const { code, stdout, stderr } = await hvsim(['translate', example.path]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(compareResults(expected, parseResult(stdout))).toEqual([]);
    expect(stdout).not.toContain('"walk"');
  });

  it('reads standard input for -, and adds walks with --explain', async () => {
    const { code, stdout } = await hvsim(['translate', '-', '--explain'], readFileSync(example.path, 'utf8'));
    expect(code).toBe(0);
    const result = parseResult(stdout);
    expect(compareResults(expected, result)).toEqual([]);
    expect(result.results[0].walk).toHaveLength(4);
  });

  it('names the file and the JSON path of a bad field on stderr, exit code 1, no stack trace', async () => {
    const file = join(work, 'bad.json');
    writeFileSync(file, JSON.stringify(badScenario));
    const { code, stdout, stderr } = await hvsim(['translate', file]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(`hvsim: ${file}: accesses[2].cpl: expected 0, 1, 2 or 3, got 4\n`);
  });

  it('warns about a misspelled field on stderr and still runs; --strict rejects it', async () => {
    const file = join(work, 'typo.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(example.path, 'utf8')), rflgs: '0x2' }));
    const loose = await hvsim(['translate', file]);
    expect(loose.code).toBe(0);
    expect(compareResults(expected, parseResult(loose.stdout))).toEqual([]);
    expect(loose.stderr).toBe(
      `hvsim: warning: ${file}: rflgs: unknown field, ignored (spec/scenario.md: readers ignore fields they do not know)\n`,
    );
    const strict = await hvsim(['translate', '--strict', file]);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toBe('');
    expect(strict.stderr).toBe(
      `hvsim: ${file}: rflgs: unknown field (strict reading rejects fields the format does not define)\n`,
    );
  });

  it('gives the line and column of invalid JSON, from a file or standard input', async () => {
    const { code, stderr } = await hvsim(
      ['translate', '-'],
      '{\n  "format": "hvsim.scenario/1",\n  "vendor": }',
    );
    expect(code).toBe(1);
    expect(stderr).toBe(
      "hvsim: <stdin>: line 3, column 13: invalid JSON: unexpected '}', expected a value\n",
    );
    const missing = await hvsim(['translate', join(work, 'no-such.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `hvsim: cannot read ${join(work, 'no-such.json')}: no such file or directory\n`,
    );
  });

  it('writes --output to a file, and leaves no file behind when the input is bad', async () => {
    const dir = mkdtempSync(join(work, 'out-'));
    const good = await hvsim(['translate', '--example', 'long4', '--output', join(dir, 'result.json')]);
    expect(good.code).toBe(0);
    expect(good.stdout).toBe('');
    expect(compareResults(expected, parseResult(readFileSync(join(dir, 'result.json'), 'utf8')))).toEqual([]);

    const badDir = mkdtempSync(join(work, 'out-'));
    writeFileSync(join(badDir, 'bad.json'), JSON.stringify(badScenario));
    const bad = await hvsim(['translate', join(badDir, 'bad.json'), '-o', join(badDir, 'result.json')]);
    expect(bad.code).toBe(1);
    expect(readdirSync(badDir)).toEqual(['bad.json']);

    const nowhere = join(work, 'no-such-dir', 'result.json');
    const unwritable = await hvsim(['translate', '--example', 'long4', '--output', nowhere]);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toBe(`hvsim: cannot write ${nowhere}: no such file or directory\n`);
  });

  it('runs a nested scenario: AMD NPT with every reference of the two-dimensional walk', async () => {
    const { code, stdout } = await hvsim(['translate', '--example', 'amd-npt-long4', '--explain']);
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    // 4 guest levels over 2 MiB nested pages (3 nested levels): (4+1)(3+1)-1 = 19 references.
    expect(result.results[0].walk).toHaveLength(19);
    expect(result.results[1]).toMatchObject({
      outcome: 'nested-page-fault',
      exitInfo1: '0x100000007',
      exitInfo2: '0x200008',
    });
  });

  it('runs a sequence with caches: one result per step, cached accesses marked', async () => {
    const sequence = listBundledScenarios().find((e) => e.name === 'seq-amd-tlb-control-7')!;
    const { code, stdout, stderr } = await hvsim(['translate', sequence.path]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const result = parseResult(stdout);
    expect(compareResults(loadBundledExpectedResult('seq-amd-tlb-control-7')!, result)).toEqual([]);
    // TLB_CONTROL 07h keeps the global page's translation (AMD APM vol. 2 §15.16.1): a TLB serves it.
    expect(result.results[4]).toEqual({ outcome: 'done' });
    expect(result.results[5]).toMatchObject({ outcome: 'ok', hostPhysical: 0x410000n, cached: true });
    expect(result.results[6]).not.toHaveProperty('cached');
  });

  it('--explain shows, per step, what the caches hold and what an operation removed', async () => {
    const { code, stdout } = await hvsim(['translate', '--example', 'seq-amd-tlb-control-7', '--explain']);
    expect(code).toBe(0);
    const steps = JSON.parse(stdout).results;
    type Entry = { structure: string; covers: string; tag: string; perms: string };
    const covers = (entries: Entry[], range: string) => entries.filter((e) => e.covers === range);
    // After the two reads, the TLBs hold both pages; 0x10000 is global (APM vol. 2 §15.16: within ASID 1).
    expect(covers(steps[1].caches, '0x10000-0x10fff').every((e: Entry) => e.perms.includes('G'))).toBe(true);
    expect(covers(steps[1].caches, '0x11000-0x11fff').length).toBeGreaterThan(0);
    // A store invalidates nothing.
    expect(steps[2].removed).toEqual([]);
    // VMRUN with TLB_CONTROL 07h removes ASID 1's non-global entries, the guest walk caches among them, and keeps the global one.
    const removed: Entry[] = steps[4].removed;
    expect(covers(removed, '0x11000-0x11fff').length).toBeGreaterThan(0);
    expect(removed.some((e) => e.structure.startsWith('guest walk cache'))).toBe(true);
    expect(covers(removed, '0x10000-0x10fff')).toEqual([]);
    expect(covers(steps[4].caches, '0x10000-0x10fff').map((e: Entry) => e.tag)).toContain('ASID 1, any PCID');
    // The global page is then served by the TLB: no walk.
    expect(steps[5]).toMatchObject({ cached: true, walk: [] });
  });

  it('names the step and field of a malformed step, exit code 1', async () => {
    const sequence = listBundledScenarios().find((e) => e.name === 'seq-amd-tlb-control-7')!;
    const bad = JSON.parse(readFileSync(sequence.path, 'utf8'));
    bad.steps[4].tlbControl = 2;
    const file = join(work, 'bad-step.json');
    writeFileSync(file, JSON.stringify(bad));
    const { code, stdout, stderr } = await hvsim(['translate', file]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `hvsim: ${file}: steps[4].tlbControl: must be 0, 1, 3 or 7 (the TLB_CONTROL encodings of AMD APM vol. 2 §15.16.1, Table 15-9), got 2\n`,
    );
  });

  it('refuses a 64-bit address where the guest is outside IA-32e mode, naming the step', async () => {
    const file = join(work, 'wide.json');
    const scenario = {
      format: 'hvsim.scenario/1',
      vendor: 'intel',
      caches: { tlb: 'default' },
      guest: { cr0: '0x80000011', cr3: '0x1000', cr4: '0x20', efer: '0x500' },
      nested: { enabled: false },
      memory: [],
      // CR0.PG cleared from 64-bit mode is #GP, so the guest stays in IA-32e mode: the wide address is fine.
      steps: [
        { step: 'mov-cr0', value: '0x11' },
        { address: '0x100000000', access: 'read', cpl: 0 },
      ],
    };
    writeFileSync(file, JSON.stringify(scenario));
    const stays = await hvsim(['translate', file]);
    expect(stays.code).toBe(0);
    expect(JSON.parse(stays.stdout).results[0]).toEqual({ outcome: 'general-protection', errorCode: '0x0' });
    writeFileSync(file, JSON.stringify({ ...scenario, guest: { ...scenario.guest, efer: '0x0' } }));
    const wide = await hvsim(['translate', file]);
    expect(wide.code).toBe(1);
    expect(wide.stderr).toContain(`${file}: steps[1].address: 0x100000000 is wider than 32 bits`);
  });

  it('exits with 2 on usage errors', async () => {
    expect((await hvsim(['translate'])).code).toBe(2);
    expect((await hvsim(['translate', 'a.json', '--example', 'long4'])).code).toBe(2);
    const unknown = await hvsim(['translate', '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--frobnicate'");
  });
});

describe.concurrent('hvsim explain', () => {
  it('writes one self-contained HTML page: the walk view with the scenario explained inside', async () => {
    const dir = mkdtempSync(join(work, 'explain-'));
    const out = join(dir, 'walk.html');
    const { code, stdout, stderr } = await hvsim([
      'explain',
      '--example',
      'amd-npt-4x4',
      '--html',
      out,
      '--access',
      '1',
    ]);
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: '', stderr: '' });
    const html = readFileSync(out, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    // Inline style and script only: nothing is fetched.
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|@import|url\(/i);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toContain('"initial":{"variant":0,"access":1,"caches":0}');
    expect(html).toContain('"exitInfo1"');
    expect(readdirSync(dir)).toEqual(['walk.html']);
  });

  it('reads a scenario file and names it in errors; bad input exits 1, usage errors 2', async () => {
    const dir = mkdtempSync(join(work, 'explain-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(badScenario));
    const bad = await hvsim(['explain', file, '--html', join(dir, 'walk.html')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`hvsim: ${file}: accesses[2].cpl: expected 0, 1, 2 or 3, got 4\n`);
    expect(readdirSync(dir)).toEqual(['bad.json']);

    const good = await hvsim(['explain', example.path, '--html', join(dir, 'long4.html')]);
    expect(good.code).toBe(0);
    expect(readFileSync(join(dir, 'long4.html'), 'utf8')).toContain('"outcome":"page-fault"');

    const nowhere = join(work, 'no-such-dir', 'walk.html');
    const unwritable = await hvsim(['explain', '--example', 'long4', '--html', nowhere]);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toBe(`hvsim: cannot write ${nowhere}: no such file or directory\n`);

    expect((await hvsim(['explain', '--example', 'long4'])).code).toBe(2);
    expect((await hvsim(['explain', '--html', join(dir, 'x.html')])).code).toBe(2);
    expect(
      (await hvsim(['explain', '--example', 'long4', '--html', join(dir, 'x.html'), '--access', 'one'])).code,
    ).toBe(2);
    const range = await hvsim([
      'explain',
      '--example',
      'amd-npt-4x4',
      '--html',
      join(dir, 'x.html'),
      '--access',
      '5',
    ]);
    expect(range.code).toBe(2);
    expect(range.stderr).toContain('--access 5: amd-npt-4x4 has 5 accesses (0 to 4)');
  });
});

describe.concurrent('hvsim explain of a sequence', () => {
  it('writes the sequence view: every step, what it removed, what the caches hold', async () => {
    const dir = mkdtempSync(join(work, 'explain-seq-'));
    const out = join(dir, 'seq.html');
    const { code, stderr } = await hvsim(['explain', '--example', 'seq-amd-tlb-control-7', '--html', out]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('<title>caches: VMRUN with TLB_CONTROL 07h');
    // The document inside: seven steps; the world switch (07h) removed the non-global page's entries.
    const doc = JSON.parse(
      html.slice(html.indexOf(', {"title"') + 2, html.lastIndexOf(', { pageKeys: true })')),
    );
    expect(doc.steps).toHaveLength(7);
    expect(doc.steps[4].label).toBe('world switch: TLB_CONTROL 07h');
    expect(doc.steps[4].removed.some((e: { covers: string }) => e.covers === '0x11000-0x11fff')).toBe(true);
    expect(doc.steps[4].removed.some((e: { covers: string }) => e.covers === '0x10000-0x10fff')).toBe(false);
    expect(doc.steps[5].cached).toBe(true);
  });

  it('refuses --access for a sequence (it has steps), exit code 2', async () => {
    const { code, stderr } = await hvsim([
      'explain',
      '--example',
      'seq-noncanonical',
      '--html',
      join(work, 's.html'),
      '--access',
      '1',
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('is a sequence of steps');
  });
});

describe.concurrent('hvsim examples', () => {
  it('lists every bundled example, nested ones marked', async () => {
    const { code, stdout } = await hvsim(['examples']);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines.map((line) => line.split(' ')[0])).toEqual(listBundledScenarios().map((e) => e.name));
    expect(lines.find((line) => line.startsWith('amd-npt-example'))).toContain('[nested]');
    const unknown = await hvsim(['translate', '--example', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^hvsim: no bundled example named "nope"; there are: accessed-dirty, /);
  });
});

describe.concurrent('hvsim --version', () => {
  it("prints the version of the hvsim package's package.json, and the help says where it comes from", async () => {
    const { version } = JSON.parse(readFileSync(join(cliDir, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V'])
      expect(await hvsim([flag])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    const help = await hvsim(['--help']);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain("print the version, from this package's package.json");
    if (version === '0.0.0')
      expect(help.stdout.replace(/\s+/g, ' ')).toContain('not released yet; changesets sets it at release');
  });
});

describe('a closed pipe', () => {
  it('ends the command quietly, exit code 0, as `hvsim examples | head -1` needs', async () => {
    // The reading end is closed before the command writes anything, so every write meets EPIPE.
    const child = spawn(process.execPath, ['scripts/hvsim.mjs', 'examples'], {
      cwd: cliDir,
      env: { ...process.env, HVSIM_DEBUG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

describe('pnpm hvsim from another folder', () => {
  it("resolves relative paths against the folder the command was typed in (pnpm's INIT_CWD)", async () => {
    const caller = mkdtempSync(join(work, 'caller-'));
    const code = await new Promise<number | null>((resolve) => {
      execFile(
        process.execPath,
        ['scripts/hvsim.mjs', 'translate', '--example', 'long4', '-o', 'result.json'],
        {
          cwd: cliDir,
          env: { ...process.env, HVSIM_DEBUG: '', npm_lifecycle_event: 'hvsim', INIT_CWD: caller },
        },
        (error) => resolve(error === null ? 0 : typeof error.code === 'number' ? error.code : null),
      );
    });
    expect(code).toBe(0);
    expect(compareResults(expected, parseResult(readFileSync(join(caller, 'result.json'), 'utf8')))).toEqual(
      [],
    );
  });
});
