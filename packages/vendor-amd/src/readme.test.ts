import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTsProgram, tsBlocks } from '@hvsim/test-utils';
import { expect, it } from 'vitest';

/*
 * The README's control example runs as a program (the package imports itself by name) and prints what
 * the APM says: 07h keeps the guest's global entry and removes the non-global one (§15.16.1), INVLPGA
 * removes the page whatever its globality (§15.16.2), VMRUN with ASID 0 fails with VMEXIT_INVALID
 * (§15.25.1). Its first example is run by @hvsim/integration.
 */
const here = fileURLToPath(new URL('..', import.meta.url));

it('the README control example prints what the APM says', () => {
  const blocks = tsBlocks(join(here, 'README.md'));
  expect(blocks).toHaveLength(2);
  const expected = [
    'VMRUN: ASID 1, global entry kept true, non-global entry kept false',
    'INVLPGA 0x400000, ASID 1: global entry kept false',
    'VMRUN with ASID 0: #VMEXIT(INVALID), asid-zero',
  ];
  for (const line of expected) expect(blocks[1]).toContain(`// ${line}`);
  expect(runTsProgram(blocks[1], here).trim().split('\n')).toEqual(expected);
});
