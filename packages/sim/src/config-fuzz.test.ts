import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judge, mutatedConfig, seedTexts, unbuildable } from './config-mutations.test-helper.js';

/*
 * The configuration reader under mutated input (bit flips, truncations, inserted syntax, huge numbers,
 * wrong types, deep nesting, aliases, long lines, duplicated and re-indented lines of the bundled
 * configurations): it accepts, or throws a DocumentError whose every issue has a line and column and
 * says it in its own words. Never another exception, and never an absurd machine. The work per input
 * is bounded by the reader itself (size, depth and alias limits), so a few hundred inputs stay fast;
 * `pnpm --filter @hvsim/sim fuzz` runs a hundred thousand and more.
 */

const seeds = seedTexts();

describe('the configuration reader under mutated input', () => {
  it('accepts the bundled configurations as they are, and builds them', () => {
    for (const text of seeds) {
      const verdict = judge(text);
      expect(verdict.kind).toBe('accepted');
      if (verdict.kind === 'accepted') {
        expect(verdict.absurd).toBeNull();
        expect(unbuildable(verdict.config)).toBeNull();
      }
    }
  });

  it('accepts or rejects with a location, never crashes, never accepts an absurd machine', () => {
    fc.assert(
      fc.property(mutatedConfig(seeds), (text) => {
        const verdict = judge(text);
        if (verdict.kind === 'crash' || verdict.kind === 'unlocated') {
          throw new Error(`${verdict.kind}: ${verdict.why}`);
        }
        if (verdict.kind === 'accepted' && verdict.absurd !== null) {
          throw new Error(`accepted an absurd machine: ${verdict.absurd}`);
        }
      }),
      { numRuns: 300 },
    );
  });
});
