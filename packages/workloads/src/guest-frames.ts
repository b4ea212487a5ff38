const PAGE = 4096;

/**
 * The guest kernel's allocator of guest-physical 4 KiB frames, with reference counts (a frame shared
 * copy-on-write by several processes, or held by a DOS box's EMS pool and mapped into its page frame,
 * is freed when its last reference goes) and contiguous, aligned huge frames for transparent huge pages.
 * Freed frames are reused, most recently freed first. Every free frame reads as zero: the kernel zeroes
 * page-table frames before it frees them, and data contents are not modeled (accesses carry no values).
 */
export class GuestFrames {
  /** First and end guest-physical addresses of the region the kernel owns. */
  declare readonly start: number;
  declare readonly end: number;
  /** The size of a huge frame: 2 MiB, or 4 MiB under 32-bit paging. */
  declare readonly hugeSize: number;
  /** Frames in use now (a huge frame counts as hugeSize / 4096). */
  declare inUse: number;
  /** The most frames in use at once. */
  declare peak: number;
  declare private readonly refs: Uint16Array;
  /** 1 where a huge frame starts. */
  declare private readonly huge: Uint8Array;
  declare private readonly free4k: number[];
  declare private readonly freeHuge: number[];
  declare private bump: number;

  constructor(start: number, end: number, hugeSize: number) {
    if (start % PAGE !== 0 || end % PAGE !== 0 || end <= start) {
      throw new RangeError(
        `guest frame region [0x${start.toString(16)}, 0x${end.toString(16)}) is not 4 KiB aligned and non-empty`,
      );
    }
    this.start = start;
    this.end = end;
    this.hugeSize = hugeSize;
    this.inUse = 0;
    this.peak = 0;
    const frames = (end - start) / PAGE;
    this.refs = new Uint16Array(frames);
    this.huge = new Uint8Array(frames);
    this.free4k = [];
    this.freeHuge = [];
    this.bump = start;
  }

  /** A free 4 KiB frame (zero), with one reference. Throws when guest memory is exhausted. */
  allocate(): number {
    let frame = this.free4k.pop();
    if (frame === undefined) {
      if (this.bump < this.end) {
        frame = this.bump;
        this.bump += PAGE;
      } else {
        const block = this.freeHuge.pop();
        if (block === undefined) {
          throw new RangeError(
            `guest memory exhausted: all ${(this.end - this.start) / PAGE} frames of [0x${this.start.toString(16)}, 0x${this.end.toString(16)}) are in use`,
          );
        }
        // Break a free huge block into 4 KiB frames.
        for (let f = block + this.hugeSize - PAGE; f > block; f -= PAGE) this.free4k.push(f);
        frame = block;
      }
    }
    this.refs[(frame - this.start) / PAGE] = 1;
    this.count(1);
    return frame;
  }

  /** A free huge frame (aligned to its size), with one reference; -1 when none is left (the kernel falls back to 4 KiB pages). */
  allocateHuge(): number {
    let block = this.freeHuge.pop();
    if (block === undefined) {
      const aligned = Math.ceil(this.bump / this.hugeSize) * this.hugeSize;
      if (aligned + this.hugeSize > this.end) return -1;
      // Frames skipped to reach the alignment go to the 4 KiB free list.
      for (let f = aligned - PAGE; f >= this.bump; f -= PAGE) this.free4k.push(f);
      block = aligned;
      this.bump = aligned + this.hugeSize;
    }
    const index = (block - this.start) / PAGE;
    this.refs[index] = 1;
    this.huge[index] = 1;
    this.count(this.hugeSize / PAGE);
    return block;
  }

  /** Adds a reference to the frame (or huge frame) at `frame`. */
  ref(frame: number): void {
    const index = this.index(frame);
    const refs = this.refs[index] as number;
    if (refs === 0) throw new RangeError(`frame 0x${frame.toString(16)} is free: it cannot gain a reference`);
    if (refs === 0xffff) throw new RangeError(`frame 0x${frame.toString(16)} has too many references`);
    this.refs[index] = refs + 1;
  }

  /** Drops a reference; frees the frame when it was the last. Returns the references left. */
  release(frame: number): number {
    const index = this.index(frame);
    const refs = this.refs[index] as number;
    if (refs === 0) throw new RangeError(`frame 0x${frame.toString(16)} is already free`);
    this.refs[index] = refs - 1;
    if (refs > 1) return refs - 1;
    if (this.huge[index] === 1) {
      this.huge[index] = 0;
      this.freeHuge.push(frame);
      this.count(-this.hugeSize / PAGE);
    } else {
      this.free4k.push(frame);
      this.count(-1);
    }
    return 0;
  }

  /** References held on the frame at `frame` (0 when free). */
  refCount(frame: number): number {
    return this.refs[this.index(frame)] as number;
  }

  /** Whether `frame` starts an allocated huge frame. */
  isHuge(frame: number): boolean {
    return this.huge[this.index(frame)] === 1;
  }

  private index(frame: number): number {
    if (frame < this.start || frame >= this.end || frame % PAGE !== 0) {
      throw new RangeError(`0x${frame.toString(16)} is not a guest frame the kernel owns`);
    }
    return (frame - this.start) / PAGE;
  }

  private count(delta: number): void {
    this.inUse += delta;
    if (this.inUse > this.peak) this.peak = this.inUse;
  }
}
