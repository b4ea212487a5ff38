import { DocumentError } from '@hvsim/errors';
import { describe, expect, it } from 'vitest';
import { parseScenario, readScenario } from './scenario-reader.js';
import { serializeScenario } from './scenario-writer.js';

// biome-ignore lint/suspicious/noExplicitAny: tests reach into and break JSON documents freely.
type Json = any;

/* Reading sequences (spec/scenario.md, "Sequences with caches"): each malformed step is named by its JSON path. */

/** A valid AMD sequence with a second stage, one step of each kind the vendor has. */
function amd(): Json {
  return {
    format: 'hvsim.scenario/1',
    vendor: 'amd',
    caches: { tlb: 'default' },
    guest: { cr0: '0x80010011', cr3: '0x1000', cr4: '0x20', efer: '0x500' },
    nested: { enabled: true, root: '0x100000' },
    memory: [{ address: '0x100000', qwords: ['0x0'] }],
    steps: [
      { address: '0x400000', access: 'write', cpl: 0, value: '0x1234' },
      { step: 'store', address: '0x203000', qword: '0x0' },
      { step: 'invlpg', address: '0x400000' },
      { step: 'invpcid', type: 2 },
      { step: 'mov-cr3', value: '0x2000' },
      { step: 'mov-cr0', value: '0x80010011' },
      { step: 'mov-cr4', value: '0xa0' },
      { step: 'world-switch', tlbControl: 3, asid: 2, root: '0x200000' },
      { step: 'invlpga', address: '0x400000', asid: 1 },
    ],
  };
}

/** The same for Intel (EPT). */
function intel(): Json {
  return {
    ...amd(),
    vendor: 'intel',
    nested: { enabled: true, root: '0x10001e', vpid: 0 },
    steps: [
      { step: 'world-switch', vpid: 3, root: '0x20001e' },
      { step: 'invept', type: 1, root: '0x10001e' },
      { step: 'invept', type: 2 },
      { step: 'invvpid', type: 0, vpid: 3, address: '0x400000' },
      { address: '0x400000', access: 'read', cpl: 3 },
    ],
  };
}

function rejection(doc: Json, edit: (doc: Json) => void): string {
  edit(doc);
  try {
    readScenario(doc);
  } catch (error) {
    expect(error).toBeInstanceOf(DocumentError);
    return (error as Error).message;
  }
  throw new Error('the scenario was accepted');
}

describe('readScenario: sequences', () => {
  it('reads caches, the guest tags and every step, with the defaults filled in', () => {
    const scenario = readScenario(amd());
    expect(scenario.caches).toEqual({ tlb: 'default', walkCaches: true, nestedTlb: true });
    expect(scenario.nested).toEqual({ enabled: true, root: 0x100000n, asid: 1, vpid: 1 });
    expect(scenario.accesses).toEqual([]);
    expect(scenario.steps?.[0]).toEqual({
      step: 'access',
      address: 0x400000n,
      access: 'write',
      cpl: 0,
      value: 0x1234n,
    });
    expect(scenario.steps?.[3]).toEqual({ step: 'invpcid', type: 2, pcid: 0, address: 0n });
    expect(scenario.steps?.[7]).toEqual({ step: 'world-switch', tlbControl: 3, asid: 2, root: 0x200000n });
    const vmx = readScenario(intel());
    expect(vmx.nested).toMatchObject({ vpid: 0 });
    expect(vmx.steps?.[0]).toEqual({ step: 'world-switch', tlbControl: null, vpid: 3, root: 0x20001en });
    expect(vmx.steps?.[2]).toEqual({ step: 'invept', type: 2 });
    expect(vmx.steps?.[3]).toEqual({ step: 'invvpid', type: 0, vpid: 3, address: 0x400000n });
  });

  it('writes sequences back as it reads them (serializeScenario)', () => {
    for (const doc of [amd(), intel()]) {
      const scenario = readScenario(doc);
      expect(parseScenario(serializeScenario(scenario))).toEqual(scenario);
    }
  });

  it('takes undefined instruction types, whose faults are results, not reading errors', () => {
    const scenario = readScenario({
      ...amd(),
      steps: [{ step: 'invpcid', type: 9, pcid: 1, address: '0x0' }],
    });
    expect(scenario.steps?.[0]).toMatchObject({ type: 9 });
  });

  it.each([
    [
      'a TLB_CONTROL value Table 15-9 does not define',
      (d: Json) => (d.steps[7].tlbControl = 2),
      'steps[7].tlbControl: must be 0, 1, 3 or 7 (the TLB_CONTROL encodings of AMD APM vol. 2 §15.16.1, Table 15-9), got 2',
    ],
    [
      'a world switch without TLB_CONTROL',
      (d: Json) => delete d.steps[7].tlbControl,
      'steps[7].tlbControl: missing; must be 0, 1, 3 or 7',
    ],
    [
      'ASID 0 in a world switch',
      (d: Json) => (d.steps[7].asid = 0),
      'steps[7].asid: ASID 0 is the host’s: VMRUN with guest ASID 0 fails its consistency check',
    ],
    ['ASID 0 for the guest', (d: Json) => (d.nested.asid = 0), 'nested.asid: ASID 0 is the host’s'],
    [
      'an unknown step',
      (d: Json) => (d.steps[2].step = 'flush'),
      'steps[2].step: unknown step "flush"; expected one of "store", "invlpg"',
    ],
    [
      'an Intel instruction on AMD',
      (d: Json) => (d.steps[2] = { step: 'invept', type: 2 }),
      'steps[2].step: "invept" is an Intel VMX instruction; this scenario\'s vendor is "amd"',
    ],
    [
      'a VM step without a second stage',
      (d: Json) => (d.nested = { enabled: false }),
      'steps[7].step: "world-switch" is the hypervisor\'s and needs a second stage (nested.enabled: true)',
    ],
    [
      'an unaligned store',
      (d: Json) => (d.steps[1].address = '0x203004'),
      'steps[1].address: 0x203004 is not 8-byte aligned (a store writes one qword)',
    ],
    [
      'a store beyond MAXPHYADDR',
      (d: Json) => (d.steps[1].address = '0x1000000000000'),
      'steps[1].address: 0x1000000000000 lies beyond the 48-bit physical address space (MAXPHYADDR)',
    ],
    [
      'a store without its qword',
      (d: Json) => delete d.steps[1].qword,
      'steps[1].qword: missing; expected a 0x-prefixed hexadecimal string',
    ],
    [
      'a PCID wider than 12 bits',
      (d: Json) => (d.steps[3].pcid = 4096),
      'steps[3].pcid: expected a PCID, an integer from 0 to 4095, got 4096',
    ],
    [
      'a type that is not an integer',
      (d: Json) => (d.steps[3].type = 1.5),
      'steps[3].type: expected an INVPCID type, a non-negative integer (0 to 3 are defined), got 1.5',
    ],
    [
      'a MOV to CR3 without a value',
      (d: Json) => (d.steps[4].value = 12),
      'steps[4].value: expected a 0x-prefixed hexadecimal string, got 12',
    ],
    [
      'a world-switch root beyond MAXPHYADDR',
      (d: Json) => (d.steps[7].root = '0x1000000000000'),
      'steps[7].root: 0x1000000000000 sets bits at or above MAXPHYADDR (48)',
    ],
    [
      'INVLPGA with an ECX wider than 32 bits',
      (d: Json) => (d.steps[8].asid = 2 ** 32),
      'steps[8].asid: expected an ASID (ECX), an integer from 0 to 4294967295, got 4294967296',
    ],
    [
      'a value on a read',
      (d: Json) => (d.steps[0].access = 'read'),
      'steps[0].value: only a write stores a value; this access is a read',
    ],
    [
      'a value across a page boundary',
      (d: Json) => (d.steps[0].address = '0x400ffc'),
      'steps[0].value: the 8 bytes at 0x400ffc cross a 4 KiB page boundary',
    ],
    [
      'a step that is not an object',
      (d: Json) => (d.steps[5] = 7),
      'steps[5]: expected an object with "address", "access" and "cpl", got 7',
    ],
    [
      'both accesses and steps',
      (d: Json) => (d.accesses = []),
      'steps: a document has "accesses" or "steps", not both',
    ],
    [
      'neither accesses nor steps',
      (d: Json) => delete d.steps,
      'accesses: missing; expected an array of accesses (or "steps")',
    ],
    [
      'an unknown TLB organization',
      (d: Json) => (d.caches.tlb = 'huge'),
      'caches.tlb: expected a TLB organization: "default", "zen", "skylake", "none", got "huge"',
    ],
    [
      'caches without a TLB',
      (d: Json) => (d.caches = { walkCaches: false }),
      'caches.tlb: missing; expected a TLB organization',
    ],
  ])('rejects %s', (_, edit, message) => {
    expect(rejection(amd(), edit)).toContain(message);
  });

  it.each([
    [
      'a VPID wider than 16 bits',
      (d: Json) => (d.steps[0].vpid = 65536),
      'steps[0].vpid: expected a VPID, an integer from 0 to 65535, got 65536',
    ],
    [
      'an invalid EPTP in a world switch',
      (d: Json) => (d.steps[0].root = '0x200000'),
      'steps[0].root: EPTP page-walk length (bits 5:3, minus one) is 1; expected 4 or 5',
    ],
    [
      'INVEPT type 1 without its EPTP',
      (d: Json) => delete d.steps[1].root,
      'steps[1].root: missing; INVEPT type 1 (single-context) names the EPTP',
    ],
    [
      'INVEPT type 2 with a root',
      (d: Json) => (d.steps[2].root = '0x10001e'),
      'steps[2].root: INVEPT type 2 (all-context) takes no root',
    ],
    [
      'an AMD instruction on Intel',
      (d: Json) => (d.steps[2] = { step: 'invlpga', address: '0x0', asid: 1 }),
      'steps[2].step: "invlpga" is an AMD SVM instruction; this scenario\'s vendor is "intel"',
    ],
    [
      'a VPID that is not a number',
      (d: Json) => (d.steps[3].vpid = '3'),
      'steps[3].vpid: expected a VPID, an integer from 0 to 65535, got "3"',
    ],
  ])('rejects, for Intel, %s', (_, edit, message) => {
    expect(rejection(intel(), edit)).toContain(message);
  });

  it('warns about an unknown field of a step by its path, and strict reading rejects it', () => {
    const doc = intel();
    doc.steps[0].tlbControl = 1; // an AMD field: not part of an Intel world switch
    const warnings: string[] = [];
    readScenario(doc, 'seq.json', { onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([
      'seq.json: steps[0].tlbControl: unknown field, ignored (spec/scenario.md: readers ignore fields they do not know)',
    ]);
    expect(() => readScenario(doc, 'seq.json', { strict: true })).toThrow(
      'seq.json: steps[0].tlbControl: unknown field (strict reading rejects fields the format does not define)',
    );
  });
});
