import { DocumentError, type DocumentIssue, formatPath } from '@hvsim/errors';
import { type TlbPresetName, tlbPresets } from '@hvsim/tlb-tagged';
import { SvmExtension } from '@hvsim/vendor-amd';
import { VmxExtension } from '@hvsim/vendor-intel';
import { z } from 'zod';
import { bytesText } from './bytes-text.js';
import { capIssues, readConfigText } from './config-text.js';

/*
 * The machine configuration: a JSON or YAML document (YAML 1.2 reads JSON as it is, so one parser
 * serves both and every error gets a line and column) checked against a zod schema. An error names
 * the source, the line and column of the bad node, and its JSON path:
 * `my.yaml: line 4, column 8: tlb: expected "skylake", "golden-cove", "zen", "zen4", "zen5", "none" or a
 * TLB geometry, got "haswell"`.
 */

/*
 * The bounds of each field: what a real or plausible machine has, each with the reason it is there.
 * A configuration outside them is refused when it is read, before anything is built.
 */
/** Physical CPUs: the largest x86 hosts have under 1,000 logical CPUs (8 sockets of 60 cores, 2 threads each). */
const MAX_CPUS = 1024;
/** CPUs a guest OS runs on (@hvsim/workloads GuestOs: 1 to 32), so vCPUs per VM, and CPUs natively. */
const MAX_GUEST_CPUS = 32;
/** VMs: each one's guest OS and tables are built when a run starts; no host consolidates more at once. */
const MAX_VMS = 1024;
/** Ids per CPU: Intel's VPIDs are 16 bits (0 is the host's); a vendor's own bound is checked too. */
const MAX_IDS = 0xffff;
/** Entries of one TLB or walk-cache structure (see `entryCount`). */
const MAX_ENTRIES = 65_536;
/** Ways of one structure (see `wayCount`). */
const MAX_WAYS = 1024;
/** Levels of a TLB hierarchy: CPUs have 2 or 3; a hit's cost is looked up by level in 16 slots. */
const MAX_TLB_LEVELS = 8;
/** Structures of one level: CPUs have up to 4 (one per page size, or shared). */
const MAX_CACHES_PER_LEVEL = 16;
/** Cycles any one event may cost (see `cycles`). */
const MAX_CYCLES = 1e9;
/** Guest accesses between timer exits: a guest's timer fires at least every second, under 10^9 accesses. */
const MAX_TIMER_INTERVAL = 1e9;
/** Guest memory: the guest kernel keeps the first 1 MiB, and needs room for its tables above it. */
const MIN_GUEST_MEMORY = 2 * 2 ** 20;
/** Guest memory: tens of TiB is the most hypervisors offer; 2^46 keeps it under a 48-bit MAXPHYADDR. */
const MAX_GUEST_MEMORY = 2 ** 46;
/** Host memory the hypervisor hands out (HostMachine's default frames, 4 GiB up to 1 TiB). */
const HOST_FRAME_BYTES = 2 ** 40 - 2 ** 32;

/** A message naming what was expected and what was found, for a missing or mistyped field. */
function expecting(what: string, show: (value: unknown) => string = describe) {
  return {
    error: (issue: {
      readonly input?: unknown;
      readonly code?: string;
      readonly keys?: readonly string[];
    }) => {
      if (issue.code === 'unrecognized_keys') return `unknown field; expected ${what}`;
      return issue.input === undefined
        ? `missing; expected ${what}`
        : `expected ${what}, got ${show(issue.input)}`;
    },
  };
}

/** A value as a message shows it where a name was expected: `"haswell"`, `4`, `a mapping`. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number' && !Number.isFinite(value))
    return Number.isNaN(value) ? '.nan' : value > 0 ? '.inf' : '-.inf';
  const text = JSON.stringify(value);
  if (text === undefined) return typeof value;
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** A value as a message shows it where a mapping, a list or a number was expected: `the string "fast"`. */
function found(value: unknown): string {
  if (typeof value === 'string') return `the string ${describe(value)}`;
  if (typeof value === 'number') return `the number ${describe(value)}`;
  return describe(value);
}

/** A number as a range shows it: `65,536`, `2^46`. */
function figure(n: number): string {
  const log = Math.log2(n);
  return n >= 2 ** 20 && Number.isInteger(log) ? `2^${log}` : n.toLocaleString('en-US');
}

/**
 * A whole number from 1 (0 with `zero`) to `max`. Below the minimum the message stays `expected
 * ${what}`; above it names the bound and `why` that bound is what a plausible machine has.
 */
function bounded(what: string, max: number, why: string, min = 1) {
  const above = (input: unknown) => `expected ${what}, at most ${figure(max)} (${why}), got ${found(input)}`;
  return z
    .int({
      error: (issue) => (issue.code === 'too_big' ? above(issue.input) : expecting(what, found).error(issue)),
    })
    .min(min, { error: `expected ${what}` })
    .max(max, { error: (issue) => above(issue.input) });
}

/** A cycle count: a non-negative number no event costs more than. */
const cycles = z
  .number(expecting('a non-negative cycle count', found))
  .nonnegative({ error: 'expected a non-negative cycle count' })
  // A billion cycles is a third of a second at 3 GHz: no exit, switch or walk step costs that much.
  .max(MAX_CYCLES, {
    error: (issue) =>
      `expected a non-negative cycle count, at most ${figure(MAX_CYCLES)} (a third of a second at 3 GHz, more than any hardware event costs), got ${found(issue.input)}`,
  });

/** A name a report or a path shows. */
const label = (what: string, max = 100) =>
  z.string(expecting(what, found)).max(max, { error: `expected ${what} of at most ${max} characters` });

/** The TLB presets a configuration may name: @hvsim/tlb-tagged's, so a new preset needs no edit here. */
const TLB_PRESET_NAMES = Object.keys(tlbPresets) as [TlbPresetName, ...TlbPresetName[]];
const tlbPresetList = TLB_PRESET_NAMES.map((n) => `"${n}"`).join(', ');

const SIZE_UNITS: Readonly<Record<string, number>> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** A byte count: a number, or text such as `256MiB`, `4 KiB`, `2M`, `1G`. */
const byteSize = (what: string) =>
  z.union([z.number(), z.string()], expecting(what, found)).transform((value, ctx) => {
    const bytes =
      typeof value === 'number'
        ? value
        : (() => {
            const match = /^\s*(\d{1,20})\s*([KMGT]?)(i?B)?\s*$/i.exec(value);
            if (match === null) return Number.NaN;
            return Number(match[1]) * (match[2] === '' ? 1 : (SIZE_UNITS[match[2].toUpperCase()] as number));
          })();
    if (!Number.isSafeInteger(bytes) || bytes <= 0) {
      ctx.issues.push({ code: 'custom', input: value, message: `expected ${what}, got ${found(value)}` });
      return z.NEVER;
    }
    return bytes;
  });

/** A page size of the guest-physical backing: 4K, 2M or 1G. */
const backingSize = z
  .enum(['4K', '2M', '1G'], expecting('a nested page size: "4K", "2M" or "1G"'))
  .default('4K');

const pageSizeName = z.enum(['4K', '2M', '4M', '1G'], expecting('a page size: "4K", "2M", "4M" or "1G"'));
const policyName = z.enum(
  ['lru', 'tree-plru', 'fifo', 'random'],
  expecting('"lru", "tree-plru", "fifo" or "random"'),
);

/**
 * Entries of one set-associative structure. The largest TLBs built hold a few thousand (Zen 5's L2
 * DTLB: 4,096); 65,536 leaves room for research designs, and each entry costs about 130 bytes of
 * typed arrays per CPU.
 */
const entryCount = bounded(
  'a positive number of entries',
  MAX_ENTRIES,
  'the largest TLBs built hold a few thousand entries',
);
/** Ways: a lookup compares every way of a set, and the widest structures built have under 100. */
const wayCount = bounded(
  'a positive number of ways',
  MAX_WAYS,
  'a lookup compares every way of its set; the widest TLBs built have under 100',
);

/** `ways` must divide `entries`: a structure is `entries / ways` sets of `ways` entries each. */
function checkSets(value: { entries: number; ways: number }, ctx: z.RefinementCtx): void {
  if (value.ways > value.entries || value.entries % value.ways !== 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['ways'],
      input: value.ways,
      message: `${value.ways} ways do not divide ${value.entries} entries: a structure is entries / ways sets of ways entries each`,
    });
  }
}

/** One set-associative structure of a TLB level. */
const tlbCacheSchema = z
  .strictObject(
    {
      name: label('a name'),
      entries: entryCount,
      ways: wayCount,
      pageSizes: z
        .array(pageSizeName, expecting('a list of page sizes', found))
        .min(1, { error: 'expected a list of at least one page size' })
        .max(4, { error: 'expected a list of page sizes, each at most once: "4K", "2M", "4M", "1G"' }),
      policy: policyName.optional(),
    },
    expecting('a TLB structure: name, entries, ways, pageSizes', found),
  )
  .superRefine(checkSets);

/** A TLB hierarchy written out: levels of structures, and the instruction and data paths through them. */
export const tlbGeometrySchema = z
  .strictObject(
    {
      name: label('a name'),
      levels: z
        .array(
          z.strictObject(
            {
              name: label('a level name'),
              caches: z
                .array(tlbCacheSchema, expecting('a list of TLB structures', found))
                .min(1, { error: 'expected a list of at least one TLB structure' })
                .max(MAX_CACHES_PER_LEVEL, {
                  error: `expected at most ${MAX_CACHES_PER_LEVEL} structures in a level (CPUs have up to 4: one per page size and a shared one)`,
                }),
            },
            expecting('a TLB level: name, caches', found),
          ),
          expecting('a list of levels', found),
        )
        .max(MAX_TLB_LEVELS, {
          error: `expected at most ${MAX_TLB_LEVELS} levels (CPUs have 2 or 3; a hit's cost is costs.tlbHit[level])`,
        }),
      instructionPath: z.array(label('a level name'), expecting('a list of level names', found)),
      dataPath: z.array(label('a level name'), expecting('a list of level names', found)),
      inclusion: z
        .enum(['inclusive', 'non-inclusive'], expecting('"inclusive" or "non-inclusive"'))
        .optional(),
      fillPolicy: z.enum(['all', 'first', 'last'], expecting('"all", "first" or "last"')).optional(),
    },
    expecting('a TLB geometry: name, levels, instructionPath, dataPath', found),
  )
  .superRefine((tlb, ctx) => {
    // The rules TlbHierarchy enforces when it is built (@hvsim/tlb-tagged), checked here with a place.
    const names = new Set<string>();
    tlb.levels.forEach((level, i) => {
      if (names.has(level.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['levels', i, 'name'],
          message: `a second level named "${level.name}"; paths name levels, so each name is used once`,
        });
      }
      names.add(level.name);
    });
    for (const pathName of ['instructionPath', 'dataPath'] as const) {
      const seen = new Set<string>();
      tlb[pathName].forEach((name, i) => {
        if (!names.has(name)) {
          ctx.addIssue({
            code: 'custom',
            path: [pathName, i],
            message: `no level named "${name}"; the levels are ${[...names].map((n) => `"${n}"`).join(', ') || 'none'}`,
          });
        } else if (seen.has(name)) {
          ctx.addIssue({
            code: 'custom',
            path: [pathName, i],
            message: `level "${name}" is already on this path; a lookup goes through each level once`,
          });
        }
        seen.add(name);
      });
    }
    if (tlb.inclusion === 'inclusive' && tlb.fillPolicy !== undefined && tlb.fillPolicy !== 'all') {
      ctx.addIssue({
        code: 'custom',
        path: ['fillPolicy'],
        message: `an inclusive hierarchy fills every level (an entry in an inner level is in the outer ones), not "${tlb.fillPolicy}"`,
      });
    }
  });

const walkEntryName = z.enum(
  ['PDE', 'PDPTE', 'PML4E', 'PML5E'],
  expecting('"PDE", "PDPTE", "PML4E" or "PML5E"'),
);

/** A paging-structure cache written out. */
export const walkCacheGeometrySchema = z
  .strictObject(
    {
      levels: z
        .array(
          z
            .strictObject(
              { kind: walkEntryName, entries: entryCount, ways: wayCount },
              expecting('a walk-cache level: kind, entries, ways', found),
            )
            .superRefine(checkSets),
          expecting('a list of walk-cache levels', found),
        )
        .max(4, { error: 'expected at most 4 walk-cache levels, one of each kind' }),
    },
    expecting('a walk cache: "default", "none" or { levels: [...] }', found),
  )
  .superRefine((walk, ctx) => {
    // A paging-structure cache has one level per kind (@hvsim/tlb-tagged PagingStructureCache).
    const kinds = new Set<string>();
    walk.levels.forEach((level, i) => {
      if (kinds.has(level.kind)) {
        ctx.addIssue({
          code: 'custom',
          path: ['levels', i, 'kind'],
          message: `a second ${level.kind} level; a walk cache has one level of each kind`,
        });
      }
      kinds.add(level.kind);
    });
  });

const costsSchema = z.strictObject(
  {
    tlbHit: z
      .array(cycles, expecting('a list of cycle counts, one per TLB level', found))
      .max(16, { error: 'expected at most 16 cycle counts, one per TLB level' })
      .optional(),
    walkReference: cycles.optional(),
    worldSwitch: cycles.optional(),
    exitHandling: cycles.optional(),
    pagePopulate: cycles.optional(),
    ipi: cycles.optional(),
    shadowFill: cycles.optional(),
    emulation: cycles.optional(),
  },
  expecting(
    'a mapping of cycle costs: tlbHit, walkReference, worldSwitch, exitHandling, pagePopulate, ipi, shadowFill, emulation',
    found,
  ),
);

/** The configuration schema: what a file may say, with the defaults of what it leaves out. */
export const configSchema = z
  .strictObject(
    {
      /** The name reports use (default: the file's name without extension). */
      name: label('a name', 200).optional(),
      /** One line on what the configuration is. */
      description: label('a one-line description', 1000).default(''),
      /** How guest-linear addresses are translated. */
      mmu: z.enum(['native', 'nested', 'shadow'], expecting('"native", "nested" or "shadow"')),
      /** The virtualization extension (nested and shadow). */
      vendor: z.enum(['amd', 'intel'], expecting('"amd" or "intel"')).optional(),
      /** ASID/VPID-tagged TLBs (default true); without, every world switch flushes. */
      tagging: z.boolean(expecting('true or false')).default(true),
      /** Ids each CPU hands out before it rolls over (default: all the vendor has). */
      idPoolSize: bounded(
        'a positive number of ids',
        MAX_IDS,
        'Intel VPIDs are 16 bits, AMD ASIDs fewer',
      ).optional(),
      /** Physical CPUs. */
      cpus: bounded(
        'a positive number of CPUs',
        MAX_CPUS,
        'the largest x86 hosts have under 1,000 logical CPUs',
      ).default(1),
      /** A TLB preset (`skylake`, `golden-cove`, `zen`, `zen4`, `zen5`, `none`) or a geometry. */
      tlb: z
        .union([z.enum(TLB_PRESET_NAMES), tlbGeometrySchema], {
          error: (issue) => `expected ${tlbPresetList} or a TLB geometry, got ${describe(issue.input)}`,
        })
        .default('skylake'),
      /** The guest walk's paging-structure cache: `default`, `none` or a geometry. */
      walkCache: z
        .union([z.enum(['default', 'none']), walkCacheGeometrySchema], {
          error: (issue) =>
            `expected "default", "none" or a walk-cache geometry, got ${describe(issue.input)}`,
        })
        .default('default'),
      /** A nested TLB (guest-physical to host-physical) for nested paging, or none. */
      nestedTlb: z
        .union(
          [
            z.literal('none'),
            z
              .strictObject(
                { entries: entryCount, ways: wayCount },
                expecting('a nested TLB: { entries, ways }', found),
              )
              .superRefine(checkSets),
          ],
          { error: (issue) => `expected "none" or { entries, ways }, got ${describe(issue.input)}` },
        )
        .default('none'),
      /** Overrides of the hypervisor's cost model (cycles). */
      costs: costsSchema.default({}),
      /** VMs (virtualized configurations); each runs the workload with its own guest OS. */
      vms: bounded(
        'a positive number of VMs',
        MAX_VMS,
        "each VM's guest OS and tables are built when a run starts",
      ).default(1),
      /** vCPUs per VM: the guest OS's CPUs. */
      vcpus: bounded(
        'a positive number of vCPUs',
        MAX_GUEST_CPUS,
        'the guest OS of @hvsim/workloads runs on 1 to 32 CPUs',
      ).default(1),
      /** The nested stage's page size: what backs guest-physical memory. */
      backing: backingSize,
      /** Back guest memory when first touched (default) or all of it up front. */
      fill: z.enum(['on-demand', 'up-front'], expecting('"on-demand" or "up-front"')).default('on-demand'),
      /** The guest operating system. */
      guest: z
        .strictObject(
          {
            /** Guest-physical memory of each VM (or of the machine natively). */
            memory: byteSize('a size such as "256MiB"').default(256 * 2 ** 20),
            /** The guest's paging mode. */
            pagingMode: z
              .enum(
                ['level4', 'level5', 'pae', 'legacy32'],
                expecting('"level4", "level5", "pae" or "legacy32"'),
              )
              .default('level4'),
            /** The guest stage's page size: transparent 2 MiB pages (true) or 4 KiB only. */
            hugePages: z.boolean(expecting('true or false')).default(false),
            /** PCIDs and the CR3 no-flush bit (4- and 5-level paging only; default: on there, off otherwise). */
            pcid: z.boolean(expecting('true or false')).optional(),
          },
          expecting('a mapping: memory, pagingMode, hugePages, pcid', found),
        )
        .default({ memory: 256 * 2 ** 20, pagingMode: 'level4', hugePages: false }),
      /** Timer interrupts: guest accesses between external-interrupt exits of a vCPU (0: none). */
      timer: z
        .strictObject(
          {
            interval: bounded(
              'a number of guest accesses between timer exits (0: no timer)',
              MAX_TIMER_INTERVAL,
              'a guest timer fires at least every second, under a billion accesses',
              0,
            ),
          },
          expecting('a mapping with `interval` (guest accesses between timer exits, 0: none)', found),
        )
        .default({ interval: 10_000 }),
    },
    expecting('a mapping (a machine configuration)', found),
  )
  .superRefine((config, ctx) => {
    const virtual = config.mmu !== 'native';
    if (virtual && config.vendor === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['vendor'],
        message: `missing; ${config.mmu} paging needs "amd" or "intel"`,
      });
    }
    const memory = config.guest.memory;
    const backingBytes = BACKING_BYTES[config.backing];
    const memoryIssue = (message: string) =>
      ctx.addIssue({ code: 'custom', path: ['guest', 'memory'], message });
    if (virtual && memory % backingBytes !== 0) {
      memoryIssue(`${memory} bytes is not a multiple of the ${config.backing} backing page`);
    } else if (memory % 0x1000 !== 0) {
      memoryIssue(`${memory} bytes is not a multiple of 4 KiB: guest memory is made of 4 KiB frames`);
    } else if (memory < MIN_GUEST_MEMORY) {
      memoryIssue(
        `${memory} bytes is less than the 2 MiB a guest needs: its kernel keeps the first 1 MiB (firmware and its image) and builds its tables above it`,
      );
    } else if (memory > MAX_GUEST_MEMORY) {
      memoryIssue(
        `${memory} bytes is more than 2^46 (64 TiB): hypervisors offer guests tens of TiB at most, and 2^46 keeps every guest-physical address under the 48-bit MAXPHYADDR hvsim's machines have`,
      );
    } else if (!LONG_MODES.has(config.guest.pagingMode) && memory > 2 ** 32) {
      memoryIssue(
        `${memory} bytes is more than 4 GiB, which a ${config.guest.pagingMode} guest kernel does not use (CR3 and its page-table entries hold 32-bit addresses here, SDM vol. 3A §4.3, §4.4)`,
      );
    } else if (virtual && config.vms <= MAX_VMS && config.vms * memory > HOST_FRAME_BYTES) {
      memoryIssue(
        `${config.vms} VMs of ${bytesText(memory)} need ${bytesText(config.vms * memory)} of host memory, more than the ${bytesText(HOST_FRAME_BYTES)} (1 TiB less 4 GiB) the host hands out to guests and their tables`,
      );
    }
    if (config.guest.pcid === true && !LONG_MODES.has(config.guest.pagingMode)) {
      ctx.addIssue({
        code: 'custom',
        path: ['guest', 'pcid'],
        message: `PCIDs exist only in 4- and 5-level paging (Intel SDM vol. 3A §4.10.1), not with pagingMode ${config.guest.pagingMode}: set pcid to false`,
      });
    }
    if (!virtual && config.cpus > MAX_GUEST_CPUS) {
      ctx.addIssue({
        code: 'custom',
        path: ['cpus'],
        message: `expected at most ${MAX_GUEST_CPUS} CPUs natively, where the guest OS runs on the machine's CPUs (it runs on 1 to 32), got ${config.cpus}`,
      });
    }
    if (virtual && config.idPoolSize !== undefined && config.vendor !== undefined) {
      const ids = idsPerCpu(config.vendor);
      if (config.idPoolSize > ids) {
        ctx.addIssue({
          code: 'custom',
          path: ['idPoolSize'],
          message: `expected at most ${ids} ids, all ${config.vendor === 'amd' ? "the ASIDs SVM has besides the host's ASID 0 (APM vol. 2 §15.5.1)" : "the 16-bit VPIDs VMX has besides the host's VPID 0 (SDM vol. 3C §29.1)"}, got ${config.idPoolSize}`,
        });
      }
    }
  })
  // PCIDs default to on where they exist.
  .transform((config) => ({
    ...config,
    guest: { ...config.guest, pcid: config.guest.pcid ?? LONG_MODES.has(config.guest.pagingMode) },
  }));

/** Ids per CPU each vendor's extension offers (its `idsPerCpu`), so the bound is the one a run meets. */
function idsPerCpu(vendor: 'amd' | 'intel'): number {
  return vendor === 'amd' ? new SvmExtension().idsPerCpu : new VmxExtension().idsPerCpu;
}

/** The guest paging modes with PCIDs (CR4.PCIDE needs IA-32e mode, SDM vol. 3A §4.10.1). */
const LONG_MODES: ReadonlySet<string> = new Set(['level4', 'level5']);

/** Bytes of each backing page size. */
export const BACKING_BYTES = { '4K': 0x1000, '2M': 0x20_0000, '1G': 0x4000_0000 } as const;

/** A configuration as written (defaults not yet applied). */
export type SimConfigInput = z.input<typeof configSchema>;
/** A checked configuration with every default filled in, and its name. */
export type SimConfig = z.output<typeof configSchema> & { readonly name: string };

/**
 * Reads a configuration from JSON or YAML text. `source` names it in errors and gives the default
 * name (its base name without extension). Whatever the text, it returns a configuration or throws a
 * `DocumentError` whose every issue has the line and column of its node (and its JSON path): YAML
 * errors of every kind, a text too large or nested too deep, and fields outside what a machine has.
 */
export function parseConfig(text: string, source = 'config'): SimConfig {
  const { value, locate } = readConfigText(text, source);
  return checkConfig(value, source, locate);
}

/** Checks a configuration object (already parsed); `locate` maps a path to a line and column. */
export function checkConfig(
  value: unknown,
  source = 'config',
  locate: (
    path: readonly PropertyKey[],
    atKey: boolean,
  ) => { line: number; column: number } | undefined = () => undefined,
): SimConfig {
  const result = configSchema.safeParse(value ?? {}, { error: fallbackMessage });
  if (!result.success) {
    const seen = new Set<string>();
    const issues: DocumentIssue[] = [];
    for (const issue of flatten(result.error.issues, [])) {
      // One message a field: the first, which says the most (a type, before the bounds of a number).
      const key = `${issue.atKey === true}:${formatPath(issue.path)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const where = locate(issue.path, issue.atKey === true);
      issues.push({ path: formatPath(issue.path), message: issue.message, ...where });
    }
    throw new DocumentError(capIssues(issues), source);
  }
  return { ...result.data, name: result.data.name ?? defaultName(source) };
}

/**
 * The message of an issue no field's own message covers (every field has one; this is the net under
 * them), so that no library sentence reaches a user.
 */
function fallbackMessage(issue: { readonly code?: string; readonly input?: unknown }): string {
  if (issue.code === 'unrecognized_keys') return 'unknown field';
  if (issue.input === undefined) return 'missing';
  return `not a value this field takes: ${found(issue.input)}`;
}

interface PlainIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  /** The issue is the key itself (an unknown field), not its value. */
  readonly atKey?: boolean;
}

/**
 * Zod's issues made specific: an unknown key is reported at the key itself, and a value that is
 * a name or a mapping (`tlb`, `walkCache`) and is a mapping that fails is reported by the mapping's
 * own issues, not as "neither".
 */
function flatten(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]): PlainIssue[] {
  return issues.flatMap((issue): PlainIssue[] => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...path, key], message: issue.message, atKey: true }));
    }
    if (issue.code === 'invalid_union') {
      const specific = issue.errors.find(
        (option) =>
          !option.some(
            (o) => o.path.length === 0 && (o.code === 'invalid_type' || o.code === 'invalid_value'),
          ),
      );
      if (specific !== undefined) return flatten(specific, path);
    }
    return [{ path, message: issue.message }];
  });
}

function defaultName(source: string): string {
  const base = source.split(/[\\/]/).pop() ?? source;
  return base.replace(/\.(ya?ml|json)$/i, '');
}
