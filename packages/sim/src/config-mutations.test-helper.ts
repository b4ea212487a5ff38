import { readdirSync, readFileSync } from 'node:fs';
import { PagingMode } from '@hvsim/cpu-core';
import { DocumentError, InputError } from '@hvsim/errors';
import { GuestOs } from '@hvsim/workloads';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { parseConfig, type SimConfig } from './config.js';
import { assemble } from './machine.js';
import { presetDir } from './presets.js';

/*
 * Mutated configurations, as an attacker or a careless script would write them, and the verdict on
 * what the reader did with each: the fuzz test (config-fuzz.test.ts) and the long fuzz run
 * (bench/config-fuzz.ts) share them.
 */

/** The bundled configurations, as YAML and as JSON (each preset), and one with every kind of field written out. */
export function seedTexts(): string[] {
  const texts: string[] = [];
  for (const file of readdirSync(presetDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    const text = readFileSync(`${presetDir}${file}`, 'utf8');
    texts.push(text, JSON.stringify(parseYaml(text), null, 2));
  }
  texts.push(
    [
      'name: everything',
      'mmu: nested',
      'vendor: intel',
      'idPoolSize: 16',
      'cpus: 2',
      'vms: 2',
      'vcpus: 2',
      'tlb:',
      '  name: tiny',
      '  levels:',
      '    - name: L1',
      '      caches:',
      '        - { name: L1 4K, entries: 64, ways: 4, pageSizes: [4K], policy: tree-plru }',
      '        - { name: L1 2M, entries: 32, ways: 4, pageSizes: [2M, 4M] }',
      '    - name: L2',
      '      caches: [{ name: STLB, entries: 1536, ways: 12, pageSizes: [4K, 2M], policy: lru }]',
      '  instructionPath: [L1, L2]',
      '  dataPath: [L1, L2]',
      '  inclusion: non-inclusive',
      '  fillPolicy: all',
      'walkCache: { levels: [{ kind: PDE, entries: 32, ways: 4 }, { kind: PML4E, entries: 2, ways: 2 }] }',
      'nestedTlb: { entries: 16, ways: 4 }',
      'costs: { tlbHit: [0, 9], walkReference: 12, worldSwitch: 1360 }',
      'backing: 2M',
      'fill: up-front',
      'guest:',
      '  memory: 64MiB',
      '  pagingMode: level5',
      '  hugePages: true',
      '  pcid: true',
      'timer: { interval: 5000 }',
      '',
    ].join('\n'),
  );
  return texts;
}

/** Pieces of YAML syntax that change what a document means, inserted anywhere. */
const SYNTAX = [
  '&a ',
  '*a',
  '*b ',
  '&b [*a, *a, *a, *a]',
  '!!binary ',
  '!!timestamp ',
  '!custom ',
  '!<tag:x> ',
  '? ',
  '- ',
  ': ',
  '{',
  '}',
  '[',
  ']',
  ',',
  '\t',
  '\n',
  '\r\n',
  '  ',
  '#',
  '"',
  "'",
  '|\n',
  '>-\n',
  '%YAML 1.1\n---\n',
  '%TAG ! tag:x,2000:\n',
  '---\n',
  '...\n',
  '<<: ',
  '\0',
  '\ufeff',
  '\u2028',
  '\ud800',
  '~',
  '@',
  '`',
];

/** Values that are absurd, out of range or of the wrong type for some field. */
const VALUES = [
  '0',
  '-1',
  '1',
  '3',
  '33',
  '4097',
  '65537',
  '1000000',
  '4294967296',
  '9007199254740993',
  '1e308',
  '-1e308',
  '1.5',
  '0x7fffffff',
  '0o777',
  '.inf',
  '-.inf',
  '.nan',
  '99999999999999999999999999',
  '1000',
  '3M',
  '1MiB',
  '64T',
  '128TiB',
  '9999999999999999999T',
  '8G',
  'null',
  '~',
  'true',
  'false',
  '""',
  '"x"',
  '[]',
  '[1, 2]',
  '{}',
  '{a: 1}',
  '{ interval: -5 }',
  '{ entries: 48, ways: 5 }',
  '{ entries: 1048576, ways: 1048576 }',
  'skylake',
  'haswell',
  'none',
];

/** Fields, written at the top level, with the values above: how range checks are reached. */
const FIELDS = [
  'cpus',
  'vms',
  'vcpus',
  'idPoolSize',
  'tlb',
  'walkCache',
  'nestedTlb',
  'timer',
  'costs',
  'backing',
  'fill',
  'mmu',
  'vendor',
  'tagging',
  'name',
  'description',
  'guest',
];
const GUEST_FIELDS = ['memory', 'pagingMode', 'hugePages', 'pcid'];

type Mutation = (text: string) => string;

/** A mutation drawn `weight` times as often as the others. */
function weighted(weight: number, arbitrary: fc.Arbitrary<Mutation>) {
  return { arbitrary, weight };
}

const at = (text: string, where: number) => Math.floor(where * (text.length + 1));

/** One mutation of a text, chosen and placed by fast-check. */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // A bit flip in one character.
  fc
    .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 15 }))
    .map(([where, bit]) => (text: string) => {
      const i = Math.min(at(text, where), text.length - 1);
      if (i < 0) return text;
      return text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ (1 << bit)) + text.slice(i + 1);
    }),
  // A truncation.
  fc.double({ min: 0, max: 1, noNaN: true }).map((where) => (text: string) => text.slice(0, at(text, where))),
  // Syntax inserted.
  fc
    .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...SYNTAX))
    .map(([where, piece]) => (text: string) => {
      const i = at(text, where);
      return text.slice(0, i) + piece + text.slice(i);
    }),
  // A value replaced: the text after the n-th `: ` up to the end of its line.
  weighted(
    3,
    fc.tuple(fc.nat(), fc.constantFrom(...VALUES)).map(([n, value]) => (text: string) => {
      const starts = [...text.matchAll(/: /g)].map((m) => (m.index ?? 0) + 2);
      if (starts.length === 0) return text;
      const start = starts[n % starts.length];
      const end = text.indexOf('\n', start);
      return text.slice(0, start) + value + (end < 0 ? '' : text.slice(end));
    }),
  ),
  // A field set at the top level (or in `guest`) to a value: where the range checks are.
  fc
    .tuple(fc.constantFrom(...FIELDS, ...GUEST_FIELDS.map((f) => `guest.${f}`)), fc.constantFrom(...VALUES))
    .map(([field, value]) => (text: string) => {
      const json = text.trimStart().startsWith('{');
      if (json) {
        const [outer, inner] = field.split('.');
        const body = inner === undefined ? `"${outer}": ${value}` : `"${outer}": { "${inner}": ${value} }`;
        return text.replace('{', `{ ${body},`);
      }
      const [outer, inner] = field.split('.');
      const without = text
        .split('\n')
        .filter((line) => !line.startsWith(`${outer}:`))
        .join('\n');
      return `${without}\n${inner === undefined ? `${outer}: ${value}` : `${outer}: { ${inner}: ${value} }`}\n`;
    }),
  // A number made huge, negative, fractional or not a number.
  fc
    .tuple(fc.nat(), fc.constantFrom('1e400', '-0', '18446744073709551616', '1.0000001', '0x', '1_000'))
    .map(([n, value]) => (text: string) => {
      const numbers = [...text.matchAll(/\b\d+\b/g)];
      if (numbers.length === 0) return text;
      const m = numbers[n % numbers.length];
      const i = m.index ?? 0;
      return text.slice(0, i) + value + text.slice(i + m[0].length);
    }),
  // Deep nesting: flow collections, block indentation, or block indicators on one line (`- - - x`).
  fc
    .tuple(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer({ min: 1, max: 6000 }),
      fc.constantFrom('flow', 'block', 'compact'),
    )
    .map(([where, depth, form]) => (text: string) => {
      const i = at(text, where);
      const piece =
        form === 'flow'
          ? '['.repeat(depth) + ']'.repeat(depth)
          : form === 'compact'
            ? `${'- '.repeat(depth)}x`
            : Array.from({ length: Math.min(depth, 300) }, (_, d) => `${' '.repeat(d)}a:`).join('\n');
      return text.slice(0, i) + piece + text.slice(i);
    }),
  // A wide mapping: many keys, each compared with those before it by the YAML library.
  fc.integer({ min: 1, max: 1000 }).map((keys) => (text: string) => {
    const lines = Array.from({ length: keys }, (_, k) => `k${k}: ${k}`);
    return `${text}\n${lines.join('\n')}\n`;
  }),
  // Aliases: a growing chain of anchored lists (billion laughs), or an alias to nothing.
  fc
    .tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 2, max: 12 }))
    .map(([levels, width]) => (text: string) => {
      const lines = [`l0: &l0 [${Array(width).fill('x').join(', ')}]`];
      for (let l = 1; l < levels; l++)
        lines.push(
          `l${l}: &l${l} [${Array(width)
            .fill(`*l${l - 1}`)
            .join(', ')}]`,
        );
      return `${lines.join('\n')}\n${text}`;
    }),
  // A long line.
  fc
    .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 100, max: 100_000 }))
    .map(([where, length]) => (text: string) => {
      const i = at(text, where);
      return text.slice(0, i) + 'x'.repeat(length) + text.slice(i);
    }),
  // A line repeated (a duplicate key), or indented differently.
  fc.tuple(fc.nat(), fc.integer({ min: -3, max: 3 })).map(([n, shift]) => (text: string) => {
    const lines = text.split('\n');
    const i = n % lines.length;
    if (shift === 0) lines.splice(i, 0, lines[i]);
    else lines[i] = shift > 0 ? ' '.repeat(shift) + lines[i] : lines[i].slice(-shift);
    return lines.join('\n');
  }),
);

/** A bundled configuration with one to three mutations applied. */
export function mutatedConfig(seeds: readonly string[]): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([seed, mutations]) => mutations.reduce((text, m) => m(text), seed));
}

/** What the reader did with an input. */
export type Verdict =
  | { readonly kind: 'accepted'; readonly config: SimConfig; readonly absurd: string | null }
  | { readonly kind: 'rejected' }
  | { readonly kind: 'unlocated'; readonly why: string }
  | { readonly kind: 'crash'; readonly why: string };

/** A schema library's own sentences, which no message should carry. */
const LIBRARY_SENTENCE =
  /Invalid input|received (string|number|object|array|boolean|undefined|null)|Too (big|small)|Unrecognized key|Invalid option|expected (object|string|number|array|boolean|int),/;

/** Reads `text` and judges the answer: accepted (and whether absurdly), rejected with a location, or a crash. */
export function judge(text: string): Verdict {
  let config: SimConfig;
  try {
    config = parseConfig(text, 'fuzz.yaml');
  } catch (error) {
    if (!(error instanceof DocumentError) || !(error instanceof InputError)) {
      return { kind: 'crash', why: `${(error as Error)?.constructor?.name}: ${(error as Error)?.message}` };
    }
    const lines = text.split('\n').length;
    for (const issue of error.issues) {
      const located =
        Number.isInteger(issue.line) &&
        Number.isInteger(issue.column) &&
        (issue.line as number) >= 1 &&
        (issue.line as number) <= lines &&
        (issue.column as number) >= 1;
      if (!located) return { kind: 'unlocated', why: `no line and column: ${issue.message}` };
      if (LIBRARY_SENTENCE.test(issue.message)) {
        return { kind: 'unlocated', why: `a library's sentence: ${issue.message}` };
      }
    }
    return { kind: 'rejected' };
  }
  return { kind: 'accepted', config, absurd: absurdity(config) };
}

/**
 * What is absurd about an accepted machine, judged on its own terms (not the reader's bounds): what
 * the issue that asked for this fuzzing counted as absurd, and what the packages refuse to build.
 */
export function absurdity(config: SimConfig): string | null {
  const memory = config.guest.memory;
  if (!Number.isSafeInteger(memory) || memory % 4096 !== 0)
    return `guest memory ${memory} is not whole 4 KiB frames`;
  if (memory > 2 ** 46 || memory <= 2 ** 20) return `guest memory ${memory}`;
  if (config.cpus > 1024 || config.vcpus > 32 || config.vms > 1024)
    return 'CPUs, vCPUs or VMs beyond any host';
  if (config.mmu === 'native' && config.cpus > 32) return 'a guest OS on more than 32 CPUs';
  if (config.mmu !== 'native' && config.vms * memory > 2 ** 40) return 'VMs beyond the host’s memory';
  if (config.timer.interval < 0) return 'a negative timer';
  const structures: Array<{ entries: number; ways: number }> = [];
  if (typeof config.tlb === 'object') for (const l of config.tlb.levels) structures.push(...l.caches);
  if (typeof config.walkCache === 'object') structures.push(...config.walkCache.levels);
  if (typeof config.nestedTlb === 'object') structures.push(config.nestedTlb);
  for (const s of structures) {
    if (s.entries > 65_536 || s.entries % s.ways !== 0)
      return `a TLB of ${s.entries} entries and ${s.ways} ways`;
  }
  return null;
}

/**
 * Why the packages refuse to build an accepted machine (a `RangeError` from assembling it, or from
 * booting its guest OS), or null when they build it. A machine refused by the memory check of a run
 * (`InputError`) counts as refused properly, not as absurd.
 */
export function unbuildable(config: SimConfig): string | null {
  try {
    const machine = assemble(config);
    for (const cpus of machine.guests) {
      new GuestOs({
        cpus,
        memoryBytes: config.guest.memory,
        pagingMode: PAGING_MODES[config.guest.pagingMode],
        hugePages: config.guest.hugePages,
        pcid: config.guest.pcid,
      });
    }
    return null;
  } catch (error) {
    if (error instanceof InputError) return null;
    return `${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`;
  }
}

const PAGING_MODES = {
  level4: PagingMode.Level4,
  level5: PagingMode.Level5,
  pae: PagingMode.Pae,
  legacy32: PagingMode.Legacy32,
} as const;
