import type { GuestFrames } from './guest-frames.js';

/**
 * What the guest kernel did, counted, for reports: page faults by cause, copy-on-write, segfaults,
 * context switches, TLB invalidations and shootdowns, process lifecycle. Guest-side events only; the
 * platform's costs (walks, exits, IPIs) are in the machine's own statistics.
 */
export class GuestCounters {
  /** Accesses made through `GuestOs.access` (a retried access counts once). */
  declare accesses: number;
  /** #PF exceptions delivered to the guest kernel. */
  declare pageFaults: number;
  /** Faults resolved by mapping a fresh zero 4 KiB frame. */
  declare demandZeroFaults: number;
  /** Faults resolved by mapping a fresh zero huge frame (transparent huge pages). */
  declare hugePageFaults: number;
  /** Write faults on a copy-on-write page. */
  declare cowFaults: number;
  /** Of those, the ones that copied to a new frame (the others were the last sharer and kept the frame). */
  declare cowCopies: number;
  /** Faults with no mapping to give or a true protection violation (counted; the access fails). */
  declare segfaults: number;
  /** #GP from the CPU (a non-canonical address). */
  declare generalProtections: number;
  /** MOV CR3 to a different process. */
  declare contextSwitches: number;
  /** Of those, the ones that kept the process's cached translations (PCID with the no-flush bit). */
  declare noFlushSwitches: number;
  /** INVLPG on the CPU that changed a mapping (the process ran there alone). */
  declare invlpgs: number;
  /** Shootdowns (INVLPG here and IPIs to the other CPUs) for a process running on several CPUs. */
  declare shootdowns: number;
  /** Whole-address-space flushes (a MOV CR3 reload on each CPU running the process) after fork or a large unmap. */
  declare tlbFlushes: number;
  /** Pages whose entries a bank switch, munmap or mprotect rewrote. */
  declare remaps: number;
  declare processesCreated: number;
  declare forks: number;
  declare execs: number;
  declare exits: number;
  readonly #frames: GuestFrames;

  constructor(frames: GuestFrames) {
    this.#frames = frames;
    this.accesses = 0;
    this.pageFaults = 0;
    this.demandZeroFaults = 0;
    this.hugePageFaults = 0;
    this.cowFaults = 0;
    this.cowCopies = 0;
    this.segfaults = 0;
    this.generalProtections = 0;
    this.contextSwitches = 0;
    this.noFlushSwitches = 0;
    this.invlpgs = 0;
    this.shootdowns = 0;
    this.tlbFlushes = 0;
    this.remaps = 0;
    this.processesCreated = 0;
    this.forks = 0;
    this.execs = 0;
    this.exits = 0;
  }

  /** Guest frames in use now (data and page tables). */
  get framesInUse(): number {
    return this.#frames.inUse;
  }

  /** The most guest frames in use at once. */
  get framesPeak(): number {
    return this.#frames.peak;
  }

  /** Every counter by name (with framesInUse and framesPeak), for reports. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, value] of Object.entries(this)) if (typeof value === 'number') out[name] = value;
    out.framesInUse = this.framesInUse;
    out.framesPeak = this.framesPeak;
    return out;
  }
}
