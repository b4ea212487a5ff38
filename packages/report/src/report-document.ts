import { InputError } from '@hvsim/errors';
import { z } from 'zod';

/** The format tag of a report document; a reader rejects any other. */
export const REPORT_FORMAT = 'hvsim.report/1';

const count = z.number().int().nonnegative();
const ratio = z.number().nonnegative();

/** Hits at one level of a TLB hierarchy, on the data and instruction paths together. */
const tlbLevelSchema = z.object({
  /** The level's name ("L1 DTLB", "STLB"…). */
  name: z.string(),
  hits: count,
  /** Hits over the run's accesses, the count the overall rate divides by (so the levels' rates add up to it). */
  hitRate: ratio,
});

/**
 * The cost model a run was charged by (`CostModel` of @hvsim/platform, each value in cycles), with
 * the TLB-hit costs given by level: `tlbHit[i]` is what a hit in `tlbLevels[i]` cost.
 */
const costsSchema = z.object({
  /** Cycles of a hit in each TLB level, indexed like the run's `tlbLevels`. */
  tlbHit: z.array(ratio),
  /** Cycles per memory reference of a page walk. */
  walkReference: ratio,
  /** Cycles of a world-switch round trip, charged half on entry and half on exit. */
  worldSwitch: ratio,
  /** Cycles of the hypervisor's handling of an exit (not charged on external-interrupt or IPI-kick exits). */
  exitHandling: ratio,
  /** Cycles to back a guest page on a nested fault. */
  pagePopulate: ratio,
  /** Cycles of an inter-processor interrupt. */
  ipi: ratio,
  /** Cycles of a shadow-entry fill. */
  shadowFill: ratio,
  /** Cycles of an emulated access or guest page-table write. */
  emulation: ratio,
});

/**
 * A run's `cycles` by component; the parts add up to `cycles`. Each is a count of the run times a
 * cost in `costs`, as the cost model charged it.
 */
const cyclesBySchema = z.object({
  /** TLB hits by level name, in `tlbLevels`' order: that level's `hits` times `costs.tlbHit` of it. */
  tlbHits: z.record(z.string(), ratio),
  /** `walkReferences` times `costs.walkReference`. */
  walkReferences: ratio,
  /** `(worldSwitches + exits)` times `costs.worldSwitch / 2`: half a round trip on each entry and on each exit. */
  worldSwitches: ratio,
  /** By exit kind, sorted: the exits of each kind the hypervisor handled times `costs.exitHandling`. */
  exitHandling: z.record(z.string(), ratio),
  /** `pagesPopulatedOnFault` times `costs.pagePopulate`. */
  pagePopulation: ratio,
  /** `ipis` times `costs.ipi`. */
  ipis: ratio,
  /** `shadowFills` times `costs.shadowFill`. */
  shadowFills: ratio,
  /** `emulations` times `costs.emulation`. */
  emulation: ratio,
});

/** The components of `cyclesBy` in order, with the TLB-hit and exit-handling parts summed. */
export const CYCLE_COMPONENTS = [
  'tlbHits',
  'walkReferences',
  'worldSwitches',
  'exitHandling',
  'pagePopulation',
  'ipis',
  'shadowFills',
  'emulation',
] as const;

/** A component of `cyclesBy`. */
export type CycleComponent = (typeof CYCLE_COMPONENTS)[number];

/** The cycles of one component of `cyclesBy` (a by-level or by-kind part summed, in its order). */
export function componentCycles(cyclesBy: CyclesBy, component: CycleComponent): number {
  const part = cyclesBy[component];
  if (typeof part === 'number') return part;
  let sum = 0;
  for (const value of Object.values(part)) sum += value;
  return sum;
}

/** The sum of `cyclesBy`, in `CYCLE_COMPONENTS` order: what a run's `cycles` is. */
export function sumCyclesBy(cyclesBy: CyclesBy): number {
  let sum = 0;
  for (const c of CYCLE_COMPONENTS) sum += componentCycles(cyclesBy, c);
  return sum;
}

/** One configuration's run of a workload: what happened, counted, and what it costs by the cost model. */
const runFields = z.object({
  /** The configuration's name (a preset name or a file's). */
  config: z.string(),
  /** One line on what the configuration is. */
  description: z.string(),
  /** How guest-linear addresses are translated: bare metal, nested paging or shadow paging. */
  mmu: z.enum(['native', 'nested', 'shadow']),
  /** `amd`, `intel`, or `none` natively. */
  vendor: z.enum(['amd', 'intel', 'none']),
  /** Whether translations are tagged by ASID/VPID (so a world switch need not flush). */
  tagged: z.boolean(),
  /** The page size that backs guest-physical memory in the nested stage (`4K`, `2M`, `1G`; `-` natively). */
  backing: z.string(),
  /** The TLB hierarchy's name. */
  tlb: z.string(),
  /**
   * Translations the platform made: each access of the workload, and each again when the guest
   * kernel retried it after handling its #PF (the faulting instruction runs again). The count the
   * TLB and walk figures are over.
   */
  accesses: count,
  /**
   * The accesses the workload (or trace) made, each counted once: the same in every configuration of
   * one workload, so `cyclesPerAccess` compares configurations over one count.
   */
  workloadAccesses: count,
  /** Accesses served by the TLB. */
  tlbHits: count,
  /** `tlbHits / accesses`. */
  tlbHitRate: ratio,
  /** Hits by level, in the hierarchy's order. */
  tlbLevels: z.array(tlbLevelSchema),
  /** Translations that walked. */
  walks: count,
  /** Memory references those walks made (both stages). */
  walkReferences: count,
  /** `walkReferences / walks` (0 without walks). */
  referencesPerWalk: ratio,
  /** Walks that started below the root thanks to a paging-structure cache. */
  walkCacheHits: count,
  /** VM exits, in all. */
  exits: count,
  /** VM exits by kind, sorted by kind. */
  exitsByKind: z.record(z.string(), count),
  /** World switches into a guest (VMRUN / VM entry). */
  worldSwitches: count,
  /** World switches on which the hypervisor asked for a flush (no tags, id rollover, a pending invalidation). */
  entryFlushes: count,
  /**
   * Context-wide flushes the TLBs received, whoever asked: the hypervisor's, and those the hardware
   * does itself (Intel without VPIDs flushes on every VM entry and exit, SDM vol. 3C §29.4.3.1).
   * Single-address and single-PCID invalidations are not counted.
   */
  tlbFlushes: count,
  /** Guest page faults the guest handled itself. */
  guestPageFaults: count,
  /** Guest pages the hypervisor backed on a nested fault (not those filled up front). */
  pagesPopulatedOnFault: count,
  /** Inter-processor interrupts: TLB shootdowns' and kicks of a running vCPU. */
  ipis: count,
  /** Shadow paging: shadow entries filled on hidden page faults. */
  shadowFills: count,
  /** Shadow paging: trapped accesses and guest page-table writes the hypervisor emulated. */
  emulations: count,
  /** The cost model the run was charged by. */
  costs: costsSchema,
  /** `cycles` by component; the parts add up to it. */
  cyclesBy: cyclesBySchema,
  /** Estimated cycles by the cost model: the sum of `cyclesBy`. */
  cycles: ratio,
  /** `cycles / workloadAccesses` (0 without accesses). */
  cyclesPerAccess: ratio,
  /** `cyclesPerAccess` over the native run's in the same report, or null when there is none. */
  overheadVsNative: ratio.nullable(),
  /** The guest operating system's own counters (page faults, context switches…), sorted by name. */
  guest: z.record(z.string(), z.number()),
});

/**
 * A run whose breakdown holds together: `costs.tlbHit` and `cyclesBy.tlbHits` name the levels of
 * `tlbLevels`, and `cyclesBy` adds up to `cycles` (to a relative 1e-9, the rounding of fractional
 * costs; with whole-number costs the sum is exact).
 */
const runSchema = runFields.superRefine((run, ctx) => {
  if (run.costs.tlbHit.length !== run.tlbLevels.length) {
    ctx.addIssue({
      code: 'custom',
      path: ['costs', 'tlbHit'],
      message: `has ${run.costs.tlbHit.length} costs for ${run.tlbLevels.length} TLB levels; expected one per level of tlbLevels`,
    });
  }
  const names = run.tlbLevels.map((l) => l.name);
  const keys = Object.keys(run.cyclesBy.tlbHits);
  if (keys.length !== names.length || keys.some((k, i) => k !== names[i])) {
    ctx.addIssue({
      code: 'custom',
      path: ['cyclesBy', 'tlbHits'],
      message: `names levels ${JSON.stringify(keys)}; expected those of tlbLevels, in order: ${JSON.stringify(names)}`,
    });
  }
  const sum = sumCyclesBy(run.cyclesBy);
  if (Math.abs(sum - run.cycles) > 1e-9 * Math.max(1, run.cycles)) {
    ctx.addIssue({
      code: 'custom',
      path: ['cyclesBy'],
      message: `adds up to ${sum} cycles, not the run's ${run.cycles}`,
    });
  }
});

/** A report: one workload on one or more configurations. */
export const reportSchema = z.object({
  format: z.literal(REPORT_FORMAT),
  /** What ran: a built-in workload's name and parameters, or a trace file and its format. */
  workload: z.object({
    name: z.string(),
    description: z.string(),
    /** The seed of every random choice (workload, replacement); the same seed gives the same report. */
    seed: z.number().int(),
  }),
  runs: z.array(runSchema),
});

/** One configuration's run, as a report holds it. */
export type RunReport = z.infer<typeof runSchema>;
/** One TLB level's hits. */
export type TlbLevelReport = z.infer<typeof tlbLevelSchema>;
/** The cost model of a run, TLB-hit costs by level. */
export type RunCosts = z.infer<typeof costsSchema>;
/** A run's cycles by component. */
export type CyclesBy = z.infer<typeof cyclesBySchema>;
/** An `hvsim.report/1` document. */
export type ReportDocument = z.infer<typeof reportSchema>;

/**
 * A report document that does not validate: the message names the source and the JSON path of each
 * problem. An `InputError` of @hvsim/errors, as every error about unreadable input is.
 */
export class ReportFormatError extends InputError {
  constructor(message: string, source: string) {
    super(message, source);
    this.name = 'ReportFormatError';
  }
}

/** Reads an `hvsim.report/1` document from JSON text, checking every field. */
export function parseReport(text: string, source = 'report'): ReportDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ReportFormatError(`${source}: invalid JSON: ${(error as Error).message}`, source);
  }
  const result = reportSchema.safeParse(json);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `${source}: ${pathText(issue.path)}: ${issue.message}`);
    throw new ReportFormatError(lines.join('\n'), source);
  }
  return result.data;
}

function pathText(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(document)';
  let text = '';
  for (const key of path)
    text += typeof key === 'number' ? `[${key}]` : text === '' ? String(key) : `.${String(key)}`;
  return text;
}
