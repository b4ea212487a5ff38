import { DocumentError } from '@hvsim/errors';
import { describe, expect, it } from 'vitest';
import { compareResults, formatDifference } from './compare-results.js';
import { parseResult, readResult, serializeResult } from './result-format.js';
import type { ScenarioResult } from './types.js';

/** One result of each outcome, one with a walk and one with an empty walk. */
const everyOutcome: ScenarioResult = {
  results: [
    {
      outcome: 'ok',
      guestPhysical: 0x2400000n,
      hostPhysical: 0x3400000n,
      walk: [
        { stage: 'nested', level: 4, address: 0x1000000n, entry: 0x1001027n },
        { stage: 'guest', level: 4, address: 0x3200000n, entry: 0x8000_0000_0020_1027n },
      ],
    },
    { outcome: 'nested-page-fault', exitInfo1: 0x1_0000_0007n, exitInfo2: 0x2400008n },
    { outcome: 'page-fault', errorCode: 0x15n, address: 0xffff_ffff_8000_0000n, walk: [] },
    { outcome: 'general-protection', errorCode: 0n },
    { outcome: 'ept-violation', exitQualification: 0x18an, guestPhysical: 0x200008n, guestLinear: 0x1008n },
    { outcome: 'ept-violation', exitQualification: 0x10an, guestPhysical: 0x3000n, guestLinear: null },
    { outcome: 'ept-misconfiguration', guestPhysical: 0xabcdefn },
  ],
  memory: [
    { address: 0x1000000n, qwords: [0x1001027n, 0n] },
    { address: 0x2000n, qwords: Array.from({ length: 10 }, (_, i) => BigInt(i) * 0x1000n + 0x7n) },
    { address: 0x3000n, qwords: [] },
  ],
};

describe('serializeResult (spec/scenario.md, Result)', () => {
  it('writes the spec example in the spec layout, hex lowercase', () => {
    const result: ScenarioResult = {
      results: [
        { outcome: 'ok', guestPhysical: 0x2400000n, hostPhysical: 0x3400000n },
        { outcome: 'nested-page-fault', exitInfo1: 0x100000007n, exitInfo2: 0x2400008n },
        { outcome: 'page-fault', errorCode: 0x15n, address: 0x401000n },
      ],
      memory: [
        { address: 0x1000000n, qwords: [0x1001027n, 0x0n] },
        { address: 0x1001000n, qwords: [0x1002027n] },
      ],
    };
    // The result document of spec/scenario.md, character for character.
    expect(serializeResult(result)).toBe(`{
  "format": "hvsim.result/1",
  "results": [
    { "outcome": "ok", "guestPhysical": "0x2400000", "hostPhysical": "0x3400000" },
    { "outcome": "nested-page-fault", "exitInfo1": "0x100000007", "exitInfo2": "0x2400008" },
    { "outcome": "page-fault", "errorCode": "0x15", "address": "0x401000" }
  ],
  "memory": [
    { "address": "0x1000000", "qwords": ["0x1001027", "0x0"] },
    { "address": "0x1001000", "qwords": ["0x1002027"] }
  ]
}
`);
  });

  it('writes guestLinear as null when it is not valid, and walks only when present', () => {
    const json = JSON.parse(serializeResult(everyOutcome));
    expect(json.results[5]).toEqual({
      outcome: 'ept-violation',
      exitQualification: '0x10a',
      guestPhysical: '0x3000',
      guestLinear: null,
    });
    expect(json.results[0].walk[1]).toEqual({
      stage: 'guest',
      level: 4,
      address: '0x3200000',
      entry: '0x8000000000201027',
    });
    expect(json.results[1]).not.toHaveProperty('walk');
    expect(json.results[2].walk).toEqual([]);
    expect(json.results[2].address).toBe('0xffffffff80000000');
  });

  it('round-trips through parseResult', () => {
    const text = serializeResult(everyOutcome);
    expect(parseResult(text)).toEqual(everyOutcome);
    expect(serializeResult(parseResult(text))).toBe(text);
    const empty: ScenarioResult = { results: [], memory: [] };
    expect(parseResult(serializeResult(empty))).toEqual(empty);
  });
});

describe('parseResult', () => {
  const valid = () => JSON.parse(serializeResult(everyOutcome));
  // biome-ignore lint/suspicious/noExplicitAny: the test breaks a parsed JSON document freely.
  const message = (edit: (doc: any) => void): string => {
    const doc = valid();
    edit(doc);
    try {
      readResult(doc, 'qemu.json');
    } catch (error) {
      expect(error).toBeInstanceOf(DocumentError);
      return (error as Error).message;
    }
    throw new Error('accepted');
  };

  it('rejects an unknown format or outcome, and malformed fields, with their paths', () => {
    expect(message((d) => (d.format = 'hvsim.scenario/1'))).toBe(
      'qemu.json: format: unknown format "hvsim.scenario/1"; this reader knows "hvsim.result/1"',
    );
    expect(message((d) => (d.results[3].outcome = 'triple-fault'))).toMatch(
      /^qemu\.json: results\[3\]\.outcome: unknown outcome "triple-fault"; expected one of "ok", /,
    );
    expect(message((d) => delete d.results[1].exitInfo2)).toBe(
      'qemu.json: results[1].exitInfo2: missing; expected a 0x-prefixed hexadecimal string',
    );
    expect(message((d) => delete d.results[4].guestLinear)).toBe(
      'qemu.json: results[4].guestLinear: missing; expected a 0x-prefixed hexadecimal string or null',
    );
    expect(message((d) => (d.results[0].walk[1].stage = 'host'))).toBe(
      'qemu.json: results[0].walk[1].stage: expected "guest" or "nested", got "host"',
    );
    expect(message((d) => (d.memory[0].address = '0x1000001'))).toMatch(
      /^qemu\.json: memory\[0\]\.address: 0x1000001 is not 8-byte aligned/,
    );
  });

  it('ignores unknown fields (the expected files carry their derivations in them)', () => {
    const doc = valid();
    doc.emulator = 'bochs 2.8';
    doc.results[0].why = 'because';
    expect(readResult(doc)).toEqual(everyOutcome);
  });
});

describe('compareResults', () => {
  it('finds no difference between equal results, walks aside', () => {
    const withoutWalks: ScenarioResult = {
      ...everyOutcome,
      results: everyOutcome.results.map(({ walk: _walk, ...rest }) => rest),
    };
    expect(compareResults(everyOutcome, withoutWalks)).toEqual([]);
  });

  it('reports the first differences with their paths', () => {
    const other: ScenarioResult = {
      results: [
        everyOutcome.results[0],
        { outcome: 'page-fault', errorCode: 0x7n, address: 0x2400008n },
        { outcome: 'page-fault', errorCode: 0x5n, address: 0xffff_ffff_8000_0000n },
        ...everyOutcome.results.slice(3),
      ],
      memory: [{ address: 0x1000000n, qwords: [0x1001007n, 0n] }, ...everyOutcome.memory.slice(1)],
    };
    expect(compareResults(everyOutcome, other).map(formatDifference)).toEqual([
      'results[1].outcome: "nested-page-fault" vs "page-fault"',
      'results[2].errorCode: 0x15 vs 0x5',
      'memory[0].qwords[0]: 0x1001027 vs 0x1001007',
    ]);
    expect(compareResults(everyOutcome, other, 1)).toHaveLength(1);
  });

  it('reports different counts of entries, runs and words', () => {
    const shorter: ScenarioResult = {
      results: everyOutcome.results.slice(0, 2),
      memory: [{ address: 0x1000000n, qwords: [0x1001027n] }],
    };
    expect(compareResults(everyOutcome, shorter)).toEqual([
      { path: 'results', a: '7 entries', b: '2 entries' },
      { path: 'memory', a: '3 runs', b: '1 run' },
      { path: 'memory[0].qwords', a: '2 qwords', b: '1 qword' },
    ]);
  });
});

describe('results of sequences (spec/scenario.md, "Sequences with caches")', () => {
  const sequence: ScenarioResult = {
    results: [
      { outcome: 'ok', guestPhysical: 0x10000n, hostPhysical: 0x410000n },
      { outcome: 'done' },
      { outcome: 'ok', guestPhysical: 0x10000n, hostPhysical: 0x410000n, cached: true, walk: [] },
      { outcome: 'vmfail', error: 28 },
      { outcome: 'general-protection', errorCode: 0n },
    ],
    memory: [],
  };

  it('writes operation results and cached, and reads them back', () => {
    const text = serializeResult(sequence);
    expect(text).toContain('    { "outcome": "done" },\n');
    expect(text).toContain('{ "outcome": "vmfail", "error": 28 }');
    expect(text).toContain('"hostPhysical": "0x410000", "cached": true, "walk": [] }');
    expect(parseResult(text)).toEqual(sequence);
  });

  it('compares without cached: a TLB hit and a walk to the same place agree', () => {
    const walked: ScenarioResult = {
      ...sequence,
      results: sequence.results.map((r) => (r.outcome === 'ok' ? { ...r, cached: false } : r)),
    };
    expect(compareResults(sequence, walked)).toEqual([]);
    const other: ScenarioResult = {
      ...sequence,
      results: [...sequence.results.slice(0, 3), { outcome: 'vmfail', error: 7 }, sequence.results[4]],
    };
    expect(compareResults(sequence, other).map(formatDifference)).toEqual(['results[3].error: 28 vs 7']);
  });

  it('rejects a vmfail without its error number, and lists done and vmfail among the outcomes', () => {
    const document = (results: unknown[]) => ({ format: 'hvsim.result/1', results, memory: [] });
    expect(() => readResult(document([{ outcome: 'vmfail' }]), 'r.json')).toThrow(
      'r.json: results[0].error: missing; expected a VM-instruction error number',
    );
    expect(() => readResult(document([{ outcome: 'vmfail', error: 2.5 }]))).toThrow(
      'results[0].error: expected a VM-instruction error number (a non-negative integer), got 2.5',
    );
    expect(() => readResult(document([{ outcome: 'finished' }]))).toThrow(/"done", "vmfail"/);
    expect(() =>
      readResult(document([{ outcome: 'ok', guestPhysical: '0x0', hostPhysical: '0x0', cached: 'yes' }])),
    ).toThrow('results[0].cached: expected true or false, got "yes"');
  });

  it('writes an explanation’s removed and caches, one entry a line', () => {
    const entry = {
      structure: 'L1 DTLB',
      covers: '0x10000-0x10fff',
      size: '4K',
      maps: '0x410000',
      tag: 'ASID 1, PCID 0',
      perms: 'W D',
    };
    const text = serializeResult({
      results: [{ outcome: 'done', removed: [entry], caches: [] }],
      memory: [],
    });
    expect(text).toContain(
      '    { "outcome": "done", "removed": [\n      { "structure": "L1 DTLB", "covers": "0x10000-0x10fff", "size": "4K", "maps": "0x410000", "tag": "ASID 1, PCID 0", "perms": "W D" }\n    ], "caches": [] }\n',
    );
  });
});
