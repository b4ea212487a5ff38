import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/*
 * The main entry point runs in a browser (apps/web bundles it): nothing it reaches may import a
 * Node built-in. Only `./node` (src/node.ts) may.
 */

function reachable(entry: string): Map<string, string> {
  const seen = new Map<string, string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    const text = readFileSync(new URL(file, import.meta.url), 'utf8');
    seen.set(file, text);
    for (const match of text.matchAll(/from '(\.\/[^']+)\.js'/g)) queue.push(`${match[1]}.ts`);
  }
  return seen;
}

describe('the main entry point is browser-safe', () => {
  it('reaches no Node built-in, while ./node does', () => {
    const main = reachable('./index.ts');
    expect(main.size).toBeGreaterThan(5);
    const nodeImports = [...main].filter(([, text]) =>
      /from 'node:|from '(fs|path|url)'|process\./.test(text),
    );
    expect(nodeImports.map(([file]) => file)).toEqual([]);
    expect([...reachable('./node.ts').values()].some((text) => text.includes("from 'node:fs'"))).toBe(true);
  });
});

describe('the spec shipped with the package', () => {
  it("is the project's spec, word for word (spec/scenario.md beside the repository, where CI has it)", () => {
    const shipped = readFileSync(new URL('../spec/scenario.md', import.meta.url), 'utf8');
    const shared = new URL('../../../../shared/spec/scenario.md', import.meta.url);
    expect(shipped).toContain('hvsim.scenario/1');
    if (existsSync(shared)) expect(shipped).toBe(readFileSync(shared, 'utf8'));
  });
});
