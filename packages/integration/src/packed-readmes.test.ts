import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsBlocks } from '@hvsim/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * Each package README's first example as a user of the npm packages runs it: every package built and
 * packed as pnpm publishes it (publishConfig applied, workspace ranges rewritten), the tarballs
 * installed into a new folder outside the repository, the example copied there as written and run
 * with tsx. What `readme-examples.test.ts` checks against the sources, this checks against what npm
 * would hold. The two examples that read a file find it there: `report.json` as `hvsim compare
 * --json` writes it, and the lackey fixture the traces README names.
 */

const root = new URL('../../../', import.meta.url).pathname;
const published = readdirSync(join(root, 'packages')).filter((dir) => {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
  return manifest.private !== true;
});

/** pnpm as the test suite's own (`npm_execpath` under `pnpm test`), else the one on PATH. */
const execPath = process.env.npm_execpath;
const [pnpmCommand, pnpmPrefix] =
  execPath !== undefined && /pnpm/.test(execPath) && /\.c?js$/.test(execPath)
    ? [process.execPath, [execPath]]
    : ['pnpm', []];

function pnpm(args: string[], cwd: string): string {
  return execFileSync(pnpmCommand, [...pnpmPrefix, ...args], { cwd, encoding: 'utf8', stdio: 'pipe' });
}

/** The file name `pnpm pack` gives the package in `dir`: its name without `@` and `/` for `-`, and its version. */
function tarball(dir: string): string {
  const { name, version } = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
  return `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
}

let folder = '';

beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'hvsim-readme-'));
  const tarballs = join(folder, 'tarballs');
  const project = join(folder, 'project');
  mkdirSync(tarballs);
  mkdirSync(project);
  // As the root README tells a user to make them.
  const written = execFileSync('bash', [join(root, 'scripts/pack-packages.sh'), tarballs], {
    encoding: 'utf8',
    stdio: 'pipe',
    env: { ...process.env, PNPM: [pnpmCommand, ...pnpmPrefix].join(' ') },
  });
  expect(
    written
      .trim()
      .split('\n')
      .map((path) => path.split('/').pop())
      .sort(),
  ).toEqual([...published.map((dir) => tarball(`packages/${dir}`)), tarball('apps/cli')].sort());
  // Each package and its @hvsim dependencies come from the tarballs; the rest from the registry (the
  // store has them), as a user's install would.
  const sources = Object.fromEntries(
    published.map((dir) => [`@hvsim/${dir}`, `file:${join(tarballs, tarball(`packages/${dir}`))}`]),
  );
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'readme-user',
      private: true,
      type: 'module',
      dependencies: sources,
      pnpm: { overrides: sources },
    }),
  );
  pnpm(['install', '--prefer-offline', '--ignore-workspace'], project);
  // The inputs two examples read, where they read them.
  mkdirSync(join(project, 'fixtures'));
  copyFileSync(
    join(root, 'packages/traces/fixtures/sort-small.lackey.gz'),
    join(project, 'fixtures/sort-small.lackey.gz'),
  );
}, 600_000);

afterAll(() => {
  if (folder !== '') rmSync(folder, { recursive: true, force: true });
});

const tsx = pathToFileURL(createRequire(join(root, 'package.json')).resolve('tsx/esm')).href;

function runExample(dir: string): string {
  const project = join(folder, 'project');
  const file = join(project, `${dir}-readme.ts`);
  writeFileSync(file, tsBlocks(join(root, 'packages', dir, 'README.md'))[0]);
  return execFileSync(process.execPath, ['--import', tsx, file], { cwd: project, encoding: 'utf8' });
}

describe('README examples against the packed packages, in a folder outside the repository', () => {
  it('covers every published package', () => {
    expect(published.length).toBeGreaterThanOrEqual(14);
    for (const dir of published)
      expect(tsBlocks(join(root, 'packages', dir, 'README.md')).length).toBeGreaterThan(0);
  });

  for (const dir of published) {
    it(`@hvsim/${dir}`, () => {
      if (dir === 'report') {
        // The report the example reads: a small comparison, written by the packed @hvsim/sim.
        writeFileSync(
          join(folder, 'project', 'make-report.ts'),
          "import { writeFileSync } from 'node:fs';\nimport { renderJson } from '@hvsim/report';\nimport { compare, loadPreset } from '@hvsim/sim';\n" +
            "const report = await compare([loadPreset('native'), loadPreset('npt-4k')], { kind: 'workload', name: 'zipf', accesses: 2000 }, { seed: 1, workers: 1 });\n" +
            "writeFileSync('report.json', renderJson(report));\n",
        );
        execFileSync(process.execPath, ['--import', tsx, 'make-report.ts'], {
          cwd: join(folder, 'project'),
          encoding: 'utf8',
        });
      }
      // Every example prints what it found; none may fail.
      expect(runExample(dir).length).toBeGreaterThan(0);
    });
  }
});
