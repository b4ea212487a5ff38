import { totalmem } from 'node:os';
import { InputError } from '@hvsim/errors';
import { bytesText } from './bytes-text.js';
import { BACKING_BYTES, type SimConfig } from './config.js';
import { cachesOf } from './machine-caches.js';

/*
 * What a machine costs the computer that simulates it, worked out from how the packages allocate:
 *
 * - each TLB or walk-cache structure (@hvsim/tlb-tagged TaggedStore) keeps about 100 bytes of typed
 *   arrays an entry (keys, bases, contexts, permissions, attributes, stamps, per-entry hit counts: about 120
 *   bytes), a TLB structure 40 more (guest deltas and the way-hint table, up to 4 slots an entry), and 12 a set;
 *   every physical CPU has its own;
 * - each guest OS (@hvsim/workloads GuestFrames) keeps 3 bytes for every 4 KiB frame of guest memory
 *   (a reference count and a huge-page mark), allocated when it boots, and a 16 KiB PCID table a CPU;
 * - the hypervisor (@hvsim/hypervisor HostMachine) records the owner of every 4 KiB host frame it hands
 *   out in a Map (about 64 bytes an entry, and at most 2^24 entries: V8's bound on a Map) and its
 *   guest frame in a table that doubles as it grows (up to 16 bytes a frame); each VM maps its backing
 *   pages in a table that doubles too (16 bytes a backing page). Under `fill: up-front` all of guest
 *   memory is backed before the run, with the nested tables over it (4 KiB a table, in a pool that
 *   doubles); on demand, only what the workload touches, so that part grows during the run.
 *
 * Guest data is not stored (accesses carry no values), so guest memory itself costs nothing here.
 */

/** Bytes a structure's entry costs, and a set (see above). */
const STORE_ENTRY_BYTES = 120;
const TLB_ENTRY_EXTRA_BYTES = 40;
const SET_BYTES = 12;
/** Bytes a guest OS keeps for each 4 KiB frame of its memory, and for each of its CPUs. */
const GUEST_FRAME_BYTES = 3;
const GUEST_CPU_BYTES = 4096 * 4;
/** Bytes the hypervisor keeps for each 4 KiB host frame it hands out: its owner, its guest frame. */
const HOST_FRAME_BYTES = 64 + 16;
/** Bytes a VM keeps for each backing page it maps. */
const BACKING_PAGE_BYTES = 16;
/** Host frames the hypervisor can track: a V8 Map holds at most 2^24 entries. */
const MAX_HOST_FRAMES = 2 ** 24;
/** Entries of one page table. */
const TABLE_ENTRIES = 512;

/** One part of a machine's memory. */
export interface MemoryPart {
  readonly what: string;
  readonly bytes: number;
}

/** What a machine needs once it is built, by part; `bytes` is their sum. */
export interface MemoryEstimate {
  readonly bytes: number;
  readonly parts: readonly MemoryPart[];
  /** 4 KiB host frames the hypervisor hands out before the run (all of them under `fill: up-front`). */
  readonly hostFrames: number;
}

/** The memory a machine needs once it is built (see the file's comment for how each part is counted). */
export function estimateMemory(config: SimConfig): MemoryEstimate {
  const caches = cachesOf(config);
  let perCpu = 0;
  for (const level of caches.tlb?.levels ?? []) {
    for (const cache of level.caches) perCpu += storeBytes(cache.entries, cache.ways, true);
  }
  for (const level of caches.walkCache?.levels ?? []) perCpu += storeBytes(level.entries, level.ways, false);
  if (caches.nestedTlb !== undefined)
    perCpu += storeBytes(caches.nestedTlb.entries, caches.nestedTlb.ways, true);
  const native = config.mmu === 'native';
  const systems = native ? 1 : config.vms;
  const guestCpus = native ? config.cpus : config.vcpus;
  const memory = config.guest.memory;
  const parts: MemoryPart[] = [
    { what: 'TLBs and walk caches', bytes: config.cpus * perCpu },
    {
      what: 'guest OS frame tables',
      bytes: systems * (Math.ceil(memory / 4096) * GUEST_FRAME_BYTES + guestCpus * GUEST_CPU_BYTES),
    },
  ];
  let hostFrames = 0;
  if (!native && config.fill === 'up-front') {
    const backing = BACKING_BYTES[config.backing];
    const tables = config.mmu === 'nested' ? tablePages(memory / backing) : 0;
    hostFrames = config.vms * (memory / 4096 + tables);
    parts.push({
      what: 'host frame tables (all guest memory backed up front)',
      bytes: hostFrames * HOST_FRAME_BYTES + config.vms * (memory / backing) * BACKING_PAGE_BYTES,
    });
    if (tables > 0) parts.push({ what: 'nested page tables', bytes: 2 * config.vms * tables * 4096 });
  }
  return { bytes: parts.reduce((sum, p) => sum + p.bytes, 0), parts, hostFrames };
}

/** Typed-array bytes of a structure of `entries` entries and `ways` ways. */
function storeBytes(entries: number, ways: number, tlb: boolean): number {
  return entries * (STORE_ENTRY_BYTES + (tlb ? TLB_ENTRY_EXTRA_BYTES : 0)) + (entries / ways) * SET_BYTES;
}

/** Page-table pages over `leaves` leaf entries: 512 entries a table, up to one root. */
function tablePages(leaves: number): number {
  let pages = 0;
  let entries = leaves;
  do {
    entries = Math.ceil(entries / TABLE_ENTRIES);
    pages += entries;
  } while (entries > 1);
  return pages;
}

/**
 * The most memory a run may ask for: half of this computer's (`os.totalmem()`), so a run leaves room
 * for the system and for other runs.
 */
export function defaultMemoryLimit(): number {
  return Math.floor(totalmem() / 2);
}

/**
 * Refuses a machine that cannot be built here: one whose estimate is above `limit` bytes, or that
 * backs more host frames up front than the hypervisor can track. Throws an `InputError` naming the
 * configuration, the estimate with its parts, and the limit.
 */
export function checkMemory(config: SimConfig, limit?: number): MemoryEstimate {
  const bound = limit ?? defaultMemoryLimit();
  const why = limit === undefined ? ", half of this computer's memory" : '';
  const estimate = estimateMemory(config);
  if (estimate.hostFrames > MAX_HOST_FRAMES) {
    throw new InputError(
      `${config.name}: backing ${config.vms === 1 ? '' : `${config.vms} VMs of `}${bytesText(config.guest.memory)} up front hands out ${estimate.hostFrames} 4 KiB host frames, more than the ${MAX_HOST_FRAMES} (2^24, 64 GiB) the hypervisor can track; use fill: on-demand or less guest memory`,
      config.name,
    );
  }
  if (estimate.bytes > bound) {
    const parts = estimate.parts
      .filter((p) => p.bytes > 0)
      .map((p) => `${p.what} ${bytesText(p.bytes)}`)
      .join(', ');
    throw new InputError(
      `${config.name}: this machine needs about ${bytesText(estimate.bytes)} to simulate (${parts}), more than the ${bytesText(bound)} a run may use${why}; use fewer CPUs or VMs, smaller TLBs, less guest memory or fill: on-demand`,
      config.name,
    );
  }
  return estimate;
}
