import { DocumentError, describeValue } from '@hvsim/errors';
import { z } from 'zod';
import { parseJsonText } from './json-text.js';
import { checkFormat, documentIssues, expecting, hex64, hexString, memoryRuns } from './schema-parts.js';
import {
  type CacheEntryView,
  type MemoryRun,
  RESULT_FORMAT,
  type ScenarioResult,
  type StepResult,
  type WalkStep,
} from './types.js';

const OUTCOMES = [
  'ok',
  'page-fault',
  'general-protection',
  'nested-page-fault',
  'ept-violation',
  'ept-misconfiguration',
  'done',
  'vmfail',
] as const;

/** `"cached": true` on an access a TLB served (spec/scenario.md); results are compared without it. */
const cached = z.boolean(expecting('true or false')).optional();

const walk = z
  .array(
    z.object(
      {
        stage: z.enum(['guest', 'nested'], expecting('"guest" or "nested"')),
        level: z
          .number(expecting('a level from 1 to 5'))
          .refine((n) => Number.isInteger(n) && n >= 1 && n <= 5, {
            error: (issue) => `expected a level from 1 to 5, got ${describeValue(issue.input)}`,
          }),
        address: hex64,
        entry: hex64,
      },
      expecting('an object with "stage", "level", "address" and "entry"'),
    ),
    expecting('an array of memory references'),
  )
  .optional();

const resultEntry = z.discriminatedUnion(
  'outcome',
  [
    z.object({ outcome: z.literal('ok'), guestPhysical: hex64, hostPhysical: hex64, cached, walk }),
    z.object({ outcome: z.literal('page-fault'), errorCode: hex64, address: hex64, cached, walk }),
    z.object({ outcome: z.literal('general-protection'), errorCode: hex64, cached, walk }),
    z.object({ outcome: z.literal('nested-page-fault'), exitInfo1: hex64, exitInfo2: hex64, cached, walk }),
    z.object({
      outcome: z.literal('ept-violation'),
      exitQualification: hex64,
      guestPhysical: hex64,
      guestLinear: hexString('a 0x-prefixed hexadecimal string or null').nullable(),
      cached,
      walk,
    }),
    z.object({ outcome: z.literal('ept-misconfiguration'), guestPhysical: hex64, cached, walk }),
    z.object({ outcome: z.literal('done') }),
    z.object({
      outcome: z.literal('vmfail'),
      error: z
        .number(expecting('a VM-instruction error number'))
        .refine((n) => Number.isInteger(n) && n >= 0, {
          error: (issue) =>
            `expected a VM-instruction error number (a non-negative integer), got ${describeValue(issue.input)}`,
        }),
    }),
  ],
  {
    error: (issue) => {
      const known = OUTCOMES.map((name) => `"${name}"`).join(', ');
      const input: unknown = issue.input;
      if (typeof input !== 'object' || input === null || Array.isArray(input)) {
        return `expected an object with an "outcome", got ${describeValue(input)}`;
      }
      const outcome = (input as { outcome?: unknown }).outcome;
      if (outcome === undefined) return `missing; expected one of ${known}`;
      return `unknown outcome ${describeValue(outcome)}; expected one of ${known}`;
    },
  },
);

const resultSchema = z.object({
  results: z.array(resultEntry, expecting('an array of access (or step) results')),
  memory: memoryRuns,
});

/** Parses an `hvsim.result/1` document from JSON text (to compare with a reference emulator's). */
export function parseResult(text: string, source?: string): ScenarioResult {
  return readResult(parseJsonText(text, source), source);
}

/** Validates an already-parsed JSON value as an `hvsim.result/1` document; unknown fields are ignored. */
export function readResult(json: unknown, source?: string): ScenarioResult {
  const document = checkFormat(json, RESULT_FORMAT, source);
  const parsed = resultSchema.safeParse(document);
  if (!parsed.success) throw new DocumentError(documentIssues(parsed.error), source);
  const results = parsed.data.results.map((entry): StepResult => {
    // Drop an absent walk or cached rather than keep `walk: undefined` (exactOptionalPropertyTypes).
    if (entry.outcome === 'done' || entry.outcome === 'vmfail') return entry;
    const { walk: steps, cached: served, ...rest } = entry;
    return {
      ...rest,
      ...(served === undefined ? {} : { cached: served }),
      ...(steps === undefined ? {} : { walk: steps }),
    } as StepResult;
  });
  return { results, memory: parsed.data.memory };
}

/**
 * Writes a result as an `hvsim.result/1` document (spec/scenario.md): 64-bit values as lowercase
 * `0x…` strings, fields in the spec's order, one line per access (or step) and per memory run,
 * `"cached": true` on an access a TLB served, and a result's `walk` (and the explanation's `removed`
 * and `caches`) only when it has one. Ends with a newline.
 */
export function serializeResult(result: ScenarioResult): string {
  const lines = [
    '{',
    `  "format": ${JSON.stringify(RESULT_FORMAT)},`,
    ...block('results', result.results.map(resultLines), ','),
    ...block('memory', result.memory.map(runLines), ''),
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

/** `"name": [ … ]` with each item's lines indented and separated by commas, then `after`. */
function block(name: string, items: string[][], after: string): string[] {
  if (items.length === 0) return [`  "${name}": []${after}`];
  const lines = [`  "${name}": [`];
  items.forEach((item, i) => {
    const last = i === items.length - 1;
    item.forEach((line, j) => {
      lines.push(`    ${line}${last || j < item.length - 1 ? '' : ','}`);
    });
  });
  lines.push(`  ]${after}`);
  return lines;
}

/** The fields of a result entry in the spec's order (outcome first). */
function resultFields(entry: StepResult): [string, unknown][] {
  switch (entry.outcome) {
    case 'done':
      return [['outcome', entry.outcome]];
    case 'vmfail':
      return [
        ['outcome', entry.outcome],
        ['error', entry.error],
      ];
    case 'ok':
      return [
        ['outcome', entry.outcome],
        ['guestPhysical', hex(entry.guestPhysical)],
        ['hostPhysical', hex(entry.hostPhysical)],
      ];
    case 'page-fault':
      return [
        ['outcome', entry.outcome],
        ['errorCode', hex(entry.errorCode)],
        ['address', hex(entry.address)],
      ];
    case 'general-protection':
      return [
        ['outcome', entry.outcome],
        ['errorCode', hex(entry.errorCode)],
      ];
    case 'nested-page-fault':
      return [
        ['outcome', entry.outcome],
        ['exitInfo1', hex(entry.exitInfo1)],
        ['exitInfo2', hex(entry.exitInfo2)],
      ];
    case 'ept-violation':
      return [
        ['outcome', entry.outcome],
        ['exitQualification', hex(entry.exitQualification)],
        ['guestPhysical', hex(entry.guestPhysical)],
        ['guestLinear', entry.guestLinear === null ? null : hex(entry.guestLinear)],
      ];
    case 'ept-misconfiguration':
      return [
        ['outcome', entry.outcome],
        ['guestPhysical', hex(entry.guestPhysical)],
      ];
  }
}

function inline(fields: [string, unknown][]): string {
  return fields.map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value)}`).join(', ');
}

function resultLines(entry: StepResult): string[] {
  const fields = resultFields(entry);
  if ('cached' in entry && entry.cached === true) fields.push(['cached', true]);
  const lists: [string, [string, unknown][][] | undefined][] = [
    ['walk', entry.walk?.map(stepFields)],
    ['removed', entry.removed?.map(viewFields)],
    ['caches', entry.caches?.map(viewFields)],
  ];
  const lines = [`{ ${inline(fields)}`];
  for (const [name, items] of lists) {
    if (items === undefined) continue;
    if (items.length === 0) {
      lines[lines.length - 1] += `, "${name}": []`;
      continue;
    }
    lines[lines.length - 1] += `, "${name}": [`;
    lines.push(...items.map((item, i) => `  { ${inline(item)} }${i < items.length - 1 ? ',' : ''}`));
    lines.push(']');
  }
  lines[lines.length - 1] += ' }';
  return lines;
}

function viewFields(view: CacheEntryView): [string, unknown][] {
  return [
    ['structure', view.structure],
    ['covers', view.covers],
    ['size', view.size],
    ['maps', view.maps],
    ['tag', view.tag],
    ['perms', view.perms],
  ];
}

function stepFields(step: WalkStep): [string, unknown][] {
  return [
    ['stage', step.stage],
    ['level', step.level],
    ['address', hex(step.address)],
    ['entry', hex(step.entry)],
  ];
}

const QWORDS_PER_LINE = 4;

function runLines(run: MemoryRun): string[] {
  const address = `"address": ${JSON.stringify(hex(run.address))}`;
  const words = run.qwords.map((word) => JSON.stringify(hex(word)));
  if (words.length <= 2 * QWORDS_PER_LINE) return [`{ ${address}, "qwords": [${words.join(', ')}] }`];
  const lines = [`{ ${address}, "qwords": [`];
  for (let i = 0; i < words.length; i += QWORDS_PER_LINE) {
    const last = i + QWORDS_PER_LINE >= words.length;
    lines.push(`  ${words.slice(i, i + QWORDS_PER_LINE).join(', ')}${last ? '' : ','}`);
  }
  lines.push('] }');
  return lines;
}

function hex(value: bigint): string {
  return `0x${value.toString(16)}`;
}
