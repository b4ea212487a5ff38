import { controlRegisterProblem, PagingMode, pagingModeOf } from '@hvsim/cpu-core';
import { DocumentError, type DocumentIssue, describeValue } from '@hvsim/errors';
import { z } from 'zod';
import { parseJsonText } from './json-text.js';
import { checkFormat, documentIssues, expecting, hex64, memoryRuns, unknownFields } from './schema-parts.js';
import { accessSchema, guestAsid, readSteps, vpidNumber } from './step-schemas.js';
import {
  type CacheConfig,
  type Cpl,
  type CpuConfig,
  type HostRegisters,
  type MemoryRun,
  type NestedConfig,
  SCENARIO_FORMAT,
  SCENARIO_TLB_NAMES,
  type Scenario,
  type ScenarioStep,
  type Vendor,
} from './types.js';

/** Defaults of spec/scenario.md for the optional fields. */
export const SCENARIO_DEFAULTS = {
  rflags: 0x2n,
  cpu: {
    maxPhysicalAddressBits: 48,
    eptExecuteOnly: true,
    eptAccessedDirty: true,
    eptModeBasedExecute: false,
    eptAdvancedViolationInfo: false,
  } satisfies CpuConfig,
  /** AMD: the host is in 4-level long mode with NXE set. */
  host: { cr0: 0x8000_0011n, cr4: 0x20n, efer: 0xd00n } satisfies HostRegisters,
  /** The guest's ASID (AMD) and VPID (Intel). */
  asid: 1,
  vpid: 1,
  /** `caches`: walk caches and nested TLB on. */
  walkCaches: true,
  nestedTlb: true,
} as const;

const flag = z.boolean(expecting('true or false')).optional();

const scenarioSchema = z.object({
  name: z.string(expecting('a string')).optional(),
  vendor: z.enum(['amd', 'intel'], expecting('"amd" or "intel"')),
  cpu: z
    .object(
      {
        maxPhysicalAddressBits: z
          .number(expecting('an integer from 32 to 52'))
          .refine((bits) => Number.isInteger(bits) && bits >= 32 && bits <= 52, {
            error: (issue) =>
              `expected an integer from 32 to 52 (MAXPHYADDR; Intel SDM vol. 3A §4.1.4), got ${describeValue(issue.input)}`,
          })
          .optional(),
        eptExecuteOnly: flag,
        eptAccessedDirty: flag,
        eptModeBasedExecute: flag,
        eptAdvancedViolationInfo: flag,
      },
      expecting('an object'),
    )
    .optional(),
  guest: z.object(
    { cr0: hex64, cr3: hex64, cr4: hex64, efer: hex64, rflags: hex64.optional() },
    expecting('an object with "cr0", "cr3", "cr4" and "efer"'),
  ),
  host: z
    .object({ cr0: hex64.optional(), cr4: hex64.optional(), efer: hex64.optional() }, expecting('an object'))
    .optional(),
  nested: z.object(
    {
      enabled: z.boolean(expecting('true or false')),
      root: hex64.optional(),
      asid: guestAsid.optional(),
      vpid: vpidNumber.optional(),
    },
    expecting('an object with "enabled" (and "root" when enabled)'),
  ),
  memory: memoryRuns,
  accesses: z.array(accessSchema, expecting('an array of accesses')).optional(),
  caches: z
    .object(
      {
        tlb: z.enum(
          SCENARIO_TLB_NAMES,
          expecting(`a TLB organization: ${SCENARIO_TLB_NAMES.map((name) => `"${name}"`).join(', ')}`),
        ),
        walkCaches: flag,
        nestedTlb: flag,
      },
      expecting('an object with "tlb"'),
    )
    .optional(),
  // Each step is checked against the schema its `step` names (step-schemas.ts).
  steps: z.array(z.unknown(), expecting('an array of steps')).optional(),
});

/**
 * Parses an `hvsim.scenario/1` document from JSON text. `source` (a file name) prefixes every
 * message. Throws `DocumentError` for invalid JSON (with its line and column), an unknown format, a
 * missing or malformed field, or settings no CPU can be in; see `readScenario`.
 */
export function parseScenario(text: string, source?: string, options?: ReadOptions): Scenario {
  return readScenario(parseJsonText(text, source), source, options);
}

/** How a reader treats fields the format does not define. */
export interface ReadOptions {
  /**
   * Reject a document with unknown fields (a `DocumentError` naming each by JSON path), instead of
   * ignoring them as spec/scenario.md requires of a reader, so that a misspelled optional field
   * (`maxPhysicalAdressBits`) cannot go unnoticed. Default false.
   */
  readonly strict?: boolean;
  /**
   * Told about each unknown field when not strict, one message naming it by JSON path (default:
   * `console.warn`, standard error under Node).
   */
  readonly onWarning?: (message: string) => void;
}

/**
 * Validates an already-parsed JSON value as an `hvsim.scenario/1` document (spec/scenario.md,
 * Compatibility) and returns it with bigints and defaults. Unknown fields are ignored, with a warning
 * naming each (`options.onWarning`), or rejected with `options.strict`. Beyond the
 * format, it rejects settings no CPU can be in: control registers with reserved bits set or in a
 * combination the architecture forbids, MAXPHYADDR outside 32..52, memory runs that overlap or lie
 * beyond MAXPHYADDR, table roots beyond MAXPHYADDR, an invalid EPTP, and linear addresses wider than
 * 32 bits outside 4- and 5-level paging.
 */
export function readScenario(json: unknown, source?: string, options: ReadOptions = {}): Scenario {
  const document = checkFormat(json, SCENARIO_FORMAT, source);
  const parsed = scenarioSchema.safeParse(document);
  if (!parsed.success) throw new DocumentError(documentIssues(parsed.error), source);
  const raw = parsed.data;
  const unknown = unknownFields(document, scenarioSchema).filter((path) => path !== 'format');
  const issues: DocumentIssue[] = [];
  let steps: ScenarioStep[] | undefined;
  if (raw.steps !== undefined && raw.accesses !== undefined) {
    issues.push({ path: 'steps', message: 'a document has "accesses" or "steps", not both' });
  } else if (raw.steps === undefined && raw.accesses === undefined) {
    issues.push({ path: 'accesses', message: 'missing; expected an array of accesses (or "steps")' });
  } else if (raw.steps !== undefined) {
    steps = readSteps(raw.steps, raw.vendor, raw.nested.enabled, issues, unknown);
  }
  if (issues.length > 0) throw new DocumentError(issues, source);
  if (unknown.length > 0) {
    if (options.strict === true) {
      throw new DocumentError(
        unknown.map((path) => ({
          path,
          message: 'unknown field (strict reading rejects fields the format does not define)',
        })),
        source,
      );
    }
    const warn = options.onWarning ?? ((message: string) => console.warn(message));
    for (const path of unknown) {
      warn(
        `${source === undefined ? '' : `${source}: `}${path}: unknown field, ignored (spec/scenario.md: readers ignore fields they do not know)`,
      );
    }
  }

  const cpu: CpuConfig = {
    maxPhysicalAddressBits: raw.cpu?.maxPhysicalAddressBits ?? SCENARIO_DEFAULTS.cpu.maxPhysicalAddressBits,
    eptExecuteOnly: raw.cpu?.eptExecuteOnly ?? SCENARIO_DEFAULTS.cpu.eptExecuteOnly,
    eptAccessedDirty: raw.cpu?.eptAccessedDirty ?? SCENARIO_DEFAULTS.cpu.eptAccessedDirty,
    eptModeBasedExecute: raw.cpu?.eptModeBasedExecute ?? SCENARIO_DEFAULTS.cpu.eptModeBasedExecute,
    eptAdvancedViolationInfo:
      raw.cpu?.eptAdvancedViolationInfo ?? SCENARIO_DEFAULTS.cpu.eptAdvancedViolationInfo,
  };
  const host: HostRegisters = {
    cr0: raw.host?.cr0 ?? SCENARIO_DEFAULTS.host.cr0,
    cr4: raw.host?.cr4 ?? SCENARIO_DEFAULTS.host.cr4,
    efer: raw.host?.efer ?? SCENARIO_DEFAULTS.host.efer,
  };
  let nested: NestedConfig;
  const tags = {
    asid: raw.nested.asid ?? SCENARIO_DEFAULTS.asid,
    vpid: raw.nested.vpid ?? SCENARIO_DEFAULTS.vpid,
  };
  if (raw.nested.enabled) {
    if (raw.nested.root === undefined) {
      issues.push({
        path: 'nested.root',
        message: 'missing; expected a 0x-prefixed hexadecimal string (required when nested.enabled is true)',
      });
    }
    nested = { enabled: true, root: raw.nested.root ?? 0n, ...tags };
  } else {
    nested = { enabled: false, root: raw.nested.root ?? null, ...tags };
  }
  const caches: CacheConfig | undefined =
    raw.caches === undefined
      ? undefined
      : {
          tlb: raw.caches.tlb,
          walkCaches: raw.caches.walkCaches ?? SCENARIO_DEFAULTS.walkCaches,
          nestedTlb: raw.caches.nestedTlb ?? SCENARIO_DEFAULTS.nestedTlb,
        };

  const scenario: Scenario = {
    format: SCENARIO_FORMAT,
    ...(raw.name === undefined ? {} : { name: raw.name }),
    vendor: raw.vendor,
    cpu,
    guest: { ...raw.guest, rflags: raw.guest.rflags ?? SCENARIO_DEFAULTS.rflags },
    host,
    nested,
    memory: raw.memory,
    accesses: (raw.accesses ?? []).map(({ value, ...access }) => ({
      ...access,
      cpl: access.cpl as Cpl,
      ...(value === undefined ? {} : { value }),
    })),
    ...(caches === undefined ? {} : { caches }),
    ...(steps === undefined ? {} : { steps }),
  };
  issues.push(...scenarioProblems(scenario, issues.length === 0));
  if (issues.length > 0) throw new DocumentError(issues, source);
  return scenario;
}

const TWO_32 = 1n << 32n;

/** Settings that pass the format but that no CPU can be in, each with the path of the field to blame. */
function scenarioProblems(scenario: Scenario, rootGiven: boolean): DocumentIssue[] {
  const issues: DocumentIssue[] = [];
  const maxPhys = scenario.cpu.maxPhysicalAddressBits;
  const physLimit = 1n << BigInt(maxPhys);
  const { guest } = scenario;

  // Bits 63:32 of CR0, CR4 and EFER are reserved: MOV to CR0/CR4 and WRMSR raise #GP when they are
  // set (Intel SDM vol. 3A §2.5, §2.2.1), and VM entry / VMRUN refuse such guest state.
  let registersValid = true;
  for (const name of ['cr0', 'cr4', 'efer'] as const) {
    if (guest[name] >= TWO_32) {
      issues.push({ path: `guest.${name}`, message: `${hex(guest[name])} sets reserved bits 63:32` });
      registersValid = false;
    }
  }
  // RFLAGS bits 63:22 are reserved (Intel SDM vol. 1 §3.4.3).
  if (guest.rflags >= 1n << 22n) {
    issues.push({ path: 'guest.rflags', message: `${hex(guest.rflags)} sets reserved bits 63:22` });
  }
  // CR3 bits 63:MAXPHYADDR are reserved (SDM vol. 3A §4.5.2; VM-entry check, SDM vol. 3C §27.3.1.1).
  if (guest.cr3 >= physLimit) {
    issues.push({
      path: 'guest.cr3',
      message: `${hex(guest.cr3)} sets bits at or above MAXPHYADDR (${maxPhys})`,
    });
  }
  let mode: PagingMode = PagingMode.None;
  if (registersValid) {
    const cr0 = Number(guest.cr0);
    const cr4 = Number(guest.cr4);
    const efer = Number(guest.efer);
    // Paged real mode (CR0.PE=0, PG=1) exists only on AMD (APM vol. 2 §15.19); on Intel, VM entry
    // requires PE=1 when PG=1 even for an unrestricted guest (SDM vol. 3C §27.3.1.1).
    const problem = controlRegisterProblem(cr0, cr4, efer, scenario.vendor === 'amd');
    if (problem !== null) issues.push({ path: 'guest', message: `no CPU can be in this state: ${problem}` });
    mode = pagingModeOf(cr0, cr4, efer);
  }

  if (scenario.vendor === 'amd') {
    const { host } = scenario;
    let hostValid = true;
    for (const name of ['cr0', 'cr4', 'efer'] as const) {
      if (host[name] >= TWO_32) {
        issues.push({ path: `host.${name}`, message: `${hex(host[name])} sets reserved bits 63:32` });
        hostValid = false;
      }
    }
    if (hostValid) {
      // VMRUN is legal only in protected mode, so the host cannot be in paged real mode.
      const problem = controlRegisterProblem(Number(host.cr0), Number(host.cr4), Number(host.efer), false);
      if (problem !== null) issues.push({ path: 'host', message: `no CPU can be in this state: ${problem}` });
    }
  }

  if (scenario.nested.enabled && rootGiven) {
    issues.push(...rootProblems(scenario.vendor, scenario.cpu, scenario.nested.root, 'nested.root'));
  }
  issues.push(...memoryProblems(scenario.memory, maxPhys));
  scenario.steps?.forEach((step, i) => {
    // A world switch loads its root as VMRUN (nCR3) or VM entry (EPTP) would (APM vol. 2 §15.5.1,
    // SDM vol. 3C §27.2.1.1); a store writes host-physical memory, which ends at MAXPHYADDR.
    if (step.step === 'world-switch' && step.root !== undefined) {
      issues.push(...rootProblems(scenario.vendor, scenario.cpu, step.root, `steps[${i}].root`));
    } else if (step.step === 'store' && step.address + 8n > physLimit) {
      issues.push({
        path: `steps[${i}].address`,
        message: `0x${step.address.toString(16)} lies beyond the ${maxPhys}-bit physical address space (MAXPHYADDR)`,
      });
    }
  });

  // Outside IA-32e mode linear addresses are 32 bits wide (SDM vol. 3A §3.3.6, §4.1.1).
  if (registersValid && mode !== PagingMode.Level4 && mode !== PagingMode.Level5) {
    scenario.accesses.forEach((access, i) => {
      if (access.address >= TWO_32) {
        issues.push({
          path: `accesses[${i}].address`,
          message: `${hex(access.address)} is wider than 32 bits, and linear addresses are 32 bits outside 4- and 5-level paging`,
        });
      }
    });
  }
  return issues;
}

/** The nested root: AMD nCR3 or Intel EPTP, as VMRUN (APM vol. 2 §15.5.1) and VM entry (SDM vol. 3C §27.2.1.1) check it. */
function rootProblems(vendor: Vendor, cpu: CpuConfig, root: bigint, path: string): DocumentIssue[] {
  const issues: DocumentIssue[] = [];
  if (root >= 1n << BigInt(cpu.maxPhysicalAddressBits)) {
    issues.push({
      path,
      message: `${hex(root)} sets bits at or above MAXPHYADDR (${cpu.maxPhysicalAddressBits})`,
    });
  }
  if (vendor === 'intel') {
    // EPTP format, SDM vol. 3C §25.6.11 (Table 25-9): memory type UC (0) or WB (6); walk length 4
    // or 5; A/D enable only when the CPU supports it; bits 11:8 reserved.
    const memoryType = Number(root & 0x7n);
    const walkLength = Number((root >> 3n) & 0x7n) + 1;
    if (memoryType !== 0 && memoryType !== 6) {
      issues.push({
        path,
        message: `EPTP memory type (bits 2:0) is ${memoryType}; expected 0 (UC) or 6 (WB)`,
      });
    }
    if (walkLength !== 4 && walkLength !== 5) {
      issues.push({
        path,
        message: `EPTP page-walk length (bits 5:3, minus one) is ${walkLength}; expected 4 or 5`,
      });
    }
    if ((root & 0x40n) !== 0n && !cpu.eptAccessedDirty) {
      issues.push({
        path,
        message:
          'EPTP bit 6 enables EPT accessed and dirty flags, which cpu.eptAccessedDirty says are not supported',
      });
    }
    if ((root & 0xf00n) !== 0n) issues.push({ path, message: `${hex(root)} sets reserved EPTP bits 11:8` });
  }
  return issues;
}

/** Memory runs must lie below 2^MAXPHYADDR and must not overlap. */
function memoryProblems(runs: readonly MemoryRun[], maxPhys: number): DocumentIssue[] {
  const issues: DocumentIssue[] = [];
  const limit = 1n << BigInt(maxPhys);
  const spans = runs.map((run, index) => ({
    index,
    start: run.address,
    end: run.address + 8n * BigInt(run.qwords.length),
  }));
  for (const span of spans) {
    if (span.end > limit || span.start >= limit) {
      issues.push({
        path: `memory[${span.index}].address`,
        message: `the run from ${hex(span.start)} to ${hex(span.end)} (exclusive) lies beyond the ${maxPhys}-bit physical address space (MAXPHYADDR)`,
      });
    }
  }
  // A sweep in address order: each run is checked against the one reaching furthest before it.
  const sorted = spans
    .filter((span) => span.end > span.start)
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.index - b.index));
  let reach = sorted[0];
  for (const span of sorted.slice(1)) {
    if (span.start < reach.end) {
      const [first, second] = reach.index < span.index ? [reach, span] : [span, reach];
      issues.push({
        path: `memory[${second.index}]`,
        message: `overlaps memory[${first.index}] (${hex(first.start)} to ${hex(first.end)}, exclusive); memory runs must not overlap`,
      });
    }
    if (span.end > reach.end) reach = span;
  }
  return issues;
}

function hex(value: bigint): string {
  return `0x${value.toString(16)}`;
}
