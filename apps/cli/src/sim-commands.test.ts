import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseReport } from '@hvsim/report';
import { defaultComparison, listPresets } from '@hvsim/sim';
import { afterAll, describe, expect, it } from 'vitest';

/* run, compare, sweep, demo and presets as a user runs them: a child process, as `pnpm hvsim` starts it. */

const cliDir = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'hvsim-sim-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function hvsim(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['scripts/hvsim.mjs', ...args],
      { cwd: cliDir, encoding: 'utf8', env: { ...process.env, HVSIM_DEBUG: '' }, maxBuffer: 1 << 24 },
      (error, stdout, stderr) => {
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
          stdout,
          stderr,
        });
      },
    );
  });
}

const small = ['--workload', 'zipf', '--accesses', '3000'];

describe.concurrent('hvsim run, compare, sweep', () => {
  it('run prints one configuration as a table; stdout is not a terminal, so no progress and no colour', async () => {
    const { code, stdout, stderr } = await hvsim(['run', '--config', 'npt-2m', ...small]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^zipf \(seed 1\): /);
    expect(lines[2]).toMatch(
      /^configuration +accesses +\+retried +TLB hits .* cycles +cycles\/access +vs native$/,
    );
    expect(lines[4]).toMatch(/^npt-2m +\d/);
    expect(stdout).not.toContain('\u001b');
  });

  it('run --json writes a report that reads back, the same bytes for the same seed', async () => {
    const a = await hvsim(['run', '--config', 'ept-4k', ...small, '--json', '--seed', '5']);
    const b = await hvsim(['run', '--config', 'ept-4k', ...small, '--json', '--seed', '5']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const report = parseReport(a.stdout);
    expect(report.workload.seed).toBe(5);
    expect(report.runs.map((r) => r.config)).toEqual(['ept-4k']);
  });

  it('compare runs the configurations given, in order, with CSV, an HTML page and -o written atomically', async () => {
    const dir = mkdtempSync(join(work, 'compare-'));
    const { code, stdout, stderr } = await hvsim([
      'compare',
      '--config',
      'native',
      '--config',
      'npt-4k-untagged',
      ...small,
      '--csv',
      '--html',
      join(dir, 'report.html'),
      '-o',
      join(dir, 'report.csv'),
    ]);
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(readdirSync(dir).sort()).toEqual(['report.csv', 'report.html']);
    const csv = readFileSync(join(dir, 'report.csv'), 'utf8').split('\r\n');
    expect(csv[0].startsWith('config,mmu,vendor,tagged,backing,')).toBe(true);
    expect(csv[1].startsWith('native,native,none,false,-,')).toBe(true);
    expect(csv[2].startsWith('npt-4k-untagged,nested,amd,false,4K,')).toBe(true);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toContain('Chart.js v4');
    expect(html).toContain('"configs":["native","npt-4k-untagged"]');
  });

  it('writes the same CSV columns for run, compare and sweep, whatever the configurations', async () => {
    const [native, ept, shadow, compared, swept] = await Promise.all([
      hvsim(['run', '--config', 'native', ...small, '--csv']),
      hvsim(['run', '--config', 'ept-4k', ...small, '--csv']),
      hvsim(['run', '--config', 'shadow', ...small, '--csv']),
      hvsim(['compare', '--config', 'native', '--config', 'npt-4k', ...small, '--csv']),
      hvsim(['sweep', '--config', 'npt-4k', '--set', 'tlb=skylake,zen', ...small, '--csv']),
    ]);
    const tables = [native, ept, shadow, compared, swept].map((r) => {
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      return r.stdout
        .split('\r\n')
        .slice(0, -1)
        .map((row) => row.split(','));
    });
    const header = tables[0][0];
    for (const table of tables) {
      expect(table[0]).toEqual(header);
      for (const row of table.slice(1)) expect(row).toHaveLength(header.length);
    }
    // Identifiers; the presets' levels and the exit kinds of both vendors and of shadow paging.
    for (const name of header) expect(name).toMatch(/^[a-z][a-z0-9_]*$/);
    for (const name of [
      'tlb_hits_stlb',
      'tlb_hits_l2_dtlb',
      'exits_npf',
      'exits_ept_violation',
      'exits_hidden_page_fault',
    ])
      expect(header).toContain(name);
    // A native run has no exits of any kind to count: empty. Skylake has no L2 DTLB: empty.
    const cell = (table: string[][], row: number, name: string): string => table[row][header.indexOf(name)];
    expect(cell(tables[0], 1, 'exits_npf')).toBe('');
    expect(cell(tables[0], 1, 'tlb_hits_l2_dtlb')).toBe('');
    expect(cell(tables[1], 1, 'exits_npf')).toBe('0');
    expect(Number(cell(tables[1], 1, 'exits_ept_violation'))).toBeGreaterThan(0);
    expect(cell(tables[4], 2, 'tlb_hits_stlb')).toBe(''); // the zen point
  });

  it('reads a configuration file, and names its line and JSON path when it is wrong', async () => {
    const good = join(work, 'mine.yaml');
    writeFileSync(good, 'mmu: nested\nvendor: intel\nbacking: 2M\ntlb: zen\n');
    const ok = await hvsim(['run', '--config', good, ...small, '--json']);
    expect(ok.code).toBe(0);
    expect(parseReport(ok.stdout).runs[0]).toMatchObject({ config: 'mine', backing: '2M', tlb: 'Zen-class' });

    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, 'mmu: nested\nvendor: intel\nbacking: 3M\n');
    const failed = await hvsim(['run', '--config', bad, ...small]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toBe(
      `hvsim: ${bad}: line 3, column 10: backing: expected a nested page size: "4K", "2M" or "1G", got "3M"\n`,
    );
  });

  it('refuses a hostile or impossible configuration in one located line, before running anything', async () => {
    const laughs = join(work, 'laughs.yaml');
    writeFileSync(
      laughs,
      'a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nmmu: native\n',
    );
    const huge = join(work, 'huge.yaml');
    writeFileSync(huge, 'mmu: nested\nvendor: amd\ncpus: 5000\n');
    // 65 GiB backed up front is 17,039,360 host frames, more than the 2^24 the hypervisor tracks.
    const backed = join(work, 'backed.yaml');
    writeFileSync(backed, 'mmu: shadow\nvendor: intel\nfill: up-front\nguest: { memory: 65G }\n');
    const [a, b, c] = await Promise.all(
      [laughs, huge, backed].map((f) => hvsim(['run', '--config', f, ...small])),
    );
    expect([a.code, b.code, c.code]).toEqual([1, 1, 1]);
    expect(a.stderr).toMatch(
      new RegExp(
        `^hvsim: ${laughs.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 2, column 8: aliases here expand to more than 50 copies`,
      ),
    );
    expect(b.stderr).toBe(
      `hvsim: ${huge}: line 3, column 7: cpus: expected a positive number of CPUs, at most 1,024 (the largest x86 hosts have under 1,000 logical CPUs), got the number 5000\n`,
    );
    expect(c.stderr).toMatch(/^hvsim: backed: backing 65 GiB up front hands out 17039360 4 KiB host frames/);
    expect([a.stdout, b.stdout, c.stdout]).toEqual(['', '', '']);
  });

  it('names today’s TLB presets in a configuration file and in a sweep axis', async () => {
    const file = join(work, 'golden.yaml');
    writeFileSync(file, 'mmu: nested\nvendor: intel\ntlb: golden-cove\n');
    const [run, sweep] = await Promise.all([
      hvsim(['run', '--config', file, ...small, '--json']),
      hvsim(['sweep', '--config', 'npt-4k', '--set', 'tlb=zen4,zen5', ...small, '--workers', '1', '--json']),
    ]);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(parseReport(run.stdout).runs[0]).toMatchObject({ config: 'golden', tlb: 'Golden Cove-class' });
    expect({ code: sweep.code, stderr: sweep.stderr }).toEqual({ code: 0, stderr: '' });
    expect(parseReport(sweep.stdout).runs.map((r) => [r.config, r.tlb])).toEqual([
      ['npt-4k tlb=zen4', 'Zen 4-class'],
      ['npt-4k tlb=zen5', 'Zen 5-class'],
    ]);
  });

  it('exits 1 naming what is unknown, 2 on usage errors, and leaves no file behind', async () => {
    const dir = mkdtempSync(join(work, 'nothing-'));
    const [preset, workload, trace, both, format, accesses, none] = await Promise.all([
      hvsim(['run', '--config', 'npt-3m', ...small]),
      hvsim(['run', '--workload', 'nope']),
      hvsim(['run', '--trace', join(work, 'missing.lackey')]),
      hvsim(['run', '--workload', 'zipf', '--trace', 'x.lackey']),
      hvsim(['run', '--format', 'lackey']),
      hvsim(['run', '--accesses', 'many']),
      hvsim(['run', '--config', 'npt-3m', ...small, '--html', join(dir, 'r.html')]),
    ]);
    expect(preset.code).toBe(1);
    expect(preset.stderr).toMatch(/^hvsim: no preset named "npt-3m"; there are: ept-2m, /);
    expect(workload.code).toBe(1);
    expect(workload.stderr).toMatch(/^hvsim: no workload named "nope"; there are: sequential, /);
    expect(trace.code).toBe(1);
    // In words, without Node's code and syscall.
    expect(trace.stderr).toBe(
      `hvsim: ${join(work, 'missing.lackey')}: cannot read: no such file or directory\n`,
    );
    const folder = await hvsim(['run', '--config', work, ...small]);
    expect({ code: folder.code, stderr: folder.stderr }).toEqual({
      code: 1,
      stderr: `hvsim: cannot read ${work}: is a directory\n`,
    });
    expect([both.code, format.code, accesses.code]).toEqual([2, 2, 2]);
    expect(both.stderr).toMatch(/^hvsim: give --workload NAME or --trace FILE, not both\n/);
    expect(none.code).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('never guesses: a repeated single-value option or contradictory outputs are usage errors (2), one prefix', async () => {
    const dir = mkdtempSync(join(work, 'usage-'));
    const [twoConfigs, twoSeeds, jsonCsv, twoSweepConfigs] = await Promise.all([
      hvsim(['run', '--config', 'native', '--config', 'npt-2m', ...small]),
      hvsim(['run', ...small, '--seed', '1', '--seed', '2']),
      hvsim(['run', ...small, '--json', '--csv', '-o', join(dir, 'out.json')]),
      hvsim(['sweep', '--config', 'native', '--config', 'npt-4k', '--set', 'tlb=zen', ...small]),
    ]);
    expect([twoConfigs.code, twoSeeds.code, jsonCsv.code, twoSweepConfigs.code]).toEqual([2, 2, 2, 2]);
    expect(twoConfigs.stdout).toBe('');
    expect(twoConfigs.stderr.split('\n')[0]).toBe(
      "hvsim: option '--config <file|preset>' argument 'npt-2m' is invalid. --config is given twice (native and npt-2m); hvsim run runs one configuration; hvsim compare takes several",
    );
    expect(twoSeeds.stderr).toContain('--seed is given twice (1 and 2)');
    expect(jsonCsv.stderr).toBe('hvsim: give --json or --csv, not both\n');
    expect(twoSweepConfigs.stderr).toContain('--config is given twice (native and npt-4k)');
    // Every message starts with the same prefix, usage errors included.
    for (const r of [twoConfigs, twoSeeds, jsonCsv, twoSweepConfigs]) expect(r.stderr).toMatch(/^hvsim: /);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('runs a lackey trace, its format detected', async () => {
    const trace = join(work, 'small.lackey');
    // A fetch, a load, a store and a modify (a load and a store): five guest accesses.
    writeFileSync(trace, 'I  00401000,4\n L 01000000,8\n S 01000008,8\n M 01001000,4\n');
    const { code, stdout } = await hvsim(['run', '--config', 'native', '--trace', trace, '--json']);
    expect(code).toBe(0);
    const report = parseReport(stdout);
    expect(report.workload.name).toBe('small.lackey');
    expect(report.runs[0].guest.accesses).toBe(5);
  });

  it('runs a ChampSim CloudSuite trace only when its format is named, each ASID a guest process', async () => {
    // Six 96-byte cloudsuite_instr records (ChampSim's inc/trace_instruction.h: ip @0,
    // source_memory[0] @56, asid[0..1] @88), ASIDs 1 1 2 2 1 2, each a fetch and a load.
    const trace = join(work, 'two.cloudsuite');
    const bytes = new Uint8Array(6 * 96);
    const view = new DataView(bytes.buffer);
    [1, 1, 2, 2, 1, 2].forEach((asid, r) => {
      view.setBigUint64(r * 96, BigInt(0x40_1000 + 4 * r), true);
      view.setBigUint64(r * 96 + 56, BigInt(0x7000_0000 + 8 * r), true);
      bytes[r * 96 + 88] = asid;
      bytes[r * 96 + 89] = asid;
    });
    writeFileSync(trace, bytes);
    const guessed = await hvsim(['run', '--config', 'native', '--trace', trace, '--json']);
    expect(guessed.code).not.toBe(0);
    expect(guessed.stdout).toBe('');
    expect(guessed.stderr).toMatch(
      /^hvsim: .*two\.cloudsuite: the format must be named: .*--format champsim-cloudsuite\)\n$/,
    );
    const named = await hvsim([
      'run',
      '--config',
      'native',
      '--trace',
      trace,
      '--format',
      'champsim-cloudsuite',
      '--json',
    ]);
    expect({ code: named.code, stderr: named.stderr }).toEqual({ code: 0, stderr: '' });
    const { guest } = parseReport(named.stdout).runs[0];
    // Two address spaces; the first switch, then one at each of the 3 changes of ASID.
    expect([guest.accesses, guest.processesCreated, guest.contextSwitches]).toEqual([12, 2, 4]);
  });

  it('sweep runs the grid on worker threads and reports it in grid order', async () => {
    const { code, stdout, stderr } = await hvsim([
      'sweep',
      '--config',
      'npt-4k',
      '--set',
      'tagging=true,false',
      '--set',
      'backing=4K,2M',
      ...small,
      '--workers',
      '2',
      '--json',
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(parseReport(stdout).runs.map((r) => [r.config, r.tagged, r.backing])).toEqual([
      ['npt-4k tagging=true backing=4K', true, '4K'],
      ['npt-4k tagging=true backing=2M', true, '2M'],
      ['npt-4k tagging=false backing=4K', false, '4K'],
      ['npt-4k tagging=false backing=2M', false, '2M'],
    ]);
    const bad = await hvsim(['sweep', '--config', 'npt-4k', '--set', 'backing']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('expected PATH=VALUE,VALUE');
  });

  it('presets lists every preset with its description', async () => {
    const { code, stdout } = await hvsim(['presets']);
    expect(code).toBe(0);
    expect(
      stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.split(' ')[0]),
    ).toEqual(listPresets().map((p) => p.name));
  });

  it('demo compares the default configurations on the built-in workload', async () => {
    const { code, stdout, stderr } = await hvsim(['demo', '--json']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const report = parseReport(stdout);
    expect(report.runs.map((r) => r.config)).toEqual([...defaultComparison]);
    expect(report.runs[0].overheadVsNative).toBe(1);
    const run = Object.fromEntries(report.runs.map((r) => [r.config, r]));
    // The story the demo is there to tell, each part from the architecture: shadow paging traps the
    // guest's page-table writes and CR3 loads, nested paging does not (APM vol. 2 §15.25, SDM vol. 3C
    // §29.3) but walks two dimensions, up to (4 + 1) x (4 + 1) - 1 = 24 references, 19 with 2 MiB
    // nested pages; without VPIDs every VM entry and exit flushes the TLB (SDM vol. 3C §29.4.3.1).
    expect(run.shadow.exits).toBeGreaterThan(10 * run['npt-4k'].exits);
    expect(run['npt-4k'].referencesPerWalk).toBeGreaterThan(run.native.referencesPerWalk);
    expect(run['npt-2m'].referencesPerWalk).toBeLessThan(run['npt-4k'].referencesPerWalk);
    expect(run['npt-2m'].exits).toBeLessThan(run['npt-4k'].exits);
    const untagged = run['ept-4k-untagged'];
    expect(untagged.tlbFlushes).toBeGreaterThanOrEqual(untagged.worldSwitches + untagged.exits);
    expect(run['ept-4k'].tlbFlushes).toBeLessThanOrEqual(2);
    expect(untagged.cyclesPerAccess).toBeGreaterThan(run['ept-4k'].cyclesPerAccess);
  });
});
