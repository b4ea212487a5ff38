import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

/*
 * The README's control example runs as a program (the package imports itself by name) and prints what
 * the SDM says: "enable VPID" with VPID 0000H is VMfailValid error 7 (vol. 3C §27.2.1.1); INVVPID
 * single-context removes the VPID's combined mappings but not guest-physical ones, and fails with
 * error 28 for VPID 0 (§31.3, §29.4.3.1); INVEPT single-context removes the EP4TA's guest-physical
 * mappings. Its first example is run by @hvsim/integration.
 */
const here = fileURLToPath(new URL('..', import.meta.url));

it('the README control example prints what the SDM says', () => {
  const readme = readFileSync(join(here, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  expect(blocks).toHaveLength(2);
  const expected = [
    'VM entry: VMfailValid, VM-instruction error 7 (vpid-zero)',
    'INVVPID single-context, VPID 7: combined kept false, guest-physical kept true',
    'INVVPID with VPID 0: fail-valid, error 28',
    'INVEPT single-context: guest-physical kept false',
  ];
  for (const line of expected) expect(blocks[1]).toContain(`// ${line}`);
  const dir = mkdtempSync(join(here, '.readme-'));
  try {
    const program = join(dir, 'control.ts');
    writeFileSync(program, blocks[1]);
    const stdout = execFileSync(
      process.execPath,
      ['--conditions=@hvsim/source', '--import', 'tsx', program],
      {
        cwd: here,
        encoding: 'utf8',
      },
    );
    expect(stdout.trim().split('\n')).toEqual(expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
