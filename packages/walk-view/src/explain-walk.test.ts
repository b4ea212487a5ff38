import { runScenario } from '@hvsim/scenario';
import { listBundledScenarios, loadBundledExpectedResult, loadBundledScenario } from '@hvsim/scenario/node';
import { describe, expect, it } from 'vitest';
import { explainScenario } from './document.js';
import { cachesOfMask, explainAccess, NO_CACHES } from './explain-walk.js';
import { buildScenario, buildScenarioVariants, type ScenarioSpec } from './scenario-builder.js';

/*
 * Expected values: the reference order of a two-dimensional walk (AMD APM vol. 2 §15.25.5: each
 * guest entry's guest-physical address is translated by a nested walk before the entry is read,
 * then the final address), the count (n+1)(m+1)-1 for n guest and m nested levels, and what each
 * walk cache saves (Bhargava et al., ASPLOS 2008): a PDE from the guest walk cache leaves 1 guest
 * level + its nested walk + the final walk, 1 + 4 + 4 = 9; a nested TLB leaves the 4 guest entries
 * and the final walk, 4 + 4 = 8; both 1 + 4 = 5; a nested walk cache resumes every nested walk at
 * the nested PTE, 4 + 4 x 1 + 1 = 9. Addresses from amd-npt-4x4's layout: nested tables at
 * 0x100000-0x103000, guest-physical page N at host 0x400000 + N*0x1000.
 */

const npt4x4 = loadBundledScenario('amd-npt-4x4');

const orders = (w: ReturnType<typeof explainAccess>) =>
  w.cells.map((row) => row.map((c) => (c.reference === null ? c.state : w.references[c.reference].order)));

describe('the 4x4 walk of amd-npt-4x4', () => {
  it('makes 24 references: per guest level a 4-step nested walk then the guest entry, then the final nested walk', () => {
    const w = explainAccess(npt4x4, 0);
    expect(w.made).toBe(24);
    expect(orders(w)).toEqual([
      [1, 2, 3, 4, 5],
      [6, 7, 8, 9, 10],
      [11, 12, 13, 14, 15],
      [16, 17, 18, 19, 20],
      [21, 22, 23, 24, 'none'],
    ]);
    expect(w.rows.map((r) => [r.label, r.translating])).toEqual([
      ['guest PML4E', '0x1000'],
      ['guest PDPTE', '0x2000'],
      ['guest PDE', '0x3000'],
      ['guest PTE', '0x4000'],
      ['final guest-physical address', '0x5123'],
    ]);
    expect(w.columns.map((c) => c.label)).toEqual([
      'nested PML4E',
      'nested PDPTE',
      'nested PDE',
      'nested PTE',
      'guest entry',
    ]);
    const ref = (order: number) => w.references.find((r) => r.order === order)!;
    expect([ref(1).name, ref(1).address]).toEqual(['nested PML4E', '0x100000']);
    expect([ref(4).name, ref(4).address, ref(4).entry]).toEqual(['nested PTE', '0x103008', '0x401067']);
    expect([ref(5).name, ref(5).address, ref(5).entry]).toEqual(['guest PML4E', '0x401000', '0x2027']);
    expect([ref(20).name, ref(20).address, ref(20).entry]).toEqual(['guest PTE', '0x404000', '0x5027']);
    expect([ref(24).address, ref(24).entry]).toEqual(['0x103028', '0x405027']);
    expect(w.outcome.outcome).toBe('ok');
    expect(w.outcome.faultedReference).toBeNull();
  });

  it('reports the nested page fault of access 1 at reference 24, decoded against the expected file', () => {
    const expected = loadBundledExpectedResult('amd-npt-4x4')!.results[1];
    const w = explainAccess(npt4x4, 1);
    expect(w.outcome.outcome).toBe('nested-page-fault');
    if (expected.outcome !== 'nested-page-fault') throw new Error('the expected file changed');
    expect(w.outcome.fields).toEqual([
      { name: 'exitInfo1', value: `0x${expected.exitInfo1.toString(16)}` },
      { name: 'exitInfo2', value: `0x${expected.exitInfo2.toString(16)}` },
    ]);
    const faulted = w.references[w.outcome.faultedReference!];
    expect([faulted.order, faulted.name, faulted.address, faulted.faulted]).toEqual([
      24,
      'nested PTE',
      '0x103030',
      true,
    ]);
    expect(w.outcome.decoded?.fields.filter((f) => f.set).map((f) => f.name)).toEqual([
      'P',
      'RW',
      'US',
      'final',
    ]);
  });

  it('ends in the guest PTE row when the guest table is not mapped (access 2): 19 references', () => {
    const w = explainAccess(npt4x4, 2);
    expect(w.made).toBe(19);
    expect(orders(w).slice(3)).toEqual([
      [16, 17, 18, 19, 'not-reached'],
      ['not-reached', 'not-reached', 'not-reached', 'not-reached', 'none'],
    ]);
    expect(w.rows[3].translating).toBe('0x7000');
    expect(w.references[w.outcome.faultedReference!].order).toBe(19);
  });

  it('ends at the guest PTE for a guest #PF (access 4): 20 references, nothing of the final walk', () => {
    const w = explainAccess(npt4x4, 4);
    expect(w.made).toBe(20);
    expect(w.outcome.summary).toBe('#PF for the guest, error code 0x4, CR2 0x3000');
    const faulted = w.references[w.outcome.faultedReference!];
    expect([faulted.order, faulted.name, faulted.address]).toEqual([20, 'guest PTE', '0x404018']);
    expect(orders(w)[4].slice(0, 4)).toEqual(['not-reached', 'not-reached', 'not-reached', 'not-reached']);
  });

  it('shows what each walk cache saves: 24, 9, 8, 5; a nested walk cache 9', () => {
    const count = (mask: number) => {
      const w = explainAccess(npt4x4, 0, cachesOfMask(mask));
      return { made: w.made, saved: w.saved, outcome: w.outcome.summary };
    };
    const ok = 'ok: guest-physical 0x5123, host-physical 0x405123';
    // Saved counts the references not made, as the grid strikes them out, so made + saved = 24: the
    // guest walk cache saves 3 guest entries and their 3 x 4 nested references (15); the nested TLB
    // the 4 guest entries' nested walks (16); both 15 + the PTE's nested walk, 4 (19); the nested walk
    // cache 3 upper nested levels of each of the 5 nested walks (15).
    expect(count(0)).toEqual({ made: 24, saved: 0, outcome: ok });
    expect(count(1)).toEqual({ made: 9, saved: 15, outcome: ok });
    expect(count(2)).toEqual({ made: 8, saved: 16, outcome: ok });
    expect(count(3)).toEqual({ made: 5, saved: 19, outcome: ok });
    expect(count(4)).toEqual({ made: 9, saved: 15, outcome: ok });
    // With the guest walk cache the first three rows are saved whole: guest entry and nested walk.
    const w = explainAccess(npt4x4, 0, cachesOfMask(1));
    expect(
      orders(w)
        .slice(0, 3)
        .flat()
        .every((c) => c === null),
    ).toBe(true);
    expect(
      w.cells
        .slice(0, 3)
        .flat()
        .every((c) => c.state === 'saved'),
    ).toBe(true);
    expect(orders(w)[3]).toEqual([1, 2, 3, 4, 5]);
  });

  it('leaves the translation in the TLB, tagged with the guest ASID, and the guest table pages in the nested TLB', () => {
    const w = explainAccess(npt4x4, 0, cachesOfMask(2));
    const l1 = w.tlb.find((s) => s.name === 'L1 DTLB')!;
    expect(l1.entries).toEqual([
      { covers: '0x0-0xfff', size: '4K', maps: '0x405000', tag: 'ASID 1, PCID 0', perms: 'W U X' },
    ]);
    const nested = w.tlb.find((s) => s.kind === 'nested TLB')!;
    expect(nested.entries.map((e) => `${e.covers} ${e.maps}`).sort()).toEqual([
      '0x1000-0x1fff 0x401000',
      '0x2000-0x2fff 0x402000',
      '0x3000-0x3fff 0x403000',
      '0x4000-0x4fff 0x404000',
    ]);
    // A fault fills no TLB entry.
    expect(explainAccess(npt4x4, 1).tlb.every((s) => s.entries.length === 0)).toBe(true);
  });
});

describe('other shapes', () => {
  it('2 MiB nested pages (amd-npt-long4): 19 references, the nested PTE column not needed', () => {
    const w = explainAccess(loadBundledScenario('amd-npt-long4'), 0);
    expect(w.made).toBe(19);
    expect(w.cells.map((row) => row[3].state)).toEqual(Array(5).fill('large-page'));
  });

  it('a one-stage walk is one column of guest entries (long4: 4 references)', () => {
    const w = explainAccess(loadBundledScenario('long4'), 0);
    expect(w.made).toBe(4);
    expect(w.columns.map((c) => c.label)).toEqual(['entry']);
    expect(orders(w)).toEqual([[1], [2], [3], [4]]);
  });

  it('with every cache off, walks exactly as runScenario does, for every bundled scenario', () => {
    for (const { name } of listBundledScenarios()) {
      const scenario = loadBundledScenario(name);
      const reference = runScenario(scenario, { explain: true }).results;
      scenario.accesses.forEach((_, i) => {
        const w = explainAccess(scenario, i, NO_CACHES);
        const { walk, ...result } = reference[i];
        expect(w.outcome.outcome, `${name} #${i}`).toBe(result.outcome);
        expect(
          w.references.map((r) => `${r.stage} ${r.level} ${r.address} ${r.entry}`),
          `${name} #${i}`,
        ).toEqual(
          (walk ?? []).map(
            (s) => `${s.stage} ${s.level} 0x${s.address.toString(16)} 0x${s.entry.toString(16)}`,
          ),
        );
      });
    }
  });
});

describe('explainScenario', () => {
  it('explains every access under 8 cache combinations (2 without a second stage)', () => {
    const doc = explainScenario(npt4x4, { source: 'amd-npt-4x4', access: 1 });
    expect(doc.variants[0].accesses.map((a) => a.walks.length)).toEqual([8, 8, 8, 8, 8]);
    expect(doc.variants[0].accesses[1].label).toBe('#1 write 0x1008 at CPL 3: nested-page-fault');
    expect(doc.initial).toEqual({ variant: 0, access: 1, caches: 0 });
    expect(explainScenario(loadBundledScenario('long4')).variants[0].accesses[0].walks).toHaveLength(2);
    expect(() => explainScenario(npt4x4, { access: 5 })).toThrow(
      'access 5 does not exist: the scenario has 5 accesses (0 to 4)',
    );
    // Plain JSON: what renderWalkHtml embeds.
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });
});

describe('scenarios built from the form', () => {
  const spec: ScenarioSpec = {
    vendor: 'amd',
    guestMode: 'long4',
    nested: true,
    largeGuestPages: false,
    largeNestedPages: false,
    mappings: [
      {
        linear: 0x40_0000n,
        guestPhysical: 0x20_0000n,
        hostPhysical: 0x100_0000n,
        guestWritable: true,
        guestUser: true,
        nestedWritable: true,
      },
    ],
    accesses: [{ address: 0x40_0123n, access: 'read', cpl: 3 }],
  };

  it('(n+1)(m+1)-1 references: 24 for 4K/4K, 19 with one stage on 2 MiB pages, 15 with both; on AMD and Intel', () => {
    for (const vendor of ['amd', 'intel'] as const) {
      const { variants } = buildScenarioVariants({ ...spec, vendor });
      expect(variants.map((v) => v.label)).toEqual([
        'guest 4 KiB pages, nested 4 KiB pages',
        'guest 4 KiB pages, nested 2 MiB pages',
        'guest 2 MiB pages, nested 4 KiB pages',
        'guest 2 MiB pages, nested 2 MiB pages',
      ]);
      const results = variants.map((v) => explainAccess(v.scenario, 0));
      expect(results.map((w) => w.made)).toEqual([24, 19, 19, 15]);
      expect(results.map((w) => w.outcome.summary)).toEqual(
        Array(4).fill('ok: guest-physical 0x200123, host-physical 0x1000123'),
      );
    }
  });

  it('one stage: 4 levels, 3 with 2 MiB pages; 32-bit paging 2, 1 with 4 MiB pages; 5-level 5', () => {
    const native = { ...spec, nested: false };
    const made = (s: ScenarioSpec) => explainAccess(buildScenario(s), 0).made;
    expect(made(native)).toBe(4);
    expect(made({ ...native, largeGuestPages: true })).toBe(3);
    expect(made({ ...native, guestMode: 'legacy32' })).toBe(2);
    expect(made({ ...native, guestMode: 'legacy32', largeGuestPages: true })).toBe(1);
    expect(made({ ...native, guestMode: 'long5' })).toBe(5);
    // Guest paging off under nesting: only the final nested walk.
    expect(made({ ...spec, guestMode: 'none' })).toBe(4);
  });

  it('a mapping the nested tables leave out gives a nested page fault; addresses among the tables are refused', () => {
    const unmapped = buildScenario({ ...spec, mappings: [{ ...spec.mappings[0], nestedPresent: false }] });
    const w = explainAccess(unmapped, 0);
    expect(w.outcome.summary).toBe('#VMEXIT(NPF): EXITINFO1 0x100000004, EXITINFO2 0x200123');
    expect(() =>
      buildScenario({ ...spec, mappings: [{ ...spec.mappings[0], hostPhysical: 0x7e0_0000n }] }),
    ).toThrow(
      'mapping 1: host-physical address 0x7e00000 is in 0x7c00000-0x7ffffff, where the builder puts the page tables',
    );
  });
});

describe('labels from the manuals of the scenario', () => {
  it('names the CPU mode where it is not plain protected or long mode (APM §15.19, SDM §20.1-20.2)', () => {
    const mode = (name: string) => explainScenario(loadBundledScenario(name)).variants[0].guestMode;
    expect(mode('paged-real')).toMatch(/^paged real mode, 32-bit paging/);
    expect(mode('virtual-8086')).toMatch(/^virtual-8086 mode, 32-bit paging/);
    expect(mode('unpaged')).toMatch(/^(real mode|no paging)/);
    expect(mode('long4')).toBe('4-level paging');
  });

  it('cites the Intel SDM, not the AMD APM, for an Intel EPT walk that completes', () => {
    const ok = explainAccess(loadBundledScenario('intel-ept-example'), 0);
    expect(ok.outcome.outcome).toBe('ok');
    expect(ok.outcome.explanation).toContain('Intel SDM vol. 3C §29.4');
    expect(ok.outcome.explanation).not.toContain('AMD');
    const amd = explainAccess(npt4x4, 0);
    expect(amd.outcome.explanation).toContain('AMD APM vol. 2 §15.25.9');
  });
});
