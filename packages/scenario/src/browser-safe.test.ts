import { existsSync, readFileSync } from 'node:fs';
import { reachableModules, usesNode } from '@hvsim/dev-utils';
import { describe, expect, it } from 'vitest';

/*
 * The main entry point runs in a browser (apps/web bundles it): nothing it reaches may import a
 * Node built-in. Only `./node` (src/node.ts) may.
 */

describe('the main entry point is browser-safe', () => {
  it('reaches no Node built-in, while ./node does', () => {
    const main = reachableModules(new URL('./index.ts', import.meta.url));
    expect(main.size).toBeGreaterThan(5);
    expect([...main].filter(([, text]) => usesNode(text)).map(([file]) => file)).toEqual([]);
    expect(
      [...reachableModules(new URL('./node.ts', import.meta.url)).values()].some((text) =>
        text.includes("from 'node:fs'"),
      ),
    ).toBe(true);
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
