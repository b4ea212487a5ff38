import {
  FrameAllocator,
  PageSize,
  PageTableBuilder,
  PagingMode,
  PhysicalMemory,
  PteFlag,
} from '@hvsim/cpu-core';
import { type AccessName, type Cpl, readScenario, SCENARIO_FORMAT, type Scenario } from '@hvsim/scenario';
import { EptBuilder, EptFlag } from '@hvsim/vendor-intel';
import type { ScenarioVariant } from './document.js';

/*
 * Builds a scenario from a few choices, as the web app's form asks for them: the guest's paging
 * mode, a second stage or none, the vendor, a few mappings and the accesses. The builder lays the
 * tables out itself: guest tables at guest-physical (and host-physical) 0x7e00000-0x7ffffff, nested
 * tables at host-physical 0x7c00000-0x7dfffff; mappings may not use those addresses.
 */

/** The guest paging modes the builder offers. */
export type GuestModeName = 'none' | 'legacy32' | 'pae' | 'long4' | 'long5';

/** One mapping: a linear page, the guest-physical page it maps to, and the host-physical page behind that. */
export interface MappingSpec {
  readonly linear: bigint;
  /** Ignored when the guest does not page (guest-physical = linear). */
  readonly guestPhysical: bigint;
  /** Ignored without a second stage (host-physical = guest-physical). */
  readonly hostPhysical: bigint;
  /** Guest leaf R/W and U/S; execute-disable when `guestExecutable` is false (PAE and long modes). */
  readonly guestWritable: boolean;
  readonly guestUser: boolean;
  readonly guestExecutable?: boolean;
  /** Whether the second stage maps the page at all (false: an unmapped guest-physical page). */
  readonly nestedPresent?: boolean;
  readonly nestedWritable: boolean;
  readonly nestedExecutable?: boolean;
}

/** One access. */
export interface AccessSpec {
  readonly address: bigint;
  readonly access: AccessName;
  readonly cpl: Cpl;
}

/** What the form chose. */
export interface ScenarioSpec {
  readonly vendor: 'amd' | 'intel';
  readonly guestMode: GuestModeName;
  readonly nested: boolean;
  /** 2 MiB guest pages (4 MiB in 32-bit paging). */
  readonly largeGuestPages: boolean;
  /** 2 MiB nested pages. */
  readonly largeNestedPages: boolean;
  readonly mappings: readonly MappingSpec[];
  readonly accesses: readonly AccessSpec[];
  readonly name?: string;
}

const RESERVED_START = 0x7c0_0000;
const RESERVED_END = 0x800_0000;
const GUEST_TABLES = 0x7e0_0000;
const NESTED_TABLES = 0x7c0_0000;
const TWO_MIB = 0x20_0000;

const MODES: Readonly<
  Record<GuestModeName, { mode: number; cr0: number; cr4: number; efer: number; large: number; name: string }>
> = {
  none: { mode: PagingMode.None, cr0: 0x11, cr4: 0, efer: 0, large: 0, name: 'no paging' },
  legacy32: {
    mode: PagingMode.Legacy32,
    cr0: 0x8001_0011,
    cr4: 0x10,
    efer: 0,
    large: PageSize.Size4M,
    name: '32-bit paging',
  },
  pae: {
    mode: PagingMode.Pae,
    cr0: 0x8001_0011,
    cr4: 0x20,
    efer: 0x800,
    large: PageSize.Size2M,
    name: 'PAE paging',
  },
  long4: {
    mode: PagingMode.Level4,
    cr0: 0x8001_0011,
    cr4: 0x20,
    efer: 0xd00,
    large: PageSize.Size2M,
    name: '4-level paging',
  },
  long5: {
    mode: PagingMode.Level5,
    cr0: 0x8001_0011,
    cr4: 0x1020,
    efer: 0xd00,
    large: PageSize.Size2M,
    name: '5-level paging',
  },
};

/** A frame allocator that remembers what it handed out. */
function recording(start: number, end: number): { allocate: () => number; frames: number[] } {
  const allocator = new FrameAllocator(start, end);
  const frames: number[] = [];
  return {
    frames,
    allocate: () => {
      const frame = allocator.allocate();
      frames.push(frame);
      return frame;
    },
  };
}

/** The non-zero part of each frame, as scenario memory runs. */
function runsOf(memory: PhysicalMemory, frames: readonly number[]): { address: string; qwords: string[] }[] {
  const runs: { address: string; qwords: string[] }[] = [];
  for (const frame of [...frames].sort((a, b) => a - b)) {
    const words: bigint[] = [];
    for (let i = 0; i < 512; i++) {
      const lo = memory.readWord(frame + 8 * i);
      const hi = memory.readWord(frame + 8 * i + 4);
      words.push((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
    }
    let last = words.length - 1;
    while (last > 0 && words[last] === 0n) last--;
    runs.push({
      address: `0x${frame.toString(16)}`,
      qwords: words.slice(0, last + 1).map((w) => `0x${w.toString(16)}`),
    });
  }
  return runs;
}

function alignDown(value: bigint, size: number): bigint {
  return value - (value % BigInt(size));
}

function checkOutside(what: string, value: bigint, index: number): void {
  if (value >= BigInt(RESERVED_START) && value < BigInt(RESERVED_END)) {
    throw new RangeError(
      `mapping ${index + 1}: ${what} 0x${value.toString(16)} is in 0x7c00000-0x7ffffff, where the builder puts the page tables`,
    );
  }
}

/**
 * Builds a scenario from the form's choices and validates it as any scenario is (`readScenario`).
 * With large pages each mapping covers the large page that holds its addresses; two mappings that
 * fall in one large page must agree on where it goes. Throws a RangeError naming the mapping at fault.
 */
export function buildScenario(spec: ScenarioSpec): Scenario {
  const mode = MODES[spec.guestMode];
  const guestPaging = mode.mode !== PagingMode.None;
  const guestSize = guestPaging && spec.largeGuestPages ? mode.large : PageSize.Size4K;
  const nestedSize = spec.largeNestedPages ? TWO_MIB : PageSize.Size4K;
  const hostMemory = new PhysicalMemory();
  const memory: { address: string; qwords: string[] }[] = [];

  // The guest's own tables, in guest-physical memory (identical to host-physical for these pages).
  const guestMemory = spec.nested ? new PhysicalMemory() : hostMemory;
  const guestFrames = recording(GUEST_TABLES, RESERVED_END);
  let cr3 = 0;
  const guestPhysicalOf = (m: MappingSpec) => (guestPaging ? m.guestPhysical : m.linear);
  if (guestPaging) {
    const builder = new PageTableBuilder(guestMemory, mode.mode as PagingMode, guestFrames.allocate);
    cr3 = builder.root;
    const seen = new Map<bigint, bigint>();
    spec.mappings.forEach((m, i) => {
      checkOutside('guest-physical address', m.guestPhysical, i);
      const linear = alignDown(m.linear, guestSize);
      const physical = alignDown(m.guestPhysical, guestSize);
      const earlier = seen.get(linear);
      if (earlier !== undefined) {
        if (earlier !== physical) {
          throw new RangeError(
            `mapping ${i + 1}: linear 0x${m.linear.toString(16)} is in the same ${guestSize / 2 ** 20 >= 1 ? `${guestSize / 2 ** 20} MiB` : '4 KiB'} page as an earlier mapping to another guest-physical page`,
          );
        }
        return;
      }
      seen.set(linear, physical);
      const flags = PteFlag.P | (m.guestWritable ? PteFlag.RW : 0) | (m.guestUser ? PteFlag.US : 0);
      const noExecute =
        m.guestExecutable === false && (spec.guestMode === 'pae' || spec.guestMode.startsWith('long'));
      builder.map(linear, Number(physical), { size: guestSize as PageSize, flags, noExecute });
    });
    if (!spec.nested) memory.push(...runsOf(guestMemory, guestFrames.frames));
  }

  let root: bigint | null = null;
  if (spec.nested) {
    const nestedFrames = recording(NESTED_TABLES, GUEST_TABLES);
    // Guest table pages live at the same host-physical addresses.
    for (const frame of guestFrames.frames) {
      for (let i = 0; i < 1024; i++) hostMemory.writeWord(frame + 4 * i, guestMemory.readWord(frame + 4 * i));
    }
    const ept = spec.vendor === 'intel' ? new EptBuilder(hostMemory, nestedFrames.allocate) : null;
    const npt =
      spec.vendor === 'amd'
        ? new PageTableBuilder(hostMemory, PagingMode.Level4, nestedFrames.allocate)
        : null;
    const mapped = new Map<bigint, bigint>();
    const mapNested = (gpa: bigint, hpa: bigint, writable: boolean, executable: boolean, what: string) => {
      const page = alignDown(gpa, nestedSize);
      const target = alignDown(hpa, nestedSize);
      const earlier = mapped.get(page);
      if (earlier !== undefined) {
        if (earlier !== target) {
          throw new RangeError(
            `${what}: guest-physical 0x${gpa.toString(16)} shares a ${nestedSize === TWO_MIB ? '2 MiB' : '4 KiB'} nested page with another mapping that goes elsewhere`,
          );
        }
        return;
      }
      mapped.set(page, target);
      ept?.map(Number(page), Number(target), {
        size: nestedSize as 0x1000 | 0x20_0000,
        flags: EptFlag.R | (writable ? EptFlag.W : 0) | (executable ? EptFlag.X : 0) | EptFlag.MEMORY_TYPE_WB,
      });
      npt?.map(page, Number(target), {
        size: nestedSize as PageSize,
        flags: PteFlag.P | PteFlag.US | (writable ? PteFlag.RW : 0),
        noExecute: !executable,
      });
    };
    for (const frame of guestFrames.frames)
      mapNested(BigInt(frame), BigInt(frame), true, false, 'the guest tables');
    spec.mappings.forEach((m, i) => {
      checkOutside('host-physical address', m.hostPhysical, i);
      if (m.nestedPresent === false) return;
      mapNested(
        guestPhysicalOf(m),
        m.hostPhysical,
        m.nestedWritable,
        m.nestedExecutable !== false,
        `mapping ${i + 1}`,
      );
    });
    root = ept !== null ? ept.eptp(true) : BigInt(npt!.root);
    memory.push(...runsOf(hostMemory, [...guestFrames.frames, ...nestedFrames.frames]));
  }

  const hexOf = (n: number | bigint) => `0x${n.toString(16)}`;
  return readScenario(
    {
      format: SCENARIO_FORMAT,
      name:
        spec.name ??
        `Built in the form: ${mode.name}${spec.largeGuestPages && guestPaging ? ' with large guest pages' : ''}, ${spec.nested ? `${spec.vendor === 'amd' ? 'AMD NPT' : 'Intel EPT'}${spec.largeNestedPages ? ' with 2 MiB nested pages' : ''}` : 'no second stage'}`,
      vendor: spec.vendor,
      guest: { cr0: hexOf(mode.cr0), cr3: hexOf(cr3), cr4: hexOf(mode.cr4), efer: hexOf(mode.efer) },
      nested: spec.nested ? { enabled: true, root: hexOf(root!) } : { enabled: false },
      memory: memory.sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1)),
      accesses: spec.accesses.map((a) => ({ address: hexOf(a.address), access: a.access, cpl: a.cpl })),
    },
    'form',
  );
}

/**
 * The scenario with and without large pages in each stage, as variants the view switches between
 * (guest large pages only when the guest pages; nested ones only with a second stage), in a fixed
 * order: guest 4 KiB before large, and within each nested 4 KiB before 2 MiB. `selected` is the index
 * of the variant `spec` itself asks for.
 */
export function buildScenarioVariants(spec: ScenarioSpec): { variants: ScenarioVariant[]; selected: number } {
  const guestOptions = spec.guestMode === 'none' ? [false] : [false, true];
  const nestedOptions = spec.nested ? [false, true] : [false];
  const large = spec.guestMode === 'legacy32' ? '4 MiB' : '2 MiB';
  const variants: ScenarioVariant[] = [];
  let selected = 0;
  for (const largeGuestPages of guestOptions) {
    for (const largeNestedPages of nestedOptions) {
      const label = [
        spec.guestMode === 'none' ? null : `guest ${largeGuestPages ? large : '4 KiB'} pages`,
        spec.nested ? `nested ${largeNestedPages ? '2 MiB' : '4 KiB'} pages` : null,
      ]
        .filter((part) => part !== null)
        .join(', ');
      if (
        largeGuestPages === (spec.largeGuestPages && spec.guestMode !== 'none') &&
        largeNestedPages === (spec.largeNestedPages && spec.nested)
      ) {
        selected = variants.length;
      }
      variants.push({
        label: label || 'as built',
        scenario: buildScenario({ ...spec, largeGuestPages, largeNestedPages }),
      });
    }
  }
  return { variants, selected };
}
