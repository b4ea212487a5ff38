import { PagingMode, PhysicalMemory, Stage, WalkTrace } from '@hvsim/cpu-core';
import { TlbHierarchy, zenTlb } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { listBundledScenarios, loadBundledExpectedResult, loadBundledScenario } from './bundled-scenarios.js';
import { compareResults, formatDifference } from './compare-results.js';
import { runScenario } from './run-scenario.js';
import { ScenarioMachine } from './scenario-machine.js';
import { readScenario } from './scenario-reader.js';

/*
 * Expected values here come from the Intel SDM rules, worked out by hand: the bundled examples'
 * `*.expected.json` files carry their derivation in `derivation` and per-access `why` fields.
 */

describe('the bundled examples match their hand-derived expected results', () => {
  const examples = listBundledScenarios().filter((example) => example.expectedPath !== null);

  it('has an expected file for every non-nested example', () => {
    const missing = listBundledScenarios().filter(
      (example) => !example.nested && example.expectedPath === null,
    );
    expect(missing.map((example) => example.name)).toEqual([]);
    expect(examples.length).toBeGreaterThanOrEqual(7);
  });

  it.each(examples.map((example) => [example.name]))('%s', (name) => {
    const expected = loadBundledExpectedResult(name)!;
    const actual = runScenario(loadBundledScenario(name));
    expect(compareResults(expected, actual).map(formatDifference)).toEqual([]);
  });
});

/** A 4-level scenario: PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000 -> page 0x5000 (user RW). */
function fourLevel(accesses: object[], extra: object = {}) {
  return readScenario({
    format: 'hvsim.scenario/1',
    vendor: 'amd',
    guest: { cr0: '0x80000011', cr3: '0x1000', cr4: '0x20', efer: '0x500' },
    nested: { enabled: false },
    memory: [
      { address: '0x1000', qwords: ['0x2007'] },
      { address: '0x2000', qwords: ['0x3007'] },
      { address: '0x3000', qwords: ['0x4007'] },
      { address: '0x4000', qwords: ['0x5007'] },
    ],
    accesses,
    ...extra,
  });
}

describe('runScenario without a second stage', () => {
  it('keeps accessed and dirty bits from one access to the next (spec/scenario.md, Rules)', () => {
    const read = { address: '0x10', access: 'read', cpl: 3 };
    const write = { address: '0x18', access: 'write', cpl: 3 };
    // After a read: A (0x20) in all four entries; after a write also D (0x40) in the PTE only.
    expect(runScenario(fourLevel([read])).memory.map((run) => run.qwords[0])).toEqual([
      0x2027n,
      0x3027n,
      0x4027n,
      0x5027n,
    ]);
    const both = runScenario(fourLevel([read, write]));
    expect(both.memory.map((run) => run.qwords[0])).toEqual([0x2027n, 0x3027n, 0x4027n, 0x5067n]);
    // The second walk sees the first one's A bits: its trace shows the entries as already updated.
    const explained = runScenario(fourLevel([read, write]), { explain: true });
    expect(explained.results[1].walk?.map((step) => step.entry)).toEqual([
      0x2027n,
      0x3027n,
      0x4027n,
      0x5067n,
    ]);
  });

  it('explains a walk: stage, level, host-physical address and entry after its update', () => {
    const result = runScenario(loadBundledScenario('long4'), { explain: true });
    // Access 0 of long4: PML4[0] at 0x10000, PDPT[0] at 0x11000, PD[0] at 0x12000, PT[1] at 0x17008.
    expect(result.results[0].walk).toEqual([
      { stage: 'guest', level: 4, address: 0x10000n, entry: 0x11027n },
      { stage: 'guest', level: 3, address: 0x11000n, entry: 0x12027n },
      { stage: 'guest', level: 2, address: 0x12000n, entry: 0x17027n },
      { stage: 'guest', level: 1, address: 0x17008n, entry: 0xabcd027n },
    ]);
    // The non-canonical access (8) reads nothing.
    expect(result.results[8]).toEqual({ outcome: 'general-protection', errorCode: 0n, walk: [] });
    // Without explain there is no walk at all.
    expect(runScenario(loadBundledScenario('long4')).results[0]).not.toHaveProperty('walk');
  });

  it('makes accesses at CPL 3 in virtual-8086 mode whatever cpl says (SDM vol. 3A §20.2)', () => {
    const v86 = readScenario({
      format: 'hvsim.scenario/1',
      vendor: 'intel',
      guest: { cr0: '0x80000011', cr3: '0x1000', cr4: '0x0', efer: '0x0', rflags: '0x20002' },
      nested: { enabled: false },
      // 32-bit paging: PDE[0] = PT 0x2000 (user), PTE[0] = page 0x3000, supervisor only.
      memory: [
        { address: '0x1000', qwords: ['0x2007'] },
        { address: '0x2000', qwords: ['0x3003'] },
      ],
      accesses: [{ address: '0x10', access: 'read', cpl: 0 }],
    });
    expect(runScenario(v86).results[0]).toEqual({ outcome: 'page-fault', errorCode: 0x5n, address: 0x10n });
  });

  it('reports the faulting address as CR2 receives it', () => {
    const result = runScenario(fourLevel([{ address: '0xffff800000001000', access: 'write', cpl: 0 }]));
    expect(result.results[0]).toEqual({
      outcome: 'page-fault',
      errorCode: 0x2n,
      address: 0xffff_8000_0000_1000n,
    });
  });
});

describe('runScenario with a second stage', () => {
  const nestedScenario = () =>
    fourLevel(
      [
        { address: '0x10', access: 'read', cpl: 3 },
        { address: '0x20', access: 'execute', cpl: 0 },
      ],
      { nested: { enabled: true, root: '0x9000' } },
    );

  it('runs nested scenarios on the built-in two-dimensional walk by default', () => {
    // The spec's own example: gCR3 0x200000 is guest-physical; its nested walk reads nCR3's PML4E
    // 0x1001007 and PDPTE 0x1002007, then PDE 1 of the table at 0x1002000, which is zero. A guest
    // table access is a user write at the nested level (APM vol. 2 §15.25.5): EXITINFO1 = W|US (0x6)
    // with bit 33 (a guest page-table access), EXITINFO2 = 0x200000; the used upper entries get A.
    const result = runScenario(loadBundledScenario('amd-npt-example'));
    for (const entry of result.results) {
      expect(entry).toEqual({
        outcome: 'nested-page-fault',
        exitInfo1: 0x2_0000_0006n,
        exitInfo2: 0x20_0000n,
      });
    }
    expect(result.memory.map((run) => run.qwords[0])).toEqual([0x1001027n, 0x1002027n]);
  });

  it('runs a nested scenario on one machine: memory loaded once, each access at its cpl', () => {
    // nCR3 0x9000 holds nothing: the first nested walk (of gCR3 0x1000) reads the nested PML4E at
    // 0x9000, finds it not present, and exits with a nested page fault on a guest table read: a user
    // (US, bit 2) write (W, bit 1: guest table accesses are writes at the nested level, APM vol. 2
    // §15.25.5) with bit 33 set (a guest page-table access), EXITINFO2 = 0x1000.
    const machine = new ScenarioMachine(nestedScenario());
    expect(machine.state.mode).toBe(PagingMode.Level4);
    expect(machine.memory).toBeInstanceOf(PhysicalMemory);
    expect(machine.memory.readWord(0x4000)).toBe(0x5007);
    const trace = new WalkTrace();
    const entry = machine.run({ address: 0x20n, access: 'execute', cpl: 0 }, trace);
    expect(machine.state.cpl).toBe(0);
    expect(entry).toEqual({ outcome: 'nested-page-fault', exitInfo1: 0x2_0000_0006n, exitInfo2: 0x1000n });
    expect(trace.count).toBe(1);
    expect([trace.stage[0], trace.level[0], trace.address[0]]).toEqual([Stage.Nested, 4, 0x9000]);
    machine.run({ address: 0x20n, access: 'read', cpl: 3 });
    expect(machine.state.cpl).toBe(3);
  });
});

describe('ScenarioMachine with caches', () => {
  it('serves a second access to a page from the TLB, without reading memory', () => {
    // A TLB caches translations (SDM vol. 3A §4.10.2): a second access to the page makes no
    // paging-structure reference; the first walks the four levels.
    const machine = new ScenarioMachine(fourLevel([]), { tlb: new TlbHierarchy(zenTlb.config) });
    const trace = new WalkTrace();
    expect(machine.run({ address: 0x10n, access: 'read', cpl: 3 }, trace)).toEqual({
      outcome: 'ok',
      guestPhysical: 0x5010n,
      hostPhysical: 0x5010n,
    });
    expect(trace.count).toBe(4);
    trace.clear();
    expect(machine.run({ address: 0x18n, access: 'read', cpl: 3 }, trace)).toEqual({
      outcome: 'ok',
      guestPhysical: 0x5018n,
      hostPhysical: 0x5018n,
    });
    expect(trace.count).toBe(0);
    expect(machine.translation.tlbHit).toBe(true);
    // The first walk set the accessed bits; memoryRuns reads them back.
    expect(machine.memoryRuns().map((run) => run.qwords[0])).toEqual([0x2027n, 0x3027n, 0x4027n, 0x5027n]);
  });
});
