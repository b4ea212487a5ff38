import { DocumentError } from '@hvsim/errors';
import { describe, expect, it } from 'vitest';
import { listBundledScenarios, loadBundledScenario } from './bundled-scenarios.js';
import { parseScenario, readScenario } from './scenario-reader.js';
import { serializeScenario } from './scenario-writer.js';

// biome-ignore lint/suspicious/noExplicitAny: tests reach into and break JSON documents freely.
type Json = any;

/** A minimal valid scenario (4-level paging), as plain JSON, for each test to break one field of. */
function base(): Json {
  return {
    format: 'hvsim.scenario/1',
    vendor: 'intel',
    guest: { cr0: '0x80000011', cr3: '0x1000', cr4: '0x20', efer: '0x500' },
    nested: { enabled: false },
    memory: [
      { address: '0x1000', qwords: ['0x2003'] },
      { address: '0x2000', qwords: ['0x3003', '0x0'] },
    ],
    accesses: [
      { address: '0x0', access: 'read', cpl: 0 },
      { address: '0x1000', access: 'write', cpl: 3 },
      { address: '0x2000', access: 'execute', cpl: 0 },
    ],
  };
}

/** The message `readScenario` throws for a document changed by `edit`. */
function rejection(edit: (doc: Json) => void, source?: string): string {
  const doc = base();
  edit(doc);
  try {
    readScenario(doc, source);
  } catch (error) {
    expect(error).toBeInstanceOf(DocumentError);
    return (error as Error).message;
  }
  throw new Error('the scenario was accepted');
}

describe('readScenario: the format (spec/scenario.md, Compatibility)', () => {
  it('rejects an unknown format and says which it knows', () => {
    expect(rejection((d) => (d.format = 'hvsim.scenario/2'))).toBe(
      'format: unknown format "hvsim.scenario/2"; this reader knows "hvsim.scenario/1"',
    );
  });

  it('rejects a missing format before looking at anything else', () => {
    expect(
      rejection((d) => {
        delete d.format;
        delete d.guest;
      }),
    ).toBe('format: missing; expected "hvsim.scenario/1"');
  });

  it('rejects a document that is not an object', () => {
    expect(() => readScenario([1, 2])).toThrow(
      'expected a JSON object (a hvsim.scenario/1 document), got an array',
    );
  });

  it('rejects a missing field with its path', () => {
    expect(rejection((d) => delete d.guest.cr3)).toBe(
      'guest.cr3: missing; expected a 0x-prefixed hexadecimal string',
    );
    expect(rejection((d) => delete d.accesses[1].access)).toBe(
      'accesses[1].access: missing; expected "read", "write" or "execute"',
    );
    expect(rejection((d) => delete d.nested)).toMatch(/^nested: missing; expected an object/);
  });

  it('rejects hex values that are not 0x-prefixed hex', () => {
    expect(rejection((d) => (d.guest.cr0 = '80000011'))).toBe(
      'guest.cr0: expected a 0x-prefixed hexadecimal string, got "80000011"',
    );
    expect(rejection((d) => (d.guest.cr0 = '0X11'))).toBe(
      'guest.cr0: expected a 0x-prefixed hexadecimal string, got "0X11"',
    );
    expect(rejection((d) => (d.memory[1].qwords[1] = '0xfg'))).toBe(
      'memory[1].qwords[1]: expected a 0x-prefixed hexadecimal string, got "0xfg"',
    );
    expect(rejection((d) => (d.accesses[0].address = 4096))).toBe(
      'accesses[0].address: expected a 0x-prefixed hexadecimal string, got 4096',
    );
  });

  it('rejects a value that does not fit in 64 bits', () => {
    expect(rejection((d) => (d.accesses[2].address = '0x10000000000000000'))).toBe(
      'accesses[2].address: 0x10000000000000000 does not fit in 64 bits',
    );
    expect(() =>
      readScenario({ ...base(), accesses: [{ address: '0xffffffffffffffff', access: 'read', cpl: 0 }] }),
    ).not.toThrow();
  });

  it('rejects an unaligned memory run', () => {
    expect(rejection((d) => (d.memory[1].address = '0x2004'))).toBe(
      'memory[1].address: 0x2004 is not 8-byte aligned (memory runs start on an 8-byte boundary)',
    );
  });

  it('rejects an unknown vendor, access kind or cpl', () => {
    expect(rejection((d) => (d.vendor = 'arm'))).toBe('vendor: expected "amd" or "intel", got "arm"');
    expect(rejection((d) => (d.accesses[1].access = 'fetch'))).toBe(
      'accesses[1].access: expected "read", "write" or "execute", got "fetch"',
    );
    expect(rejection((d) => (d.accesses[2].cpl = 4))).toBe('accesses[2].cpl: expected 0, 1, 2 or 3, got 4');
    expect(rejection((d) => (d.accesses[2].cpl = 1.5))).toBe(
      'accesses[2].cpl: expected 0, 1, 2 or 3, got 1.5',
    );
    expect(rejection((d) => (d.accesses[2].cpl = '3'))).toBe(
      'accesses[2].cpl: expected 0, 1, 2 or 3, got "3"',
    );
  });

  it('reports every problem at once, one a line, prefixed with the source', () => {
    const message = rejection((d) => {
      d.vendor = 'via';
      d.accesses[0].cpl = -1;
    }, 'bug-123.json');
    expect(message.split('\n')).toEqual([
      'bug-123.json: vendor: expected "amd" or "intel", got "via"',
      'bug-123.json: accesses[0].cpl: expected 0, 1, 2 or 3, got -1',
    ]);
  });

  it('ignores unknown extra fields', () => {
    const doc = base();
    doc.comment = 'from a later minor version';
    doc.guest.cr8 = '0x0';
    doc.accesses[0].size = 8;
    const warnings: string[] = [];
    const scenario = readScenario(doc, undefined, { onWarning: (m) => warnings.push(m) });
    expect(scenario.accesses[0]).toEqual({ address: 0n, access: 'read', cpl: 0 });
    expect(Object.keys(scenario.guest).sort()).toEqual(['cr0', 'cr3', 'cr4', 'efer', 'rflags']);
    // Each ignored field is named by its JSON path, in document order.
    expect(warnings.map((w) => w.split(':')[0])).toEqual(['guest.cr8', 'accesses[0].size', 'comment']);
  });

  it('warns about a misspelled optional field, naming the file, and rejects it when strict', () => {
    const doc = base();
    doc.cpu = { maxPhysicalAdressBits: 40 };
    const warnings: string[] = [];
    readScenario(doc, 'typo.json', { onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([
      'typo.json: cpu.maxPhysicalAdressBits: unknown field, ignored (spec/scenario.md: readers ignore fields they do not know)',
    ]);
    expect(() => readScenario(doc, 'typo.json', { strict: true })).toThrow(
      'typo.json: cpu.maxPhysicalAdressBits: unknown field (strict reading rejects fields the format does not define)',
    );
    // A document with only known fields warns about nothing, strict or not.
    const clean: string[] = [];
    readScenario(base(), 'ok.json', { strict: true, onWarning: (m) => clean.push(m) });
    expect(clean).toEqual([]);
  });
});

describe('parseScenario: JSON text', () => {
  it('reports the line and column of a syntax error, and the file', () => {
    const text = '{\n  "format": "hvsim.scenario/1",\n  "vendor": "amd" "x"\n}';
    expect(() => parseScenario(text, 'bad.json')).toThrow(
      "bad.json: line 3, column 19: invalid JSON: expected ',' or '}' in an object, found '\"'",
    );
  });

  it('reports a trailing comma and a truncated document', () => {
    expect(() => parseScenario('{\n  "a": 1,\n}')).toThrow(
      "line 3, column 1: invalid JSON: expected a property name in double quotes, found '}'",
    );
    expect(() => parseScenario('{ "a": [1, 2')).toThrow(
      "line 1, column 13: invalid JSON: expected ',' or ']' in an array, found the end of the input",
    );
    expect(() => parseScenario('')).toThrow('line 1, column 1: invalid JSON: unexpected end of the input');
  });

  it('accepts a byte-order mark and parses the bigints', () => {
    const scenario = parseScenario(`\ufeff${JSON.stringify(base())}`);
    expect(scenario.guest.cr0).toBe(0x8000_0011n);
    expect(scenario.memory[1]).toEqual({ address: 0x2000n, qwords: [0x3003n, 0n] });
  });
});

describe('readScenario: defaults (spec/scenario.md)', () => {
  it('fills in rflags, cpu and host', () => {
    const scenario = readScenario(base());
    expect(scenario.guest.rflags).toBe(0x2n);
    expect(scenario.cpu).toEqual({
      maxPhysicalAddressBits: 48,
      eptExecuteOnly: true,
      eptAccessedDirty: true,
      eptModeBasedExecute: false,
      eptAdvancedViolationInfo: false,
    });
    expect(scenario.host).toEqual({ cr0: 0x8000_0011n, cr4: 0x20n, efer: 0xd00n });
    expect(scenario.nested).toEqual({ enabled: false, root: null, asid: 1, vpid: 1 });
    expect(scenario.vendor).toBe('intel');
    expect('name' in scenario).toBe(false);
  });

  it('keeps what the document gives', () => {
    const doc = base();
    doc.name = 'n';
    doc.vendor = 'amd';
    doc.guest.rflags = '0x40002';
    doc.cpu = { maxPhysicalAddressBits: 40, eptExecuteOnly: false };
    doc.host = { efer: '0x500' };
    doc.nested = { enabled: true, root: '0x5000' };
    const scenario = readScenario(doc);
    expect(scenario.name).toBe('n');
    expect(scenario.vendor).toBe('amd');
    expect(scenario.guest.rflags).toBe(0x40002n);
    expect(scenario.cpu.maxPhysicalAddressBits).toBe(40);
    expect(scenario.cpu.eptExecuteOnly).toBe(false);
    expect(scenario.cpu.eptAccessedDirty).toBe(true);
    expect(scenario.host).toEqual({ cr0: 0x8000_0011n, cr4: 0x20n, efer: 0x500n });
    expect(scenario.nested).toEqual({ enabled: true, root: 0x5000n, asid: 1, vpid: 1 });
  });
});

describe('readScenario: settings no CPU can be in', () => {
  it('rejects control registers the architecture forbids (cpu-core controlRegisterProblem)', () => {
    expect(rejection((d) => (d.guest.cr4 = '0x0'))).toBe(
      'guest: no CPU can be in this state: EFER.LME=1 with CR0.PG=1 requires CR4.PAE=1',
    );
    expect(rejection((d) => (d.guest.cr0 = '0x80000010'))).toBe(
      'guest: no CPU can be in this state: EFER.LME=1 with CR0.PG=1 and CR0.PE=0 is an illegal state',
    );
  });

  it('accepts paged real mode on AMD only', () => {
    const pagedReal = (vendor: string) => {
      const doc = base();
      doc.vendor = vendor;
      doc.guest = { cr0: '0x80000010', cr3: '0x1000', cr4: '0x0', efer: '0x0' };
      return doc;
    };
    expect(readScenario(pagedReal('amd')).guest.cr0).toBe(0x8000_0010n);
    expect(() => readScenario(pagedReal('intel'))).toThrow(
      'guest: no CPU can be in this state: CR0.PG=1 with CR0.PE=0 is only legal as AMD paged real mode',
    );
  });

  it('rejects reserved register bits and a CR3 beyond MAXPHYADDR', () => {
    expect(rejection((d) => (d.guest.cr0 = '0x180000011'))).toBe(
      'guest.cr0: 0x180000011 sets reserved bits 63:32',
    );
    expect(rejection((d) => (d.guest.rflags = '0x400002'))).toBe(
      'guest.rflags: 0x400002 sets reserved bits 63:22',
    );
    expect(rejection((d) => (d.guest.cr3 = '0x1000000000000'))).toBe(
      'guest.cr3: 0x1000000000000 sets bits at or above MAXPHYADDR (48)',
    );
  });

  it('rejects a bad AMD host state', () => {
    expect(
      rejection((d) => {
        d.vendor = 'amd';
        d.host = { cr4: '0x0' };
      }),
    ).toBe('host: no CPU can be in this state: EFER.LME=1 with CR0.PG=1 requires CR4.PAE=1');
  });

  it('rejects maxPhysicalAddressBits outside 32..52', () => {
    for (const bits of [31, 53, 40.5]) {
      expect(rejection((d) => (d.cpu = { maxPhysicalAddressBits: bits }))).toBe(
        `cpu.maxPhysicalAddressBits: expected an integer from 32 to 52 (MAXPHYADDR; Intel SDM vol. 3A §4.1.4), got ${bits}`,
      );
    }
  });

  it('rejects overlapping memory runs, naming both', () => {
    expect(rejection((d) => d.memory.push({ address: '0x2008', qwords: ['0x1'] }))).toBe(
      'memory[2]: overlaps memory[1] (0x2000 to 0x2010, exclusive); memory runs must not overlap',
    );
    expect(rejection((d) => d.memory.unshift({ address: '0xff8', qwords: ['0x1', '0x2'] }))).toBe(
      'memory[1]: overlaps memory[0] (0xff8 to 0x1008, exclusive); memory runs must not overlap',
    );
    // Adjacent runs do not overlap.
    expect(() =>
      readScenario({ ...base(), memory: [...base().memory, { address: '0x2010', qwords: ['0x1'] }] }),
    ).not.toThrow();
  });

  it('rejects memory runs beyond MAXPHYADDR', () => {
    expect(
      rejection((d) => {
        d.cpu = { maxPhysicalAddressBits: 36 };
        d.memory.push({ address: '0xffffffff8', qwords: ['0x1', '0x2'] });
      }),
    ).toBe(
      'memory[2].address: the run from 0xffffffff8 to 0x1000000008 (exclusive) lies beyond the 36-bit physical address space (MAXPHYADDR)',
    );
  });

  it('rejects linear addresses wider than 32 bits outside 4- and 5-level paging', () => {
    expect(
      rejection((d) => {
        d.guest = { cr0: '0x11', cr3: '0x0', cr4: '0x0', efer: '0x0' };
        d.accesses[1].address = '0x100000000';
      }),
    ).toBe(
      'accesses[1].address: 0x100000000 is wider than 32 bits, and linear addresses are 32 bits outside 4- and 5-level paging',
    );
  });

  it('requires nested.root when nested paging is enabled, and checks it', () => {
    expect(rejection((d) => (d.nested = { enabled: true }))).toBe(
      'nested.root: missing; expected a 0x-prefixed hexadecimal string (required when nested.enabled is true)',
    );
    expect(rejection((d) => (d.nested = { enabled: true, root: '0x100000000000000' }))).toMatch(
      /^nested\.root: 0x100000000000000 sets bits at or above MAXPHYADDR \(48\)/,
    );
  });

  it('checks the Intel EPTP as VM entry does', () => {
    const eptp = (root: string, cpu?: object) =>
      rejection((d) => {
        d.nested = { enabled: true, root };
        if (cpu) d.cpu = cpu;
      });
    expect(eptp('0x100019')).toBe('nested.root: EPTP memory type (bits 2:0) is 1; expected 0 (UC) or 6 (WB)');
    expect(eptp('0x100016')).toBe(
      'nested.root: EPTP page-walk length (bits 5:3, minus one) is 3; expected 4 or 5',
    );
    expect(eptp('0x10005e', { eptAccessedDirty: false })).toBe(
      'nested.root: EPTP bit 6 enables EPT accessed and dirty flags, which cpu.eptAccessedDirty says are not supported',
    );
    expect(eptp('0x10011e')).toBe('nested.root: 0x10011e sets reserved EPTP bits 11:8');
    expect(readScenario({ ...base(), nested: { enabled: true, root: '0x10005e' } }).nested.root).toBe(
      0x10005en,
    );
  });
});

describe('serializeScenario', () => {
  it('writes every bundled example so that reading it back gives the same scenario', () => {
    for (const { name } of listBundledScenarios()) {
      const scenario = loadBundledScenario(name);
      const text = serializeScenario(scenario);
      expect(parseScenario(text, `${name} (written)`, { strict: true }), name).toEqual(scenario);
    }
  });

  it('writes hex lowercase with 0x, one line per memory run and per access', () => {
    const text = serializeScenario(loadBundledScenario('long4'));
    expect(text.startsWith('{\n  "format": "hvsim.scenario/1",\n')).toBe(true);
    expect(text).toContain('\n    {"address":"0x1234","access":"read","cpl":3},\n');
    expect(text).not.toMatch(/0x[0-9a-f]*[A-F]/);
  });
});
