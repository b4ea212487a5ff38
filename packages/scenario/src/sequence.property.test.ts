import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runScenario } from './run-scenario.js';
import { readScenario } from './scenario-reader.js';

/*
 * A cached translation never outlives the invalidation that should remove it (STYLE.md; SDM vol. 3A
 * §4.10.4.1): in random sequences of reads, stores to PTEs, INVLPG and MOV to CR3 on a 4-level guest
 * (no global pages), a read of a page whose PTE has not changed since the last invalidation that
 * covers it (INVLPG of the page, a MOV to CR3, a #PF on it, or a walk that refilled it) sees memory
 * as it is. The expected translation comes from the PTE the test itself keeps, not from the program.
 */

// Few pages, so that a store, an invalidation and a read of the same page often follow each other.
const PAGES = 3;
const PT = 0x4000;
const FIRST_PAGE = 0x10;

type Op =
  | { readonly kind: 'read'; readonly page: number }
  | { readonly kind: 'store'; readonly page: number; readonly frame: number | null }
  | { readonly kind: 'invlpg'; readonly page: number }
  | { readonly kind: 'mov-cr3' };

const page = fc.integer({ min: 0, max: PAGES - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: page.map((p) => ({ kind: 'read' as const, page: p })) },
  {
    weight: 2,
    arbitrary: fc
      .record({ page, frame: fc.option(fc.integer({ min: 0x100, max: 0x1ff }), { nil: null }) })
      .map((r) => ({ kind: 'store' as const, ...r })),
  },
  { weight: 2, arbitrary: page.map((p) => ({ kind: 'invlpg' as const, page: p })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'mov-cr3' as const }) },
);

const hex = (n: number) => `0x${n.toString(16)}`;
// A present, writable, user leaf with A and D already set: no walk writes it.
const pte = (frame: number | null) => (frame === null ? 0 : frame * 0x1000 + 0x67);

describe('sequences: no cached translation outlives its invalidation', () => {
  it.each([['default'], ['zen'], ['skylake']])('with the %s TLB and walk caches', (tlb) => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 12, maxLength: 40, size: 'max' }), (ops) => {
        const frames: (number | null)[] = Array.from({ length: PAGES }, (_, i) => 0x80 + i);
        const initial = frames.map(pte);
        const steps = ops.map((o) => {
          const linear = hex((FIRST_PAGE + (o.kind === 'mov-cr3' ? 0 : o.page)) * 0x1000);
          if (o.kind === 'read') return { address: linear, access: 'read', cpl: 3 };
          if (o.kind === 'store')
            return { step: 'store', address: hex(PT + 8 * (FIRST_PAGE + o.page)), qword: hex(pte(o.frame)) };
          if (o.kind === 'invlpg') return { step: 'invlpg', address: linear };
          return { step: 'mov-cr3', value: '0x1000' };
        });
        const scenario = readScenario({
          format: 'hvsim.scenario/1',
          vendor: 'intel',
          caches: { tlb },
          guest: { cr0: '0x80010011', cr3: '0x1000', cr4: '0x20', efer: '0x500' },
          nested: { enabled: false },
          memory: [
            { address: '0x1000', qwords: ['0x2027'] },
            { address: '0x2000', qwords: ['0x3027'] },
            { address: '0x3000', qwords: ['0x4027'] },
            { address: hex(PT + 8 * FIRST_PAGE), qwords: initial.map(hex) },
          ],
          steps,
        });
        const results = runScenario(scenario).results;
        const changed = Array.from({ length: PAGES }, () => false);
        ops.forEach((o, i) => {
          const result = results[i];
          if (o.kind === 'store') {
            frames[o.page] = o.frame;
            changed[o.page] = true;
          } else if (o.kind === 'invlpg') {
            changed[o.page] = false;
          } else if (o.kind === 'mov-cr3') {
            changed.fill(false);
          } else {
            const frame = frames[o.page];
            const linear = (FIRST_PAGE + o.page) * 0x1000;
            if (!changed[o.page]) {
              // Memory as it is: the page's frame, or a #PF (not present, user read: error code 0x4).
              expect(result).toEqual(
                frame === null
                  ? { outcome: 'page-fault', errorCode: 0x4n, address: BigInt(linear) }
                  : expect.objectContaining({ outcome: 'ok', hostPhysical: BigInt(frame * 0x1000) }),
              );
            }
            // A walk (or a #PF, which invalidates the page) leaves nothing stale behind for the page.
            if (!('cached' in result && result.cached === true)) changed[o.page] = false;
          }
        });
      }),
      { numRuns: 100, seed: 14 },
    );
  });
});
