import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * Each package README opens with a runnable example of assembling it in code. This runs the first
 * ```ts block of each README listed here as a program (from this package, which depends on them all)
 * and checks it prints what the README's comment says it prints.
 */

const root = new URL('../../../', import.meta.url).pathname;
const here = new URL('../', import.meta.url).pathname;

const readmes: Array<{ file: string; prints: string }> = [
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
    file: 'packages/hypervisor/README.md',
    prints: 'TLB misses: 128 with ASIDs, 1280 without; tagging saves 1152',
  },
];

function firstTsBlock(markdown: string): string {
  const match = /```ts\n([\s\S]*?)```/.exec(markdown);
  if (match === null) throw new Error('no ```ts block');
  return match[1];
}

describe('README examples run and print what they promise', () => {
  for (const { file, prints } of readmes) {
    it(file, () => {
      const path = join(root, file);
      expect(existsSync(path)).toBe(true);
      const code = firstTsBlock(readFileSync(path, 'utf8'));
      // The comment in the README states the output.
      expect(code).toContain(`// ${prints}`);
      const dir = mkdtempSync(join(here, '.readme-'));
      try {
        const program = join(dir, 'example.ts');
        writeFileSync(program, code);
        const stdout = execFileSync(
          process.execPath,
          ['--conditions=@hvsim/source', '--import', 'tsx', program],
          {
            cwd: here,
            encoding: 'utf8',
          },
        );
        expect(stdout.trim()).toBe(prints);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
