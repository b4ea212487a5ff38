import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runTsProgram, tsBlocks } from '@hvsim/test-utils';
import { describe, expect, it } from 'vitest';

/*
 * Each package README opens with a runnable example of assembling it in code. This runs the first
 * ```ts block of each README listed here as a program (from this package, which depends on them all)
 * and checks it prints what the README's comment says it prints.
 */

const root = new URL('../../../', import.meta.url).pathname;
const here = new URL('../', import.meta.url).pathname;

const readmes: Array<{ file: string; prints: string; block?: number }> = [
  {
    file: 'packages/mmu-nested/README.md',
    prints: 'guest-physical 0x400123 -> host-physical 0x80000123 in 24 memory references',
  },
  {
    file: 'packages/vendor-amd/README.md',
    prints: '#VMEXIT(NPF): EXITINFO1 0x100000007, EXITINFO2 0x400000',
  },
  { file: 'packages/vendor-intel/README.md', prints: 'EPT violation: qualification 0x18a, GPA 0x400000' },
  {
    file: 'packages/platform/README.md',
    prints: '0x400123 after 4 references, then a TLB hit: true; 2 accesses, 1 walk, 4 references, 48 cycles',
  },
  {
    file: 'packages/hypervisor/README.md',
    prints: 'TLB misses: 128 with ASIDs, 1280 without; tagging saves 1152',
  },
  {
    file: 'packages/hypervisor/README.md',
    block: 1,
    prints:
      'shadow paging: 4479 exits (page-table write 2558, hidden page fault 1280, INVLPG 640, CR0/CR4 write 1); nested paging: 64 exits (NPF 64)',
  },
  {
    file: 'packages/mmu-nested/README.md',
    block: 1,
    prints: 'read 0 at 0x80000123 in 4 references; write 1 with error code 7',
  },
  {
    file: 'packages/scenario/README.md',
    block: 1,
    prints: '0xabcd234 after 4 references, then a TLB hit: true',
  },
];

describe('README examples run and print what they promise', () => {
  for (const { file, prints, block } of readmes) {
    it(`${file}${block === undefined ? '' : ` (example ${block + 1})`}`, () => {
      const path = join(root, file);
      expect(existsSync(path)).toBe(true);
      const code = tsBlocks(path)[block ?? 0];
      expect(code, `ts block #${block ?? 0}`).toBeDefined();
      // The comment in the README states the output.
      expect(code).toContain(`// ${prints}`);
      expect(runTsProgram(code, here).trim()).toBe(prints);
    });
  }
});
