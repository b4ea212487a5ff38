import { DocumentError, type DocumentIssue, formatPath } from '@hvsim/errors';
import { type TlbPresetName, tlbPresets } from '@hvsim/tlb-tagged';
import { isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import { z } from 'zod';

/*
 * The machine configuration: a JSON or YAML document (YAML 1.2 reads JSON as it is, so one parser
 * serves both and every error gets a line and column) checked against a zod schema. An error names
 * the source, the line and column of the bad node, and its JSON path:
 * `my.yaml: line 4, column 8: tlb: expected "skylake", "golden-cove", "zen", "zen4", "zen5", "none" or a
 * TLB geometry, got "haswell"`.
 */

/** A message naming what was expected and what was found, for a missing or mistyped field. */
function expecting(what: string) {
  return {
    error: (issue: {
      readonly input?: unknown;
      readonly code?: string;
      readonly keys?: readonly string[];
    }) => {
      if (issue.code === 'unrecognized_keys') return `unknown field; expected ${what}`;
      return issue.input === undefined
        ? `missing; expected ${what}`
        : `expected ${what}, got ${describe(issue.input)}`;
    },
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** The TLB presets a configuration may name: @hvsim/tlb-tagged's, so a new preset needs no edit here. */
const TLB_PRESET_NAMES = Object.keys(tlbPresets) as [TlbPresetName, ...TlbPresetName[]];
const tlbPresetList = TLB_PRESET_NAMES.map((n) => `"${n}"`).join(', ');

const positiveInt = (what: string) => z.int(expecting(what)).min(1, { error: `expected ${what}` });
const nonNegative = (what: string) => z.number(expecting(what)).nonnegative({ error: `expected ${what}` });

const SIZE_UNITS: Readonly<Record<string, number>> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** A byte count: a number, or text such as `256MiB`, `4 KiB`, `2M`, `1G`. */
const byteSize = (what: string) =>
  z.union([z.int(), z.string()], expecting(what)).transform((value, ctx) => {
    if (typeof value === 'number') return value;
    const match = /^\s*(\d+)\s*([KMGT]?)(i?B)?\s*$/i.exec(value);
    if (match === null) {
      ctx.issues.push({ code: 'custom', input: value, message: `expected ${what}, got ${describe(value)}` });
      return z.NEVER;
    }
    return Number(match[1]) * (match[2] === '' ? 1 : (SIZE_UNITS[match[2].toUpperCase()] as number));
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

/** One set-associative structure of a TLB level. */
const tlbCacheSchema = z.strictObject(
  {
    name: z.string(expecting('a name')),
    entries: positiveInt('a positive number of entries'),
    ways: positiveInt('a positive number of ways'),
    pageSizes: z.array(pageSizeName, expecting('a list of page sizes')).min(1),
    policy: policyName.optional(),
  },
  expecting('a TLB structure: name, entries, ways, pageSizes'),
);

/** A TLB hierarchy written out: levels of structures, and the instruction and data paths through them. */
export const tlbGeometrySchema = z.strictObject(
  {
    name: z.string(expecting('a name')),
    levels: z.array(
      z.strictObject({
        name: z.string(expecting('a name')),
        caches: z.array(tlbCacheSchema, expecting('a list of TLB structures')).min(1),
      }),
      expecting('a list of levels'),
    ),
    instructionPath: z.array(z.string(), expecting('a list of level names')),
    dataPath: z.array(z.string(), expecting('a list of level names')),
    inclusion: z.enum(['inclusive', 'non-inclusive']).optional(),
    fillPolicy: z.enum(['all', 'first', 'last']).optional(),
  },
  expecting('a TLB geometry: name, levels, instructionPath, dataPath'),
);

const walkEntryName = z.enum(
  ['PDE', 'PDPTE', 'PML4E', 'PML5E'],
  expecting('"PDE", "PDPTE", "PML4E" or "PML5E"'),
);

/** A paging-structure cache written out. */
export const walkCacheGeometrySchema = z.strictObject(
  {
    levels: z.array(
      z.strictObject({
        kind: walkEntryName,
        entries: positiveInt('a positive number of entries'),
        ways: positiveInt('a positive number of ways'),
      }),
      expecting('a list of walk-cache levels'),
    ),
  },
  expecting('a walk cache: "default", "none" or { levels: [...] }'),
);

const costsSchema = z.strictObject(
  {
    tlbHit: z.array(nonNegative('a non-negative cycle count')).optional(),
    walkReference: nonNegative('a non-negative cycle count').optional(),
    worldSwitch: nonNegative('a non-negative cycle count').optional(),
    exitHandling: nonNegative('a non-negative cycle count').optional(),
    pagePopulate: nonNegative('a non-negative cycle count').optional(),
    ipi: nonNegative('a non-negative cycle count').optional(),
    shadowFill: nonNegative('a non-negative cycle count').optional(),
    emulation: nonNegative('a non-negative cycle count').optional(),
  },
  expecting('a mapping of cycle costs'),
);

/** The configuration schema: what a file may say, with the defaults of what it leaves out. */
export const configSchema = z
  .strictObject(
    {
      /** The name reports use (default: the file's name without extension). */
      name: z.string(expecting('a name')).optional(),
      /** One line on what the configuration is. */
      description: z.string(expecting('a one-line description')).default(''),
      /** How guest-linear addresses are translated. */
      mmu: z.enum(['native', 'nested', 'shadow'], expecting('"native", "nested" or "shadow"')),
      /** The virtualization extension (nested and shadow). */
      vendor: z.enum(['amd', 'intel'], expecting('"amd" or "intel"')).optional(),
      /** ASID/VPID-tagged TLBs (default true); without, every world switch flushes. */
      tagging: z.boolean(expecting('true or false')).default(true),
      /** Ids each CPU hands out before it rolls over (default: all the vendor has). */
      idPoolSize: positiveInt('a positive number of ids').optional(),
      /** Physical CPUs. */
      cpus: positiveInt('a positive number of CPUs').default(1),
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
            z.strictObject({
              entries: positiveInt('a positive number of entries'),
              ways: positiveInt('a positive number of ways'),
            }),
          ],
          { error: (issue) => `expected "none" or { entries, ways }, got ${describe(issue.input)}` },
        )
        .default('none'),
      /** Overrides of the hypervisor's cost model (cycles). */
      costs: costsSchema.default({}),
      /** VMs (virtualized configurations); each runs the workload with its own guest OS. */
      vms: positiveInt('a positive number of VMs').default(1),
      /** vCPUs per VM: the guest OS's CPUs. */
      vcpus: positiveInt('a positive number of vCPUs').default(1),
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
          expecting('a mapping: memory, pagingMode, hugePages, pcid'),
        )
        .default({ memory: 256 * 2 ** 20, pagingMode: 'level4', hugePages: false }),
      /** Timer interrupts: guest accesses between external-interrupt exits of a vCPU (0: none). */
      timer: z
        .strictObject({ interval: z.int(expecting('a number of accesses')).nonnegative() })
        .default({ interval: 10_000 }),
    },
    expecting('a mapping (a machine configuration)'),
  )
  .superRefine((config, ctx) => {
    if (config.mmu !== 'native' && config.vendor === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['vendor'],
        message: `missing; ${config.mmu} paging needs "amd" or "intel"`,
      });
    }
    const backingBytes = BACKING_BYTES[config.backing];
    if (config.mmu !== 'native' && config.guest.memory % backingBytes !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['guest', 'memory'],
        message: `${config.guest.memory} bytes is not a multiple of the ${config.backing} backing page`,
      });
    }
    if (config.guest.pcid === true && !LONG_MODES.has(config.guest.pagingMode)) {
      ctx.addIssue({
        code: 'custom',
        path: ['guest', 'pcid'],
        message: `PCIDs exist only in 4- and 5-level paging (Intel SDM vol. 3A §4.10.1), not with pagingMode ${config.guest.pagingMode}: set pcid to false`,
      });
    }
  })
  // PCIDs default to on where they exist.
  .transform((config) => ({
    ...config,
    guest: { ...config.guest, pcid: config.guest.pcid ?? LONG_MODES.has(config.guest.pagingMode) },
  }));

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
 * name (its base name without extension). Throws a `DocumentError` whose issues carry the JSON path
 * and, where the node is in the text, its line and column.
 */
export function parseConfig(text: string, source = 'config'): SimConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues: DocumentIssue[] = doc.errors.map((error) => {
      const pos = lines.linePos(error.pos[0]);
      return { path: '', line: pos.line, column: pos.col, message: firstLine(error.message) };
    });
    throw new DocumentError(issues, source);
  }
  return checkConfig(doc.toJS(), source, (path, atKey) => {
    const node = atKey ? keyAt(doc, path) : nodeAt(doc, path);
    if (node?.range == null) return undefined;
    const pos = lines.linePos(node.range[0]);
    return { line: pos.line, column: pos.col };
  });
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
  const result = configSchema.safeParse(value ?? {});
  if (!result.success) {
    const issues = flatten(result.error.issues, []).map((issue): DocumentIssue => {
      const where = locate(issue.path, issue.atKey === true);
      return { path: formatPath(issue.path), message: issue.message, ...where };
    });
    throw new DocumentError(issues, source);
  }
  return { ...result.data, name: result.data.name ?? defaultName(source) };
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

function firstLine(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

/** The key node of the last step of `path` (for an unknown field), else the node of its value. */
function keyAt(doc: ReturnType<typeof parseDocument>, path: readonly PropertyKey[]): Node | undefined {
  const parent = path.length <= 1 ? doc.contents : doc.getIn(path.slice(0, -1) as unknown[], true);
  if (isMap(parent)) {
    const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === path[path.length - 1]);
    if (pair !== undefined && isScalar(pair.key)) return pair.key;
  }
  return nodeAt(doc, path);
}

/** The deepest node of `path` that exists in the document (a missing key points at its mapping). */
function nodeAt(doc: ReturnType<typeof parseDocument>, path: readonly PropertyKey[]): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
    if (node !== undefined && node !== null && typeof node === 'object' && 'range' in node)
      return node as Node;
  }
  return undefined;
}
