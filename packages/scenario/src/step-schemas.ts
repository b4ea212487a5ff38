import { type DocumentIssue, describeValue, formatPath } from '@hvsim/errors';
import { z } from 'zod';
import { documentIssues, expecting, hex64, unknownFields } from './schema-parts.js';
import type { ScenarioStep, Vendor } from './types.js';

/*
 * The steps of a sequence (spec/scenario.md, "Sequences with caches"): an access (no `step` field) or
 * an operation named by `step`, each checked against its own schema so that a message names the step
 * and field (`steps[3].tlbControl: must be 0, 1, 3 or 7 …`).
 */

/** A JSON number that is an integer from `min` to `max`, described in messages as `what`. */
function integer(what: string, min: number, max: number, problem?: (n: number) => string | null) {
  return z.number(expecting(what)).superRefine((n, ctx) => {
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', input: n, message: `expected ${what}, got ${describeValue(n)}` });
      return;
    }
    const message = problem?.(n) ?? null;
    if (message !== null) ctx.addIssue({ code: 'custom', input: n, message });
  });
}

const ASID_ZERO =
  'ASID 0 is the host’s: VMRUN with guest ASID 0 fails its consistency check (#VMEXIT(VMEXIT_INVALID), AMD APM vol. 2 §15.5.1)';

/** A guest ASID (VMCB offset 58h is 32 bits wide; 0 is the host's). */
export const guestAsid = integer('an ASID, an integer from 1 to 4294967295', 0, 0xffff_ffff, (n) =>
  n === 0 ? ASID_ZERO : null,
);

/** A VPID (16 bits, SDM vol. 3C §25.6.12); 0 means "enable VPID" is 0. */
export const vpidNumber = integer('a VPID, an integer from 0 to 65535', 0, 0xffff);

/** The access kinds and privilege of an access, and a write's optional `value`. */
export const accessSchema = z
  .object(
    {
      address: hex64,
      access: z.enum(['read', 'write', 'execute'], expecting('"read", "write" or "execute"')),
      cpl: z
        .number(expecting('0, 1, 2 or 3'))
        .refine((cpl) => cpl === 0 || cpl === 1 || cpl === 2 || cpl === 3, {
          error: (issue) => `expected 0, 1, 2 or 3, got ${describeValue(issue.input)}`,
        }),
      value: hex64.optional(),
    },
    expecting('an object with "address", "access" and "cpl"'),
  )
  .superRefine(({ access, address, value }, ctx) => {
    if (value === undefined) return;
    if (access !== 'write') {
      ctx.addIssue({
        code: 'custom',
        input: value,
        path: ['value'],
        message: `only a write stores a value; this access is a ${access}`,
      });
    } else if ((address & 0xfffn) > 0xff8n) {
      ctx.addIssue({
        code: 'custom',
        input: value,
        path: ['value'],
        message: `the 8 bytes at 0x${address.toString(16)} cross a 4 KiB page boundary, so they need two translations; split the write in two`,
      });
    }
  });

/** A descriptor or register operand that is a type number: any non-negative integer (undefined ones fault). */
const typeNumber = (what: string) => integer(what, 0, Number.MAX_SAFE_INTEGER);

const tlbControl = z
  .number({
    error: (issue) =>
      issue.input === undefined
        ? 'missing; must be 0, 1, 3 or 7 (the TLB_CONTROL encodings of AMD APM vol. 2 §15.16.1, Table 15-9)'
        : `must be 0, 1, 3 or 7 (the TLB_CONTROL encodings of AMD APM vol. 2 §15.16.1, Table 15-9), got ${describeValue(issue.input)}`,
  })
  .refine((n) => n === 0 || n === 1 || n === 3 || n === 7, {
    error: (issue) =>
      `must be 0, 1, 3 or 7 (the TLB_CONTROL encodings of AMD APM vol. 2 §15.16.1, Table 15-9), got ${describeValue(issue.input)}`,
  });

const aligned = hex64.refine((address) => address % 8n === 0n, {
  error: (issue) => `${describeValue(issue.input)} is not 8-byte aligned (a store writes one qword)`,
});

const op = <T extends string>(name: T) => z.literal(name);

/** The schema of each operation, by `step`; `vendor` restricts the VM instructions. */
const OPERATIONS = {
  store: { vendor: null, schema: z.object({ step: op('store'), address: aligned, qword: hex64 }) },
  invlpg: { vendor: null, schema: z.object({ step: op('invlpg'), address: hex64 }) },
  invpcid: {
    vendor: null,
    schema: z.object({
      step: op('invpcid'),
      type: typeNumber('an INVPCID type, a non-negative integer (0 to 3 are defined)'),
      pcid: integer('a PCID, an integer from 0 to 4095', 0, 4095).optional(),
      address: hex64.optional(),
    }),
  },
  'mov-cr0': { vendor: null, schema: z.object({ step: op('mov-cr0'), value: hex64 }) },
  'mov-cr3': { vendor: null, schema: z.object({ step: op('mov-cr3'), value: hex64 }) },
  'mov-cr4': { vendor: null, schema: z.object({ step: op('mov-cr4'), value: hex64 }) },
  'world-switch': {
    vendor: null,
    schema: z.object({
      step: op('world-switch'),
      tlbControl,
      asid: guestAsid.optional(),
      root: hex64.optional(),
    }),
    intel: z.object({ step: op('world-switch'), vpid: vpidNumber.optional(), root: hex64.optional() }),
  },
  invlpga: {
    vendor: 'amd',
    schema: z.object({
      step: op('invlpga'),
      address: hex64,
      asid: integer('an ASID (ECX), an integer from 0 to 4294967295', 0, 0xffff_ffff),
    }),
  },
  invept: {
    vendor: 'intel',
    schema: z.object({
      step: op('invept'),
      type: typeNumber('an INVEPT type, a non-negative integer (1 and 2 are defined)'),
      root: hex64.optional(),
    }),
  },
  invvpid: {
    vendor: 'intel',
    schema: z.object({
      step: op('invvpid'),
      type: typeNumber('an INVVPID type, a non-negative integer (0 to 3 are defined)'),
      vpid: vpidNumber.optional(),
      address: hex64.optional(),
    }),
  },
} as const;

type OperationName = keyof typeof OPERATIONS;

/** Steps that only the hypervisor's side of a VM has: they need a second stage. */
const VM_STEPS: ReadonlySet<string> = new Set(['world-switch', 'invlpga', 'invept', 'invvpid']);

const OPERATION_NAMES = Object.keys(OPERATIONS).map((name) => `"${name}"`);

/** The parsed steps, or the issues of the malformed ones; `unknown` receives the paths of unknown fields. */
export function readSteps(
  raw: readonly unknown[],
  vendor: Vendor,
  nestedEnabled: boolean,
  issues: DocumentIssue[],
  unknown: string[],
): ScenarioStep[] {
  const steps: ScenarioStep[] = [];
  raw.forEach((item, i) => {
    const at: PropertyKey[] = ['steps', i];
    const name =
      typeof item === 'object' && item !== null && !Array.isArray(item)
        ? (item as { step?: unknown }).step
        : undefined;
    if (name === undefined) {
      const parsed = accessSchema.safeParse(item);
      if (!parsed.success) {
        issues.push(...documentIssues(parsed.error, at));
        return;
      }
      unknown.push(...unknownFields(item, accessSchema, at));
      const { value, ...access } = parsed.data;
      steps.push({
        step: 'access',
        ...access,
        cpl: access.cpl as 0 | 1 | 2 | 3,
        ...(value === undefined ? {} : { value }),
      });
      return;
    }
    const path = formatPath([...at, 'step']);
    if (typeof name !== 'string' || !Object.hasOwn(OPERATIONS, name)) {
      issues.push({
        path,
        message: `unknown step ${describeValue(name)}; expected one of ${OPERATION_NAMES.join(', ')} (or an access, which has no "step")`,
      });
      return;
    }
    const entry = OPERATIONS[name as OperationName];
    if (entry.vendor !== null && entry.vendor !== vendor) {
      issues.push({
        path,
        message: `"${name}" is ${entry.vendor === 'amd' ? 'an AMD SVM' : 'an Intel VMX'} instruction; this scenario's vendor is "${vendor}"`,
      });
      return;
    }
    if (VM_STEPS.has(name) && !nestedEnabled) {
      issues.push({
        path,
        message: `"${name}" is the hypervisor's and needs a second stage (nested.enabled: true); without one the scenario's CPU runs no guest`,
      });
      return;
    }
    const schema: z.ZodType =
      name === 'world-switch' && vendor === 'intel' ? OPERATIONS['world-switch'].intel : entry.schema;
    const parsed = schema.safeParse(item);
    if (!parsed.success) {
      issues.push(...documentIssues(parsed.error, at));
      return;
    }
    unknown.push(...unknownFields(item, schema, at));
    const step = operationOf(parsed.data as Record<string, unknown> & { step: OperationName }, at, issues);
    if (step !== null) steps.push(step);
  });
  return steps;
}

/** The parsed step with its defaults, or null after recording what is wrong with it. */
function operationOf(
  data: Record<string, unknown> & { step: OperationName },
  at: readonly PropertyKey[],
  issues: DocumentIssue[],
): ScenarioStep | null {
  switch (data.step) {
    case 'invpcid':
    case 'invvpid': {
      // The descriptor's fields an instruction type does not use default to 0.
      const id = data.step === 'invpcid' ? 'pcid' : 'vpid';
      return {
        ...data,
        [id]: (data[id] as number | undefined) ?? 0,
        address: (data.address as bigint | undefined) ?? 0n,
      } as unknown as ScenarioStep;
    }
    case 'invept': {
      const root = data.root as bigint | undefined;
      if (data.type === 1 && root === undefined) {
        issues.push({
          path: formatPath([...at, 'root']),
          message: 'missing; INVEPT type 1 (single-context) names the EPTP whose mappings it invalidates',
        });
        return null;
      }
      if (data.type === 2 && root !== undefined) {
        issues.push({
          path: formatPath([...at, 'root']),
          message: 'INVEPT type 2 (all-context) takes no root (spec/scenario.md)',
        });
        return null;
      }
      return { step: 'invept', type: data.type as number, ...(root === undefined ? {} : { root }) };
    }
    case 'world-switch': {
      const { step: _, tlbControl, ...rest } = data;
      return { step: 'world-switch', tlbControl: (tlbControl ?? null) as 0 | 1 | 3 | 7 | null, ...rest };
    }
    default:
      return data as unknown as ScenarioStep;
  }
}
