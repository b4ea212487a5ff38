import { readFileSync } from 'node:fs';
import { DocumentError } from '@hvsim/errors';
import { goldenCoveTlb, PageSize, skylakeTlb, WalkEntry, zen4Tlb, zen5Tlb, zenTlb } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import { cachesOf, defaultWalkCache } from './machine.js';
import { defaultComparison, listPresets, loadConfig, loadPreset } from './presets.js';

function issuesOf(text: string, source = 'my.yaml') {
  try {
    parseConfig(text, source);
  } catch (error) {
    expect(error).toBeInstanceOf(DocumentError);
    return { message: (error as Error).message, issues: (error as DocumentError).issues };
  }
  throw new Error('expected the configuration to be rejected');
}

describe('parseConfig', () => {
  it('fills in the defaults and takes the name from the file', () => {
    const config = parseConfig('mmu: nested\nvendor: intel\n', 'dir/my-ept.yaml');
    expect(config).toMatchObject({
      name: 'my-ept',
      mmu: 'nested',
      vendor: 'intel',
      tagging: true,
      cpus: 1,
      tlb: 'skylake',
      walkCache: 'default',
      backing: '4K',
      vms: 1,
      vcpus: 1,
      guest: { memory: 256 * 2 ** 20, pagingMode: 'level4', hugePages: false, pcid: true },
      timer: { interval: 10_000 },
    });
  });

  it('reads JSON too, and sizes written with units', () => {
    const config = parseConfig('{"mmu": "native", "guest": {"memory": "64 MiB"}}', 'x.json');
    expect(config.guest.memory).toBe(64 * 1024 * 1024);
    expect(parseConfig('mmu: native\nguest: {memory: 2G}').guest.memory).toBe(2 * 2 ** 30);
  });

  it('names the line, column and JSON path of a bad field', () => {
    const { message, issues } = issuesOf('mmu: nested\nvendor: amd\ntlb: haswell\ncpus: 0\n');
    // `haswell` starts at line 3 column 6, the 0 at line 4 column 7.
    expect(issues).toEqual(
      [
        { path: 'cpus', line: 4, column: 7, message: 'expected a positive number of CPUs' },
        {
          path: 'tlb',
          line: 3,
          column: 6,
          message:
            'expected "skylake", "golden-cove", "zen", "zen4", "zen5", "none" or a TLB geometry, got "haswell"',
        },
      ].sort(
        (a, b) => issues.findIndex((i) => i.path === a.path) - issues.findIndex((i) => i.path === b.path),
      ),
    );
    // Checks across fields once every field is right: 1000 bytes is no multiple of a 4 KiB page.
    expect(issuesOf('mmu: nested\nvendor: amd\nguest:\n  memory: 1000\n').issues).toEqual([
      {
        path: 'guest.memory',
        line: 4,
        column: 11,
        message: '1000 bytes is not a multiple of the 4K backing page',
      },
    ]);
    expect(message.split('\n')).toContain(
      'my.yaml: line 3, column 6: tlb: expected "skylake", "golden-cove", "zen", "zen4", "zen5", "none" or a TLB geometry, got "haswell"',
    );
  });

  it('points a missing field at its mapping, and an unknown key at itself', () => {
    expect(issuesOf('description: x\n').issues).toEqual([
      { path: 'mmu', line: 1, column: 1, message: 'missing; expected "native", "nested" or "shadow"' },
    ]);
    expect(issuesOf('mmu: nested\n').issues[0]).toMatchObject({
      path: 'vendor',
      message: expect.stringMatching(/^missing; nested paging needs/),
    });
    const unknown = issuesOf('mmu: native\nguest:\n  memroy: 1G\n').issues;
    expect(unknown).toHaveLength(1);
    expect(unknown[0]).toEqual({
      path: 'guest.memroy',
      line: 3,
      column: 3,
      message: 'unknown field; expected a mapping: memory, pagingMode, hugePages, pcid',
    });
  });

  it('names guest.pcid, its line and column, when PCIDs are asked for outside 4- and 5-level paging', () => {
    // CR4.PCIDE can be set only in IA-32e mode (Intel SDM vol. 3A §4.10.1).
    const { issues } = issuesOf('mmu: native\nguest:\n  pagingMode: legacy32\n  pcid: true\n');
    expect(issues).toEqual([
      {
        path: 'guest.pcid',
        line: 4,
        column: 9, // the value
        message:
          'PCIDs exist only in 4- and 5-level paging (Intel SDM vol. 3A §4.10.1), not with pagingMode legacy32: set pcid to false',
      },
    ]);
    // Not given, PCIDs are on where they exist and off elsewhere.
    expect(parseConfig('mmu: native\nguest:\n  pagingMode: pae\n', 'pae.yaml').guest.pcid).toBe(false);
    expect(parseConfig('mmu: native\n', 'long.yaml').guest.pcid).toBe(true);
  });

  it('finds paths inside lists', () => {
    const { issues } = issuesOf(
      [
        'mmu: native',
        'walkCache:',
        '  levels:',
        '    - { kind: PDE, entries: 32, ways: 4 }',
        '    - { kind: PTE, entries: 8, ways: 2 }',
      ].join('\n'),
    );
    expect(issues).toEqual([
      {
        path: 'walkCache.levels[1].kind',
        line: 5,
        column: 15,
        message: 'expected "PDE", "PDPTE", "PML4E" or "PML5E", got "PTE"',
      },
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    const { issues } = issuesOf('mmu: native\ntlb: [skylake\n');
    expect(issues[0].line).toBeGreaterThanOrEqual(2);
    expect(issues[0].path).toBe('');
  });
});

describe('parseConfig on hostile or broken YAML', () => {
  const at = (text: string) => issuesOf(text).issues.map((i) => [i.line, i.column, i.message]);

  it('reports aliases that name no anchor, contain themselves or expand too far, where they are', () => {
    // `*x` is line 2, column 6; nothing anchors `x`.
    expect(at('name: a\nmmu: *x\n')).toEqual([[2, 6, 'alias *x names no anchor &x before it']]);
    // The alias inside its own anchored list would make a cycle.
    expect(at('mmu: native\ncosts: &c { tlbHit: *c }\n')[0]).toEqual([
      2,
      21,
      'alias *c is inside the value &c anchors: a value cannot contain itself',
    ]);
    // Lists of ten uses of the list before (30 aliases, under the 64 allowed): the library's expansion
    // bound stops them (its ReferenceError), reported at the first alias (line 2, column 8).
    const laughs = ['a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]'];
    for (const [name, prev] of [
      ['b', 'a'],
      ['c', 'b'],
      ['d', 'c'],
    ]) {
      laughs.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    const [line, column, message] = at(`${laughs.join('\n')}\nmmu: native\n`)[0];
    expect([line, column]).toEqual([2, 8]);
    expect(message).toMatch(/^aliases here expand to more than 50 copies/);
    // More aliases than a configuration needs: the 65th is named (the list opens at column 4, one alias every 4).
    const many = `mmu: &m native\ndescription: x\nx: [${Array(70).fill('*m').join(', ')}]\n`;
    expect(at(many).find(([, , m]) => String(m).startsWith('more than 64 aliases'))?.[1]).toBe(5 + 4 * 64);
  });

  it('refuses tags, collection keys and second documents, at their place', () => {
    expect(at('mmu: !custom native\n')).toEqual([
      [
        1,
        6,
        'tag !custom means nothing in a configuration, which holds only mappings, lists, strings, numbers, booleans and null',
      ],
    ]);
    // A tagged value is named where its value starts (`aGk=`, column 23).
    expect(at('mmu: native\ndescription: !!binary aGk=\n')[0].slice(0, 2)).toEqual([2, 23]);
    // A YAML 1.1 directive does not bring back 1.1's timestamps (nor its merge keys).
    expect(at('%YAML 1.1\n---\nmmu: native\ndescription: !!timestamp 2001-12-14\n')[0].slice(0, 2)).toEqual([
      4, 14,
    ]);
    expect(at('mmu: native\n? [a]\n: 1\n')).toEqual([
      [2, 3, 'a mapping or list as a key; keys are field names'],
    ]);
    expect(at('mmu: native\n---\nmmu: native\n')).toEqual([
      [2, 1, 'a second document; a configuration is one YAML document'],
    ]);
    expect(at('mmu: native\nmmu: nested\n')).toEqual([[2, 1, 'Map keys must be unique']]);
    expect(at('mmu: native\n\tcpus: 2\n')[0].slice(0, 2)).toEqual([2, 1]);
  });

  it('bounds the work: nesting depth, line length and document size', () => {
    // The top mapping and 32 lists on line 2 are 33 levels; the 32nd list opens at column 8 + 31.
    const deep = (lists: number) => `mmu: native\ncosts: ${'['.repeat(lists)}${']'.repeat(lists)}\n`;
    expect(at(deep(31))[0][2]).toMatch(/^expected a mapping of cycle costs/);
    expect(at(deep(32))[0]).toEqual([
      2,
      8 + 31,
      'mappings and lists nest more than 32 levels deep here; a configuration needs 7 at most',
    ]);
    // Block indicators on one line nest too (`- - - x`), and the parser recurses on them: the 33rd
    // is refused before it runs, at column 1 + 2 * 32.
    expect(at(`${'- '.repeat(4000)}x\n`)[0]).toEqual([
      1,
      1 + 2 * 32,
      'mappings and lists nest more than 32 levels deep here; a configuration needs 7 at most',
    ]);
    // A mapping of 300 keys: the 257th (line 257) is one too many.
    const wide = Array.from({ length: 300 }, (_, i) => `k${i}: 1`).join('\n');
    expect(at(wide)).toEqual([
      [257, 1, "more than 256 items in one mapping or list; a configuration's largest has 17"],
    ]);
    // Deeper than any stack would take: refused at the line-length bound, before any parsing.
    const long = `mmu: native\ndescription: ${'x'.repeat(9000)}\n`;
    expect(at(long)).toEqual([
      [2, 8193, "line 2 has 9013 characters, more than the 8192 a configuration's line may have"],
    ]);
    const big = `mmu: native\n${'# comment\n'.repeat(7000)}`;
    expect(at(big)).toEqual([
      [1, 1, '70012 characters is more than a configuration may have (65536); is this the right file?'],
    ]);
  });

  it('gives every issue a line and column, an empty document included, and caps a long list', () => {
    expect(at('')).toEqual([[1, 1, 'missing; expected "native", "nested" or "shadow"']]);
    const lots = `mmu: native\n${Array.from({ length: 30 }, (_, i) => `x${i}: 1`).join('\n')}\n`;
    const issues = issuesOf(lots).issues;
    expect(issues).toHaveLength(21);
    expect(issues[20]).toMatchObject({ line: 22, column: 1, message: 'and 10 more problems from here on' });
  });
});

describe('what a machine can have', () => {
  const one = (text: string) => {
    const { issues } = issuesOf(text);
    expect(issues).toHaveLength(1);
    return issues[0];
  };

  it('says the bound and why for counts of CPUs, vCPUs, VMs and ids', () => {
    expect(one('mmu: nested\nvendor: amd\ncpus: 5000\n')).toEqual({
      path: 'cpus',
      line: 3,
      column: 7,
      message:
        'expected a positive number of CPUs, at most 1,024 (the largest x86 hosts have under 1,000 logical CPUs), got the number 5000',
    });
    expect(one('mmu: nested\nvendor: amd\nvcpus: 33\n').message).toBe(
      'expected a positive number of vCPUs, at most 32 (the guest OS of @hvsim/workloads runs on 1 to 32 CPUs), got the number 33',
    );
    // Natively the guest OS runs on the machine's CPUs.
    expect(one('mmu: native\ncpus: 64\n')).toMatchObject({ path: 'cpus', line: 2, column: 7 });
    expect(one('mmu: nested\nvendor: intel\nvms: 1000000000\n').message).toMatch(
      /^expected a positive number of VMs, at most 1,024/,
    );
    // AMD's default ASID count is 32768 (CPUID Fn8000_000A EBX), ASID 0 the host's: 32767 for guests.
    expect(one('mmu: nested\nvendor: amd\nidPoolSize: 40000\n')).toMatchObject({
      path: 'idPoolSize',
      message: expect.stringMatching(/^expected at most 32767 ids/),
    });
    expect(parseConfig('mmu: nested\nvendor: intel\nidPoolSize: 40000\n').idPoolSize).toBe(40000);
    expect(one('mmu: native\ncpus: 1.5\n').message).toBe(
      'expected a positive number of CPUs, got the number 1.5',
    );
  });

  it('takes guest memory in 4 KiB frames, from 2 MiB to 2^46 bytes, and what the host can back', () => {
    expect(one('mmu: native\nguest: { memory: 5000000 }\n')).toEqual({
      path: 'guest.memory',
      line: 2,
      column: 18,
      message: '5000000 bytes is not a multiple of 4 KiB: guest memory is made of 4 KiB frames',
    });
    expect(one('mmu: native\nguest: { memory: 1MiB }\n').message).toMatch(
      /^1048576 bytes is less than the 2 MiB/,
    );
    expect(one('mmu: native\nguest: { memory: 128T }\n').message).toMatch(/is more than 2\^46 \(64 TiB\)/);
    expect(one('mmu: native\nguest: { memory: 1e300 }\n').message).toBe(
      'expected a size such as "256MiB", got the number 1e+300',
    );
    // 32-bit guest kernels use 4 GiB at most.
    expect(one('mmu: native\nguest: { memory: 8G, pagingMode: pae }\n').message).toMatch(
      /^8589934592 bytes is more than 4 GiB/,
    );
    // 4 VMs of 512 GiB are 2 TiB, more than the host's 1 TiB less 4 GiB.
    expect(one('mmu: nested\nvendor: amd\nvms: 4\nguest: { memory: 512G }\n').message).toMatch(
      /^4 VMs of 512 GiB need 2 TiB of host memory, more than the 1020 GiB/,
    );
    expect(parseConfig('mmu: nested\nvendor: amd\nguest: { memory: 512G }\n').guest.memory).toBe(2 ** 39);
  });

  it('builds TLBs whose ways divide their entries, within a size a structure has', () => {
    const tlb = (cache: string, paths = 'instructionPath: [L1]\n  dataPath: [L1]') =>
      `mmu: native\ntlb:\n  name: t\n  levels: [{ name: L1, caches: [${cache}] }]\n  ${paths}\n`;
    expect(one(tlb('{ name: a, entries: 48, ways: 5, pageSizes: [4K] }'))).toMatchObject({
      path: 'tlb.levels[0].caches[0].ways',
      line: 4,
      message: '5 ways do not divide 48 entries: a structure is entries / ways sets of ways entries each',
    });
    expect(one(tlb('{ name: a, entries: 1048576, ways: 4, pageSizes: [4K] }')).message).toMatch(
      /^expected a positive number of entries, at most 65,536 \(the largest TLBs built/,
    );
    expect(
      one(
        tlb('{ name: a, entries: 64, ways: 4, pageSizes: [4K] }', 'instructionPath: [L1]\n  dataPath: [L2]'),
      ),
    ).toMatchObject({
      path: 'tlb.dataPath[0]',
      line: 6,
      message: 'no level named "L2"; the levels are "L1"',
    });
    expect(one('mmu: native\nnestedTlb: { entries: 64, ways: 3 }\n').path).toBe('nestedTlb.ways');
    expect(
      one(
        'mmu: native\nwalkCache: { levels: [{ kind: PDE, entries: 8, ways: 2 }, { kind: PDE, entries: 4, ways: 4 }] }\n',
      ),
    ).toMatchObject({
      path: 'walkCache.levels[1].kind',
      message: 'a second PDE level; a walk cache has one level of each kind',
    });
  });

  it('says what a mistyped field is and takes, never the schema library’s sentence', () => {
    expect(one('mmu: native\ntimer: fast\n')).toEqual({
      path: 'timer',
      line: 2,
      column: 8,
      message:
        'expected a mapping with `interval` (guest accesses between timer exits, 0: none), got the string "fast"',
    });
    expect(one('mmu: native\ntimer: { interval: -1 }\n').message).toBe(
      'expected a number of guest accesses between timer exits (0: no timer)',
    );
    expect(one('mmu: native\nguest: 5\n').message).toBe(
      'expected a mapping: memory, pagingMode, hugePages, pcid, got the number 5',
    );
    expect(one('mmu: native\ncosts: { ipi: 1e12 }\n').message).toMatch(
      /^expected a non-negative cycle count, at most 1,000,000,000/,
    );
    expect(
      one('mmu: native\ntlb: { name: t, levels: [{ name: L1 }], instructionPath: [], dataPath: [] }\n'),
    ).toMatchObject({
      path: 'tlb.levels[0].caches',
      message: 'missing; expected a list of TLB structures',
    });
  });
});

describe('TLB and walk-cache geometry', () => {
  it('maps a preset name to tlb-tagged’s preset and a written geometry to page sizes and policies', () => {
    expect(cachesOf(parseConfig('mmu: native')).tlb).toBe(skylakeTlb.config);
    const named = { 'golden-cove': goldenCoveTlb, zen: zenTlb, zen4: zen4Tlb, zen5: zen5Tlb };
    for (const [name, preset] of Object.entries(named)) {
      expect(cachesOf(parseConfig(`mmu: native\ntlb: ${name}`)).tlb).toBe(preset.config);
    }
    expect(cachesOf(parseConfig('mmu: native')).walkCache).toBe(defaultWalkCache);
    expect(cachesOf(parseConfig('mmu: native\nwalkCache: none')).walkCache).toBeUndefined();
    const config = parseConfig(
      [
        'mmu: native',
        'tlb:',
        '  name: tiny',
        '  levels: [{ name: L1, caches: [{ name: L1 4K, entries: 16, ways: 4, pageSizes: [4K, 2M], policy: fifo }] }]',
        '  instructionPath: [L1]',
        '  dataPath: [L1]',
        'walkCache: { levels: [{ kind: PDPTE, entries: 4, ways: 2 }] }',
      ].join('\n'),
    );
    const caches = cachesOf(config);
    expect(caches.tlb?.levels[0].caches[0]).toEqual({
      name: 'L1 4K',
      entries: 16,
      ways: 4,
      pageSizes: [PageSize.Size4K, PageSize.Size2M],
      policy: 'fifo',
    });
    expect(caches.walkCache?.levels).toEqual([{ kind: WalkEntry.Pdpte, entries: 4, ways: 2 }]);
  });
});

describe('presets', () => {
  it('are files that parse, named as their files, and cover the default comparison', () => {
    const presets = listPresets();
    expect(presets.map((p) => p.name)).toEqual([...defaultComparison].sort());
    for (const preset of presets) {
      const config = parseConfig(readFileSync(preset.path, 'utf8'), preset.path);
      expect(config.name).toBe(preset.name);
      expect(config.description).not.toBe('');
      expect(loadPreset(preset.name)).toEqual(config);
    }
  });

  it('loads a preset or a file by name, and says which presets exist', async () => {
    expect((await loadConfig('npt-2m')).backing).toBe('2M');
    expect((await loadConfig(listPresets()[0].path)).name).toBe(listPresets()[0].name);
    await expect(loadConfig('npt-3m')).rejects.toThrow(/^no preset named "npt-3m"; there are: ept-2m, /);
    await expect(loadConfig('/no/such.yaml')).rejects.toThrow(
      'cannot read /no/such.yaml: no such file or directory',
    );
    // A file that never ends is read no further than a configuration's bound (4 bytes a character).
    await expect(loadConfig('/dev/zero')).rejects.toThrow(
      '/dev/zero: line 1, column 1: more than 262144 bytes, more than a configuration may have (65536 characters); is this the right file?',
    );
  });
});
