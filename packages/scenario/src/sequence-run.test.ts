import { describe, expect, it } from 'vitest';
import { runScenario } from './run-scenario.js';
import { readScenario } from './scenario-reader.js';
import type { StepResult } from './types.js';

/*
 * Each operation of a sequence (spec/scenario.md, "Sequences with caches") on a 4-level guest without
 * a second stage, expectations from Intel SDM vol. 3A §4.10.4.1 and vol. 2 (INVLPG, INVPCID, MOV CR):
 * PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000; PTE[0x10] maps linear 0x10000 to 0x10000,
 * PTE[0x20] maps linear 0x20000 to 0x20000 as a global page (G, with CR4.PGE). `flip` points them at
 * 0x11000 and 0x21000. Every entry has A and D already, so no walk writes memory. A result whose
 * address is still the old one came from a TLB; the manuals allow that wherever nothing invalidated
 * the entry, and the default TLB has room for it.
 */

// biome-ignore lint/suspicious/noExplicitAny: steps are written as JSON.
type Json = any;

const read = (address: string) => ({ address, access: 'read', cpl: 0 });
const flip = [
  { step: 'store', address: '0x4080', qword: '0x11067' },
  { step: 'store', address: '0x4100', qword: '0x21167' },
];
const warm = [read('0x10000'), read('0x20000'), ...flip];

/** PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000, PTE[0x10] -> 0x10000. */
const TABLES = [
  { address: '0x1000', qwords: ['0x2027'] },
  { address: '0x2000', qwords: ['0x3027'] },
  { address: '0x3000', qwords: ['0x4027'] },
  { address: '0x4080', qwords: ['0x10067'] },
];

function run(steps: Json[], guest: Json = {}, extra: Json = {}): StepResult[] {
  const scenario = readScenario({
    format: 'hvsim.scenario/1',
    vendor: 'intel',
    caches: { tlb: 'default' },
    guest: { cr0: '0x80010011', cr3: '0x1000', cr4: '0xa0', efer: '0x500', ...guest },
    nested: { enabled: false },
    memory: [...TABLES, { address: '0x4100', qwords: ['0x20167'] }],
    steps,
    ...extra,
  });
  return runScenario(scenario).results as StepResult[];
}

/** The host-physical page of each access result (or its outcome), to compare at a glance. */
const pages = (results: StepResult[]) =>
  results.map((r) => (r.outcome === 'ok' ? `0x${r.hostPhysical.toString(16)}` : r.outcome));
const GP = { outcome: 'general-protection', errorCode: 0n };

describe('access steps', () => {
  it('mark what a TLB served with cached: true; a walk leaves it out', () => {
    const results = run([read('0x10000'), read('0x10000')]);
    expect(results[0]).toEqual({ outcome: 'ok', guestPhysical: 0x10000n, hostPhysical: 0x10000n });
    expect(results[1]).toEqual({
      outcome: 'ok',
      guestPhysical: 0x10000n,
      hostPhysical: 0x10000n,
      cached: true,
    });
  });

  it('store the value of a write, 8 bytes at its address', () => {
    const scenario = readScenario({
      format: 'hvsim.scenario/1',
      vendor: 'intel',
      guest: { cr0: '0x80010011', cr3: '0x1000', cr4: '0x20', efer: '0x500' },
      nested: { enabled: false },
      memory: [...TABLES, { address: '0x10008', qwords: ['0x0', '0x0'] }],
      accesses: [
        { address: '0x10008', access: 'write', cpl: 0, value: '0x1122334455667788' },
        { address: '0x1000c', access: 'write', cpl: 0, value: '0xddddddddcccccccc' },
      ],
    });
    // Little-endian: the second write's low half lands in 0x1000c-f (the first qword's high half), its
    // high half in 0x10010-3 (the second qword's low half).
    expect(runScenario(scenario).memory.at(-1)?.qwords).toEqual([0xcccccccc_55667788n, 0xddddddddn]);
  });
});

describe('store', () => {
  it('changes memory and invalidates nothing', () => {
    expect(pages(run([read('0x10000'), flip[0], read('0x10000')]))).toEqual(['0x10000', 'done', '0x10000']);
  });
});

describe('invlpg (SDM vol. 3A §4.10.4.1)', () => {
  it('removes the page, global or not; other pages stay', () => {
    const results = run([...warm, { step: 'invlpg', address: '0x20000' }, read('0x20000'), read('0x10000')]);
    expect(pages(results.slice(4))).toEqual(['done', '0x21000', '0x10000']);
  });

  it('is a NOP for a non-canonical address in 64-bit mode (SDM vol. 2A, INVLPG)', () => {
    const results = run([...warm, { step: 'invlpg', address: '0x200000000010000' }, read('0x10000')]);
    expect(pages(results.slice(4))).toEqual(['done', '0x10000']);
  });
});

describe('mov-cr3 (SDM vol. 3A §4.10.4.1)', () => {
  it('without PCIDs: every non-global translation of PCID 000H goes, global ones stay', () => {
    const results = run([...warm, { step: 'mov-cr3', value: '0x1000' }, read('0x10000'), read('0x20000')]);
    expect(pages(results.slice(4))).toEqual(['done', '0x11000', '0x20000']);
  });

  it('with CR4.PCIDE=1: bit 63 set invalidates nothing, bit 63 clear the PCID', () => {
    const results = run(
      [
        ...warm,
        { step: 'mov-cr3', value: '0x8000000000001001' },
        read('0x10000'),
        { step: 'mov-cr3', value: '0x1002' },
        read('0x10000'),
        { step: 'mov-cr3', value: '0x8000000000001001' },
        read('0x10000'),
        { step: 'mov-cr3', value: '0x1001' },
        read('0x10000'),
      ],
      { cr3: '0x1001', cr4: '0x200a0' },
    );
    // PCID 2 has nothing cached: it walks; back in PCID 1 without a flush, PCID 1's entry answers.
    expect(pages(results.slice(4))).toEqual([
      'done',
      '0x10000',
      'done',
      '0x11000',
      'done',
      '0x10000',
      'done',
      '0x11000',
    ]);
  });

  it('#GP(0) for a reserved bit (bits 63:MAXPHYADDR), and CR3 stays', () => {
    const results = run([{ step: 'mov-cr3', value: '0x1000000001000' }, read('0x10000')]);
    expect(results[0]).toEqual(GP);
    expect(pages(results.slice(1))).toEqual(['0x10000']);
  });
});

describe('invpcid (SDM vol. 2B, INVPCID)', () => {
  const pcids = { cr3: '0x1001', cr4: '0x200a0' };
  it('#GP(0) for a type above 3, a PCID other than 0 with CR4.PCIDE=0, a non-canonical type-0 address', () => {
    const results = run([
      { step: 'invpcid', type: 4 },
      { step: 'invpcid', type: 1, pcid: 1 },
      { step: 'invpcid', type: 0, pcid: 0, address: '0x800000000000' },
      { step: 'invpcid', type: 2, pcid: 1 },
    ]);
    expect(results).toEqual([GP, GP, GP, { outcome: 'done' }]);
  });

  it('type 0: the address in the PCID, except global translations', () => {
    const results = run(
      [
        ...warm,
        { step: 'invpcid', type: 0, pcid: 1, address: '0x20000' },
        read('0x20000'),
        { step: 'invpcid', type: 0, pcid: 2, address: '0x10000' },
        read('0x10000'),
        { step: 'invpcid', type: 0, pcid: 1, address: '0x10000' },
        read('0x10000'),
      ],
      pcids,
    );
    expect(pages(results.slice(4))).toEqual(['done', '0x20000', 'done', '0x10000', 'done', '0x11000']);
  });

  it('type 1: the PCID except globals; type 3: every PCID except globals; type 2: everything', () => {
    const single = run(
      [...warm, { step: 'invpcid', type: 1, pcid: 1 }, read('0x10000'), read('0x20000')],
      pcids,
    );
    expect(pages(single.slice(4))).toEqual(['done', '0x11000', '0x20000']);
    const other = run([...warm, { step: 'invpcid', type: 1, pcid: 2 }, read('0x10000')], pcids);
    expect(pages(other.slice(4))).toEqual(['done', '0x10000']);
    const allButGlobal = run(
      [...warm, { step: 'invpcid', type: 3 }, read('0x10000'), read('0x20000')],
      pcids,
    );
    expect(pages(allButGlobal.slice(4))).toEqual(['done', '0x11000', '0x20000']);
    const all = run([...warm, { step: 'invpcid', type: 2 }, read('0x10000'), read('0x20000')], pcids);
    expect(pages(all.slice(4))).toEqual(['done', '0x11000', '0x21000']);
  });
});

describe('mov-cr4 (SDM vol. 3A §4.10.4.1)', () => {
  it('a change of CR4.PGE invalidates everything, globals too', () => {
    const results = run([...warm, { step: 'mov-cr4', value: '0x20' }, read('0x20000')]);
    expect(pages(results.slice(4))).toEqual(['done', '0x21000']);
  });

  it('setting SMEP invalidates the current PCID; setting SMAP nothing', () => {
    // A user read: with SMAP a supervisor read of this user page would fault (SDM vol. 3A §4.6).
    const smap = run([...warm, { step: 'mov-cr4', value: '0x2000a0' }, { ...read('0x10000'), cpl: 3 }]);
    expect(pages(smap.slice(4))).toEqual(['done', '0x10000']);
    const smep = run([...warm, { step: 'mov-cr4', value: '0x1000a0' }, read('0x10000'), read('0x20000')]);
    expect(pages(smep.slice(4))).toEqual(['done', '0x11000', '0x21000']);
  });

  it('#GP(0) setting PCIDE with CR3[11:0] not 000H, or clearing PAE in IA-32e mode (SDM vol. 3A §4.10.1, §4.1.2)', () => {
    expect(run([{ step: 'mov-cr4', value: '0x200a0' }], { cr3: '0x1008' })[0]).toEqual(GP);
    expect(run([{ step: 'mov-cr4', value: '0x80' }])[0]).toEqual(GP);
  });
});

/** PAE paging: the PDPT at 0x5000 (PDPTE 0 -> PD 0x3000); the PDPT at 0x6000 sets reserved bit 1. */
const PAE_TABLES = {
  memory: [
    { address: '0x3000', qwords: ['0x4027'] },
    { address: '0x4080', qwords: ['0x10067'] },
    { address: '0x5000', qwords: ['0x3001'] },
    { address: '0x6000', qwords: ['0x3003'] },
  ],
};

describe('mov-cr0 (SDM vol. 3A §4.10.4.1, §4.4.1)', () => {
  it('a change of CR0.WP alone invalidates nothing', () => {
    const results = run([...warm, { step: 'mov-cr0', value: '0x80000011' }, read('0x10000')]);
    expect(pages(results.slice(4))).toEqual(['done', '0x10000']);
  });

  it('#GP(0) clearing PG in 64-bit mode', () => {
    expect(run([{ step: 'mov-cr0', value: '0x10011' }])[0]).toEqual(GP);
  });

  it('PAE paging: turning paging off and on reloads the PDPTEs and flushes; a bad PDPTE is #GP and undoes the write', () => {
    const guest = { cr3: '0x5000', cr4: '0x20', efer: '0x0' };
    const results = run(
      [
        read('0x10000'),
        { step: 'store', address: '0x4080', qword: '0x11067' },
        { step: 'mov-cr0', value: '0x10011' },
        read('0x10000'),
        { step: 'mov-cr0', value: '0x80010011' },
        read('0x10000'),
        { step: 'mov-cr3', value: '0x6000' },
        read('0x10000'),
      ],
      guest,
      PAE_TABLES,
    );
    expect(pages(results)).toEqual([
      '0x10000',
      'done',
      'done',
      '0x10000',
      'done',
      '0x11000',
      'general-protection',
      '0x11000',
    ]);
  });

  it('a start that failed to load the PDPTEs holds until a MOV to CR3 loads good ones', () => {
    const results = run(
      [read('0x10000'), { step: 'mov-cr3', value: '0x5000' }, read('0x10000')],
      { cr3: '0x6000', cr4: '0x20', efer: '0x0' },
      PAE_TABLES,
    );
    expect(pages(results)).toEqual(['general-protection', 'done', '0x10000']);
  });
});

describe('explain', () => {
  it('lists what an operation removed and what the caches hold; a cached access has an empty walk', () => {
    const scenario = readScenario({
      format: 'hvsim.scenario/1',
      vendor: 'intel',
      caches: { tlb: 'default', walkCaches: false },
      guest: { cr0: '0x80010011', cr3: '0x1000', cr4: '0x20', efer: '0x500' },
      nested: { enabled: false },
      memory: TABLES,
      steps: [read('0x10000'), read('0x10000'), { step: 'invlpg', address: '0x10000' }],
    });
    const [first, second, invlpg] = runScenario(scenario, { explain: true }).results;
    expect(first.walk).toHaveLength(4);
    expect(first.caches?.length).toBeGreaterThan(0);
    expect(first.caches?.every((e) => e.covers === '0x10000-0x10fff' && e.maps === '0x10000')).toBe(true);
    expect(second).toMatchObject({ cached: true, walk: [] });
    expect(second).not.toHaveProperty('removed');
    expect(invlpg.removed).toEqual(first.caches);
    expect(invlpg.caches).toEqual([]);
  });
});
