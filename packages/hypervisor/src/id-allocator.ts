/**
 * ASID/VPID management as real hypervisors do it (KVM's svm_pre_run/new_asid and vmx VPID bitmap):
 * each physical CPU hands out ids from a pool of its own, 1 to `poolSize`, in order; when the pool
 * runs out it starts a new generation, flushes every guest translation on that CPU, and hands ids out
 * again from 1. A vCPU keeps its id on a CPU while the generation it got it in is current; moved to
 * another CPU, or after a rollover, it gets a new id, and its first entry with it needs no flush
 * beyond the rollover's (a fresh id has nothing cached: it was flushed when its generation began).
 */
export class IdAllocator {
  readonly poolSize: number;
  /** The current generation (starts at 1). */
  generation = 1;
  /** Ids handed out in the current generation. */
  private next = 1;
  /** How many times the pool ran out (each a full flush of guest translations). */
  rollovers = 0;
  /** Ids handed out in all. */
  assigned = 0;

  constructor(poolSize: number) {
    if (!Number.isInteger(poolSize) || poolSize < 1) {
      throw new RangeError(`an id pool needs at least one id, got ${poolSize}`);
    }
    this.poolSize = poolSize;
  }

  /**
   * A new id for a vCPU. `rolledOver` tells whether this call started a new generation: the caller
   * must flush all guest translations of the CPU before entering the guest.
   */
  assign(): { id: number; generation: number; rolledOver: boolean } {
    let rolledOver = false;
    if (this.next > this.poolSize) {
      this.generation++;
      this.rollovers++;
      this.next = 1;
      rolledOver = true;
    }
    this.assigned++;
    return { id: this.next++, generation: this.generation, rolledOver };
  }

  /** Whether an id of `generation` is still valid on this CPU. */
  isCurrent(generation: number): boolean {
    return generation === this.generation;
  }
}
