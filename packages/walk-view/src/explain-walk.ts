import {
  CpuState,
  linearFromBigInt,
  linearToBigInt,
  PagingMode,
  RefFlag,
  Stage,
  tableIndex,
  WalkTrace,
} from '@hvsim/cpu-core';
import { NestedAccess, TranslateStatus, type Translation } from '@hvsim/mmu-nested';
import { type AccessName, type AccessResult, type Scenario, ScenarioMachine } from '@hvsim/scenario';
import { TlbHierarchy } from '@hvsim/tlb-tagged';
import { decodeEptp } from '@hvsim/vendor-intel';
import { type DecodedValue, hex } from './decoded.js';
import { decodeEptEntry, eptLevelName } from './ept-entry.js';
import { decodeEptQualification, decodeNpfExitInfo1, decodePageFaultErrorCode } from './fault-codes.js';
import { type TlbStructureView, tlbConfigFor, viewTlb } from './tlb-view.js';
import { type CellState, layoutWalk } from './walk-grid.js';
import { decodeX86Entry, type X86EntryFormat, x86LevelName } from './x86-entry.js';

/** Which walk caches are on. Each is warmed by one earlier walk of the same access (see `explainAccess`). */
export interface CacheToggles {
  /** The guest paging-structure cache (Intel SDM vol. 3A §4.10.3; AMD's page walk cache). */
  readonly guestWalkCache: boolean;
  /** The nested TLB: guest-physical to host-physical translations of guest page-table pages. */
  readonly nestedTlb: boolean;
  /** The walk cache of the nested walk itself. */
  readonly nestedWalkCache: boolean;
}

/** Every cache off: the walk as the scenario format defines it (spec/scenario.md: no cached translations). */
export const NO_CACHES: CacheToggles = { guestWalkCache: false, nestedTlb: false, nestedWalkCache: false };

/** The toggles as a number 0-7 (bit 0 guest walk cache, bit 1 nested TLB, bit 2 nested walk cache). */
export function cacheMask(caches: CacheToggles): number {
  return (caches.guestWalkCache ? 1 : 0) | (caches.nestedTlb ? 2 : 0) | (caches.nestedWalkCache ? 4 : 0);
}

/** The toggles of a mask made by `cacheMask`. */
export function cachesOfMask(mask: number): CacheToggles {
  return { guestWalkCache: (mask & 1) !== 0, nestedTlb: (mask & 2) !== 0, nestedWalkCache: (mask & 4) !== 0 };
}

/** One memory reference of the walk, as shown. */
export interface ReferenceView {
  /** Its number in the order the CPU made the references, from 1; null when a cache saved it. */
  readonly order: number | null;
  readonly stage: 'guest' | 'nested';
  /** 1 (PTE) to 5; 0 for a whole nested walk a nested TLB saved. */
  readonly level: number;
  /** `guest PML4E`, `nested PDE`, `EPT PTE`. */
  readonly name: string;
  /** Host-physical address read, `0x…`; null when saved. */
  readonly address: string | null;
  /** The entry read (after the walk's accessed/dirty update), `0x…`; null when saved. */
  readonly entry: string | null;
  /** Which cache saved it, or null. */
  readonly savedBy: string | null;
  /** Whether this is the reference at which the walk faulted. */
  readonly faulted: boolean;
  /** Whether the walk wrote the entry back (accessed/dirty update). */
  readonly updated: boolean;
  readonly row: number;
  readonly column: number;
  /** Key of the entry's decoding in `WalkViewDocument.decoded`, or null. */
  readonly decoded: string | null;
}

/** A row of the grid: a guest level, or the final guest-physical address. */
export interface RowView {
  readonly label: string;
  readonly guestLevel: number | null;
  /** The guest-physical address this row's nested walk translates, when known. */
  readonly translating: string | null;
}

/** A column of the grid: a nested level, or the guest entry. */
export interface ColumnView {
  readonly label: string;
  readonly nestedLevel: number | null;
}

/** A cell of the grid. */
export interface CellView {
  readonly state: CellState;
  /** Index into `references`, or null. */
  readonly reference: number | null;
}

/** How the access ended, for people. */
export interface OutcomeView {
  readonly outcome: AccessResult['outcome'];
  /** One line: `#VMEXIT(NPF): a nested page fault`. */
  readonly summary: string;
  /** The result's fields (`exitInfo1`, `exitInfo2`…) as `0x…` (or null). */
  readonly fields: readonly { readonly name: string; readonly value: string | null }[];
  /** The fault code decoded bit by bit (error code, EXITINFO1, exit qualification), or null. */
  readonly decoded: DecodedValue | null;
  /** Index into `references` of the reference that faulted, or null. */
  readonly faultedReference: number | null;
  /** Why the walk ended where it did, in words. */
  readonly explanation: string;
}

/** One access's walk, explained: every reference, the grid, the outcome, the TLBs afterwards. */
export interface WalkExplanation {
  readonly accessIndex: number;
  readonly access: { readonly address: string; readonly access: AccessName; readonly cpl: number };
  readonly caches: CacheToggles;
  readonly references: readonly ReferenceView[];
  /** Number of references made (the steps). */
  readonly made: number;
  /**
   * Number of references caches saved: the cells the grid shows as saved, each a reference the walk
   * would have made (a nested walk a nested TLB saved is its levels' references, a guest entry a walk
   * cache saved is that entry and its nested walk).
   */
  readonly saved: number;
  readonly rows: readonly RowView[];
  readonly columns: readonly ColumnView[];
  readonly cells: readonly (readonly CellView[])[];
  readonly outcome: OutcomeView;
  /** The TLB levels, walk caches and nested TLB after the access. */
  readonly tlb: readonly TlbStructureView[];
}

/** What a scenario's walks look like: the guest and nested paging modes, as words and levels. */
export interface WalkShape {
  readonly guestMode: string;
  readonly guestFormat: X86EntryFormat | null;
  readonly guestLevels: readonly number[];
  /** `AMD NPT, 4-level` / `Intel EPT, 4-level` / null. */
  readonly nestedMode: string | null;
  readonly nestedFormat: X86EntryFormat | 'ept' | null;
  readonly nestedLevels: readonly number[];
}

/** Where decoded entries go, keyed, so a document holds each distinct decoding once. */
export type DecodedTable = Map<string, DecodedValue>;

const MODE_FORMAT: Readonly<Record<number, X86EntryFormat | null>> = {
  [PagingMode.None]: null,
  [PagingMode.Legacy32]: 'legacy32',
  [PagingMode.Pae]: 'pae',
  [PagingMode.Level4]: 'long',
  [PagingMode.Level5]: 'long',
};

const MODE_NAME: Readonly<Record<number, string>> = {
  [PagingMode.None]: 'no paging',
  [PagingMode.Legacy32]: '32-bit paging',
  [PagingMode.Pae]: 'PAE paging',
  [PagingMode.Level4]: '4-level paging',
  [PagingMode.Level5]: '5-level paging',
};

/**
 * The guest's mode as the manuals name it: the paging mode, and the CPU mode when it is not plain
 * protected or long mode: paged real mode (CR0.PE=0 with PG=1, AMD APM vol. 2 §15.19), real mode
 * (CR0.PE=0, SDM vol. 3A §20.1), virtual-8086 mode (RFLAGS.VM=1, §20.2).
 */
function guestModeName(guest: CpuState): string {
  const paging = MODE_NAME[guest.mode] ?? 'unknown';
  if (guest.pagedRealMode) return `paged real mode, ${paging} (CR0.PE=0, PG=1; AMD APM vol. 2 §15.19)`;
  if (guest.realMode) return 'real mode, no paging (SDM vol. 3A §20.1)';
  if (guest.virtual8086) return `virtual-8086 mode, ${paging} (RFLAGS.VM=1: CPL 3; SDM vol. 3A §20.2)`;
  return paging;
}

/** The levels a walk of `mode` reads from memory, top first. */
function levelsOf(mode: number, pdptesOnDemand: boolean): number[] {
  const top = { 0: 0, 1: 2, 2: pdptesOnDemand ? 3 : 2, 3: 4, 4: 5 }[mode] ?? 0;
  return Array.from({ length: top }, (_, i) => top - i);
}

/**
 * The shape of a scenario's walks. Under AMD NPT the guest's PAE PDPTEs are read during each walk
 * (AMD APM vol. 2 §15.25.10), so a PAE guest walk has 3 levels there and 2 elsewhere (the PDPTEs
 * are registers, SDM vol. 3A §4.4.1); the nested levels follow the host's paging mode (AMD) or the
 * EPTP's walk length (Intel).
 */
export function walkShapeOf(scenario: Scenario): WalkShape {
  const guest = new CpuState();
  guest.setControlRegisters(scenario.guest);
  const amdNested = scenario.nested.enabled && scenario.vendor === 'amd';
  const guestLevels = levelsOf(guest.mode, amdNested);
  const base = {
    guestMode: guestModeName(guest),
    guestFormat: MODE_FORMAT[guest.mode] ?? null,
    guestLevels,
  };
  if (!scenario.nested.enabled) return { ...base, nestedMode: null, nestedFormat: null, nestedLevels: [] };
  if (scenario.vendor === 'amd') {
    const host = new CpuState();
    host.setControlRegisters({ ...scenario.host, cr3: 0n });
    const levels = levelsOf(host.mode, true);
    return {
      ...base,
      nestedMode: `AMD NPT, ${MODE_NAME[host.mode]} (the host's mode at VMRUN)`,
      nestedFormat: MODE_FORMAT[host.mode] ?? 'long',
      nestedLevels: levels,
    };
  }
  const eptp = decodeEptp(scenario.nested.root, scenario.cpu.maxPhysicalAddressBits, {
    accessedDirty: scenario.cpu.eptAccessedDirty,
  });
  const levels = typeof eptp === 'string' ? 4 : eptp.levels;
  return {
    ...base,
    nestedMode: `Intel EPT, ${levels}-level${typeof eptp !== 'string' && eptp.accessedDirty ? ' with accessed/dirty flags' : ''}`,
    nestedFormat: 'ept',
    nestedLevels: Array.from({ length: levels }, (_, i) => levels - i),
  };
}

/** A short name of a level of a stage: `PML4E`, `nPDE`, `EPT PTE`. */
export function levelLabel(shape: WalkShape, stage: 'guest' | 'nested', level: number): string {
  if (stage === 'guest') return `guest ${x86LevelName(shape.guestFormat ?? 'long', level)}`;
  if (level === 0) return shape.nestedFormat === 'ept' ? 'EPT walk' : 'nested walk';
  if (shape.nestedFormat === 'ept') return eptLevelName(level);
  return `nested ${x86LevelName((shape.nestedFormat ?? 'long') as X86EntryFormat, level)}`;
}

/** The guest-physical address of the guest entry at `level` for `linear`, given the table it is in. */
function entryAddress(format: X86EntryFormat, level: number, table: number, linear: bigint): bigint {
  if (format === 'legacy32') {
    const index = level === 2 ? (linear >> 22n) & 0x3ffn : (linear >> 12n) & 0x3ffn;
    return BigInt(table) + index * 4n;
  }
  if (format === 'pae' && level === 3) return BigInt(table) + ((linear >> 30n) & 3n) * 8n;
  const { lo, hi } = linearFromBigInt(linear);
  return BigInt(table) + BigInt(tableIndex(lo, hi, level) * 8);
}

/**
 * Explains access `index` of `scenario`: runs the accesses before it (for their accessed and dirty
 * bits), then walks this one on the scenario's MMU with a TLB hierarchy (Zen-class for AMD,
 * Skylake-class for Intel) and the walk caches `caches` turns on, recording every reference.
 *
 * With every cache off the walk is exactly the scenario's (spec/scenario.md: each access starts with
 * no cached translations). A cache that is on is warmed by one earlier walk of the same access whose
 * TLB entry has since been evicted: what the walk caches save on a second miss to the same page.
 * Saved references stay in the list, marked, so the grid can show where they would have been.
 */
export function explainAccess(
  scenario: Scenario,
  index: number,
  caches: CacheToggles = NO_CACHES,
  decoded: DecodedTable = new Map(),
): WalkExplanation {
  const access = scenario.accesses[index];
  if (access === undefined) {
    throw new RangeError(
      `access ${index} does not exist: the scenario has ${scenario.accesses.length} (0 to ${scenario.accesses.length - 1})`,
    );
  }
  const shape = walkShapeOf(scenario);
  const nested = scenario.nested.enabled;
  // The accesses before this one run as the scenario runs them (uncached), for their accessed and dirty bits.
  const earlier = new ScenarioMachine(scenario);
  for (let i = 0; i < index; i++) earlier.run(scenario.accesses[i]);
  const hierarchy = new TlbHierarchy(tlbConfigFor(scenario.vendor));
  const machine = new ScenarioMachine(
    { ...scenario, memory: earlier.memoryRuns() },
    {
      tlb: hierarchy,
      ...(caches.guestWalkCache && hierarchy.walkCache !== null ? { walkCache: hierarchy.walkCache } : {}),
      ...(nested && caches.nestedTlb && hierarchy.nestedTlb !== null
        ? { nestedTlb: hierarchy.nestedTlb }
        : {}),
      ...(nested && caches.nestedWalkCache && hierarchy.nestedWalkCache !== null
        ? { nestedWalkCache: hierarchy.nestedWalkCache }
        : {}),
    },
  );
  const startFailure = machine.startFailure;
  const out = machine.translation;
  const trace = new WalkTrace();
  let result: AccessResult;
  if (startFailure !== null) {
    result = startFailure;
  } else {
    if (caches.guestWalkCache || (nested && (caches.nestedTlb || caches.nestedWalkCache))) {
      machine.run(access);
      // The TLB entry is gone (evicted, say), the walk caches keep what the first walk left.
      for (const structure of hierarchy.structures) structure.flushAll();
    }
    result = machine.run(access, trace);
  }

  // The guest walk finished when the access completed or faulted on its final address.
  const reachedFinal =
    startFailure === null &&
    (out.status === TranslateStatus.Ok ||
      (out.status === TranslateStatus.NestedFault && out.nestedFault.access === NestedAccess.Final));
  const raw = Array.from({ length: startFailure === null ? trace.count : 0 }, (_, i) => ({
    stage: trace.stage[i] === Stage.Nested ? ('nested' as const) : ('guest' as const),
    level: trace.level[i],
    saved: (trace.flags[i] & RefFlag.Cached) !== 0,
    updated: (trace.flags[i] & RefFlag.Updated) !== 0,
    address: trace.address[i],
    entry: linearToBigInt(trace.entryLo[i], trace.entryHi[i]),
  }));
  const layout = layoutWalk(raw, shape, { reachedFinal });
  const faulted = result.outcome === 'ok' ? -1 : raw.findLastIndex((r) => !r.saved);
  let order = 0;
  const maxBits = scenario.cpu.maxPhysicalAddressBits;
  const references: ReferenceView[] = raw.map((r, i) => {
    const name = levelLabel(shape, r.stage, r.level);
    let key: string | null = null;
    if (!r.saved) {
      const format = r.stage === 'guest' ? shape.guestFormat : shape.nestedFormat;
      key = `${format}:${r.stage}:${r.level}:${hex(r.entry)}`;
      if (!decoded.has(key)) {
        decoded.set(
          key,
          format === 'ept'
            ? decodeEptEntry(r.entry, r.level, maxBits)
            : decodeX86Entry(r.entry, format ?? 'long', r.level, {
                maxPhysicalAddressBits: maxBits,
                stage: r.stage,
                vendor: scenario.vendor,
              }),
        );
      }
    }
    const column = layout.cells[layout.rowOf[i]].findIndex((cell) => cell.reference === i);
    return {
      order: r.saved ? null : ++order,
      stage: r.stage,
      level: r.level,
      name,
      address: r.saved || Number.isNaN(r.address) ? null : hex(r.address),
      entry: r.saved ? null : hex(r.entry),
      savedBy: r.saved ? savedBy(r.stage, r.level) : null,
      faulted: i === faulted,
      updated: r.updated,
      row: layout.rowOf[i],
      column,
      decoded: key,
    };
  });

  const guestTables = out.guest.table;
  const rows: RowView[] = layout.rows.map((level) => {
    if (level === null) {
      const final =
        out.status === TranslateStatus.Ok
          ? hex(out.guestPhysical)
          : out.status === TranslateStatus.NestedFault && out.nestedFault.access === NestedAccess.Final
            ? hex(out.nestedFault.guestPhysical)
            : null;
      return { label: 'final guest-physical address', guestLevel: null, translating: final };
    }
    const row = layout.rows.indexOf(level);
    const used = references.some((r) => r.row === row && r.stage === 'guest' && r.order !== null);
    const translating =
      used && shape.guestFormat !== null && nested
        ? hex(entryAddress(shape.guestFormat, level, guestTables[level], access.address))
        : out.status === TranslateStatus.NestedFault &&
            out.nestedFault.access === NestedAccess.GuestTable &&
            references.some((r) => r.row === row && r.faulted)
          ? hex(out.nestedFault.guestPhysical)
          : null;
    return { label: levelLabel(shape, 'guest', level), guestLevel: level, translating };
  });
  const columns: ColumnView[] = layout.columns.map((level) =>
    level === null
      ? { label: nested ? 'guest entry' : 'entry', nestedLevel: null }
      : { label: levelLabel(shape, 'nested', level), nestedLevel: level },
  );

  return {
    accessIndex: index,
    access: { address: hex(access.address), access: access.access, cpl: access.cpl },
    caches,
    references,
    made: order,
    saved: layout.cells.reduce((n, row) => n + row.filter((cell) => cell.state === 'saved').length, 0),
    rows,
    columns,
    cells: layout.cells,
    outcome: outcomeView(result, references, faulted, out, startFailure !== null, scenario),
    tlb: viewTlb(hierarchy, scenario.vendor),
  };
}

function savedBy(stage: 'guest' | 'nested', level: number): string {
  if (stage === 'guest') return 'guest walk cache';
  return level === 0 ? 'nested TLB' : 'nested walk cache';
}

function outcomeView(
  result: AccessResult,
  references: readonly ReferenceView[],
  faulted: number,
  out: Translation,
  atStart: boolean,
  scenario: Scenario,
): OutcomeView {
  // Where the TLB's page size for a two-stage translation is stated, in the scenario's vendor's manual.
  const pageSize = !scenario.nested.enabled
    ? "the walk's page size"
    : scenario.vendor === 'amd'
      ? "the smaller of the two stages' pages, AMD APM vol. 2 §15.25.9"
      : "the smaller of the two stages' pages, Intel SDM vol. 3C §29.4 (combined mappings)";
  const at = faulted >= 0 ? references[faulted] : null;
  const where =
    at === null
      ? atStart
        ? 'before any access could run (the PDPTE load of the MOV to CR3)'
        : 'without reading memory'
      : `at reference ${at.order} (${at.name} at ${at.address})`;
  switch (result.outcome) {
    case 'ok':
      return {
        outcome: 'ok',
        summary: `ok: guest-physical ${hex(result.guestPhysical)}, host-physical ${hex(result.hostPhysical)}`,
        fields: [
          { name: 'guestPhysical', value: hex(result.guestPhysical) },
          { name: 'hostPhysical', value: hex(result.hostPhysical) },
        ],
        decoded: null,
        faultedReference: null,
        explanation: `The access completes after ${references.filter((r) => r.order !== null).length} memory references; the TLB now holds the translation (page size: ${pageSize}).`,
      };
    case 'page-fault':
      return {
        outcome: 'page-fault',
        summary: `#PF for the guest, error code ${hex(result.errorCode)}, CR2 ${hex(result.address)}`,
        fields: [
          { name: 'errorCode', value: hex(result.errorCode) },
          { name: 'address', value: hex(result.address) },
        ],
        decoded: decodePageFaultErrorCode(result.errorCode),
        faultedReference: faulted >= 0 ? faulted : null,
        explanation: `The guest's own tables forbid the access: the walk ends ${where} and the guest gets a #PF; the hypervisor is not involved.`,
      };
    case 'general-protection':
      return {
        outcome: 'general-protection',
        summary: `#GP(${hex(result.errorCode)}) for the guest`,
        fields: [{ name: 'errorCode', value: hex(result.errorCode) }],
        decoded: null,
        faultedReference: null,
        explanation: atStart
          ? 'A present PDPTE has a reserved bit: the MOV to CR3 that loaded the PDPTEs would have raised #GP(0), so no access runs (spec/scenario.md).'
          : 'A non-canonical address: #GP(0) before any table is read (Intel SDM vol. 3A §3.3.7.1).',
      };
    case 'nested-page-fault': {
      const table = out.nestedFault.access === NestedAccess.GuestTable;
      return {
        outcome: 'nested-page-fault',
        summary: `#VMEXIT(NPF): EXITINFO1 ${hex(result.exitInfo1)}, EXITINFO2 ${hex(result.exitInfo2)}`,
        fields: [
          { name: 'exitInfo1', value: hex(result.exitInfo1) },
          { name: 'exitInfo2', value: hex(result.exitInfo2) },
        ],
        decoded: decodeNpfExitInfo1(result.exitInfo1),
        faultedReference: faulted >= 0 ? faulted : null,
        explanation: `The nested tables forbid ${table ? 'the access to a guest page table' : "the guest's final guest-physical address"}: the walk ends ${where} with #VMEXIT(NPF) to the hypervisor; EXITINFO2 is the faulting guest-physical address (AMD APM vol. 2 §15.25.6).`,
      };
    }
    case 'ept-violation': {
      const table = out.nestedFault.access === NestedAccess.GuestTable;
      return {
        outcome: 'ept-violation',
        summary: `EPT violation: exit qualification ${hex(result.exitQualification)}, guest-physical ${hex(result.guestPhysical)}`,
        fields: [
          { name: 'exitQualification', value: hex(result.exitQualification) },
          { name: 'guestPhysical', value: hex(result.guestPhysical) },
          { name: 'guestLinear', value: result.guestLinear === null ? null : hex(result.guestLinear) },
        ],
        decoded: decodeEptQualification(result.exitQualification),
        faultedReference: faulted >= 0 ? faulted : null,
        explanation: `The EPT entries forbid ${out.nestedFault.access === NestedAccess.PdpteLoad ? 'the PDPTE load' : table ? 'the access to a guest page table' : "the guest's final guest-physical address"}: the walk ends ${where} with a VM exit, basic reason 48 (Intel SDM vol. 3C §29.3.3.2).`,
      };
    }
    case 'ept-misconfiguration':
      return {
        outcome: 'ept-misconfiguration',
        summary: `EPT misconfiguration at guest-physical ${hex(result.guestPhysical)}`,
        fields: [{ name: 'guestPhysical', value: hex(result.guestPhysical) }],
        decoded: null,
        faultedReference: faulted >= 0 ? faulted : null,
        explanation: `An EPT entry is malformed: the walk ends ${where} with a VM exit, basic reason 49 (Intel SDM vol. 3C §29.3.3.1).`,
      };
  }
}
