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
  });
});
