import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/* hvsim convert as a user runs it: a child process, as `pnpm hvsim` starts it (the bundled sources). */

const cliDir = fileURLToPath(new URL('..', import.meta.url));
const fixture = fileURLToPath(
  new URL('../../../packages/traces/fixtures/sort-small.lackey.gz', import.meta.url),
);
const work = mkdtempSync(join(tmpdir(), 'hvsim-convert-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function hvsim(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['scripts/hvsim.mjs', ...args],
      { cwd: cliDir, encoding: 'utf8', env: { ...process.env, HVSIM_DEBUG: '' } },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
          stdout,
          stderr,
        }),
    );
  });
}

describe.concurrent('hvsim convert', () => {
  it('converts a gzipped lackey trace of sort to the hvsim format, which run then reads', async () => {
    const out = join(work, 'sort.hvt');
    const converted = await hvsim(['convert', fixture, out]);
    // 19,994 access lines in the fixture, counted with zcat | grep -v '^==' | wc -l.
    expect(converted).toMatchObject({ code: 0, stderr: '' });
    expect(converted.stdout).toMatch(/^.*sort\.hvt: 19,994 records from lackey, [\d,]+ bytes\n$/);
    // The format's magic: 0x89 then "HVTRACE" (the traces package's README).
    expect([...readFileSync(out).subarray(0, 8)]).toEqual([0x89, ...Buffer.from('HVTRACE')]);
    const run = await hvsim(['run', '--trace', out, '--config', 'native']);
    expect(run.code).toBe(0);
    // Every record is at least one access (a modify is a load and a store).
    const accesses = Number(/^native +([\d,]+) /m.exec(run.stdout)?.[1].replaceAll(',', ''));
    expect(accesses).toBeGreaterThanOrEqual(19_994 + 20);
  });

  it('names the file and line of a broken trace, exits 1 and leaves nothing behind', async () => {
    const dir = mkdtempSync(join(work, 'broken-'));
    const bad = join(dir, 'bad.lackey');
    writeFileSync(bad, 'I  04016c0,3\n L zz,8\n');
    const result = await hvsim(['convert', '--format', 'lackey', bad, join(dir, 'out.hvt')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/bad\.lackey:2: expected a hex address/);
    expect(existsSync(join(dir, 'out.hvt'))).toBe(false);
    expect(readdirSync(dir)).toEqual(['bad.lackey']);
  });

  it('names the file and byte of a truncated or corrupt hvsim trace, for convert and run alike', async () => {
    const dir = mkdtempSync(join(work, 'corrupt-'));
    const good = join(dir, 'good.hvt');
    expect((await hvsim(['convert', fixture, good])).code).toBe(0);
    const bytes = readFileSync(good);
    const cut = join(dir, 'cut.hvt');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 5));
    const converted = await hvsim(['convert', cut, join(dir, 'out.hvt')]);
    expect(converted.code).toBe(1);
    expect(converted.stderr).toMatch(
      new RegExp(
        `^hvsim: .*cut\\.hvt at byte ${bytes.length - 5}: truncated: the header says \\d+ bytes of blocks follow it`,
      ),
    );
    expect(existsSync(join(dir, 'out.hvt'))).toBe(false);
    // The checksum field (bytes 28-31 of the header) changed.
    const wrong = join(dir, 'wrong.hvt');
    const copy = Buffer.from(bytes);
    copy[28] ^= 0xff;
    writeFileSync(wrong, copy);
    const run = await hvsim(['run', '--trace', wrong, '--config', 'native']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/wrong\.hvt at byte 28: checksum mismatch/);
    expect(readdirSync(dir).sort()).toEqual(['cut.hvt', 'good.hvt', 'wrong.hvt']);
  });

  it('says in words why it cannot write: a missing folder, a folder as the output', async () => {
    const dir = mkdtempSync(join(work, 'unwritable-'));
    const missing = await hvsim(['convert', fixture, join(dir, 'nope', 'out.hvt')]);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toBe(
      `hvsim: ${join(dir, 'nope', 'out.hvt')}: cannot write: the folder ${join(dir, 'nope')} does not exist\n`,
    );
    const folder = await hvsim(['convert', fixture, dir]);
    expect(folder).toMatchObject({ code: 1, stderr: `hvsim: ${dir}: cannot write: it is a directory\n` });
    expect(readdirSync(dir)).toEqual([]);
  });
});
