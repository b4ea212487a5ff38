import { parseHex64 } from '@hvsim/cpu-core';
import { DocumentError, type DocumentIssue, describeValue, formatPath } from '@hvsim/errors';
import { z } from 'zod';

/*
 * The zod pieces both documents are built from. Every leaf says in words what it expects, so that a
 * message reads `accesses[2].cpl: expected 0, 1, 2 or 3, got 4` rather than zod's defaults.
 */

/** Error options for a schema whose input is missing or of the wrong JSON type. */
export function expecting(what: string) {
  return {
    error: (issue: { readonly input?: unknown }) =>
      issue.input === undefined
        ? `missing; expected ${what}`
        : `expected ${what}, got ${describeValue(issue.input)}`,
  };
}

const HEX_TEXT = /^0x[0-9a-fA-F]+$/;

/** A 64-bit quantity that `what` describes in messages: a `0x`-prefixed hex string that fits in 64 bits. */
export function hexString(what: string) {
  return z.string(expecting(what)).transform((text, ctx) => {
    if (!HEX_TEXT.test(text)) {
      ctx.issues.push({
        code: 'custom',
        input: text,
        message: `expected ${what}, got ${describeValue(text)}`,
      });
      return z.NEVER;
    }
    const value = parseHex64(text);
    if (value === null) {
      ctx.issues.push({ code: 'custom', input: text, message: `${text} does not fit in 64 bits` });
      return z.NEVER;
    }
    return value;
  });
}

/** A 64-bit quantity: a `0x`-prefixed hexadecimal string whose value fits in 64 bits, as a bigint. */
export const hex64 = hexString('a 0x-prefixed hexadecimal string');

/** A memory run: an 8-byte-aligned address and its 8-byte words. */
export const memoryRun = z.object(
  {
    address: hex64.refine((address) => address % 8n === 0n, {
      error: (issue) =>
        `${describeValue(issue.input)} is not 8-byte aligned (memory runs start on an 8-byte boundary)`,
    }),
    qwords: z.array(hex64, expecting('an array of 0x-prefixed hexadecimal strings')),
  },
  expecting('an object with "address" and "qwords"'),
);

/** The memory runs of a document. */
export const memoryRuns = z.array(memoryRun, expecting('an array of memory runs'));

/** Turns zod's issues into document issues with paths spelled `accesses[2].cpl`. */
export function documentIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): DocumentIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath([...prefix, ...issue.path]),
    message: issue.message,
  }));
}

/**
 * Checks the `format` of a document before anything else: a document of a format this reader does
 * not know is reported as that, not as a list of fields it happens to lack.
 */
export function checkFormat(
  json: unknown,
  format: string,
  source: string | undefined,
): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new DocumentError(
      [{ path: '', message: `expected a JSON object (a ${format} document), got ${describeValue(json)}` }],
      source,
    );
  }
  const document = json as Record<string, unknown>;
  const actual = document.format;
  if (actual === undefined) {
    throw new DocumentError([{ path: 'format', message: `missing; expected "${format}"` }], source);
  }
  if (actual !== format) {
    const message =
      typeof actual === 'string'
        ? `unknown format ${describeValue(actual)}; this reader knows "${format}"`
        : `expected "${format}", got ${describeValue(actual)}`;
    throw new DocumentError([{ path: 'format', message }], source);
  }
  return document;
}

/**
 * The JSON paths of fields `value` has that `schema` does not describe, in document order: what a
 * reader that ignores unknown fields (spec/scenario.md, Compatibility) warns about. Values of the
 * wrong type are the schema's to report; only objects the schema describes as objects are searched.
 */
export function unknownFields(value: unknown, schema: z.ZodType, path: PropertyKey[] = []): string[] {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodObject && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const shape = s.shape as Record<string, z.ZodType>;
    const found: string[] = [];
    for (const [key, field] of Object.entries(value)) {
      const known = Object.hasOwn(shape, key) ? shape[key] : undefined;
      if (known === undefined) found.push(formatPath([...path, key]));
      else found.push(...unknownFields(field, known, [...path, key]));
    }
    return found;
  }
  if (s instanceof z.ZodArray && Array.isArray(value)) {
    return value.flatMap((item, i) => unknownFields(item, s.element as z.ZodType, [...path, i]));
  }
  return [];
}
