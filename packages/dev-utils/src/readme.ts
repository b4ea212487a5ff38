import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Splits `{ a, b, }` import lists into names. */
function names(list: string): string[] {
  return list
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
}

/**
 * The README's first `ts` block against the test that runs it: the code between the test file's
 * `// README example begin` and `// README example end` markers (one indentation level removed) must
 * be the block's body after its import line, the block must import from `packageName` exactly the
 * names the test imports from the package's index module, and each of them must be exported by `api`. Returns a
 * list of problems (empty when the README is right), for `expect(...).toEqual([])`.
 */
export function readmeProblems(testFileUrl: string, packageName: string, api: object): string[] {
  const problems: string[] = [];
  const readme = readFileSync(new URL('../README.md', testFileUrl), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  if (block === undefined) return ['README.md has no ts code block'];
  const source = readFileSync(fileURLToPath(testFileUrl), 'utf8');
  const begin = source.indexOf('// README example begin\n');
  const end = source.indexOf('  // README example end');
  if (begin < 0 || end < 0) return ['the test has no README example begin/end markers'];
  const region = source
    .slice(source.indexOf('\n', begin) + 1, end)
    .split('\n')
    .map((line) => line.replace(/^ {2}/, ''))
    .join('\n');
  const escaped = packageName.replace(/[/.@-]/g, (c) => `\\${c}`);
  const imports = new RegExp(`^import \\{([^}]*)\\} from '${escaped}';\\n\\n`).exec(block);
  if (imports === null) return [`the README's first block does not open with an import from ${packageName}`];
  const exported = new Set(Object.keys(api));
  for (const name of names(imports[1])) if (!exported.has(name)) problems.push(`${name} is not exported`);
  const own = /\nimport \{([^}]*)\} from '\.\/index\.js';/.exec(source);
  if (own === null || names(own[1]).join() !== names(imports[1]).join())
    problems.push("the README imports other names than the test imports from the package's index module");
  if (block.slice(imports[0].length) !== region)
    problems.push('the README code differs from the code between the test markers');
  return problems;
}

/** Export statements of `index.ts` (beside the test) not preceded by a JSDoc comment line. */
export function undocumentedExports(testFileUrl: string): string[] {
  const index = readFileSync(new URL('./index.ts', testFileUrl), 'utf8');
  if (!index.includes('\nexport ')) return ['index.ts exports nothing'];
  return index
    .split('\n')
    .filter((line, i, lines) => line.startsWith('export ') && !(lines[i - 1] ?? '').endsWith('*/'));
}

/** The ```ts code blocks of a markdown file, in order. */
export function tsBlocks(markdownPath: string): string[] {
  return [...readFileSync(markdownPath, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/**
 * Runs `code` as a TypeScript program from a temporary directory inside `packageDir` (so it resolves
 * that package's dependencies, from source), and returns what it printed. The directory is removed
 * whatever happens; a program that fails throws with its output.
 */
export function runTsProgram(code: string, packageDir: string): string {
  const dir = mkdtempSync(join(packageDir, '.readme-'));
  try {
    const program = join(dir, 'example.ts');
    writeFileSync(program, code);
    return execFileSync(process.execPath, ['--conditions=@hvsim/source', '--import', 'tsx', program], {
      cwd: packageDir,
      encoding: 'utf8',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
