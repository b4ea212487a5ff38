import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTsProgram, tsBlocks } from '@hvsim/test-utils';
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
  const blocks = tsBlocks(join(here, 'README.md'));
  expect(blocks).toHaveLength(2);
  const expected = [
    'VM entry: VMfailValid, VM-instruction error 7 (vpid-zero)',
    'INVVPID single-context, VPID 7: combined kept false, guest-physical kept true',
    'INVVPID with VPID 0: fail-valid, error 28',
    'INVEPT single-context: guest-physical kept false',
  ];
  for (const line of expected) expect(blocks[1]).toContain(`// ${line}`);
  expect(runTsProgram(blocks[1], here).trim().split('\n')).toEqual(expected);
});
