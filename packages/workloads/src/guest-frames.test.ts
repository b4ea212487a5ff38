import { describe, expect, it } from 'vitest';
import { GuestFrames } from './guest-frames.js';

const MiB = 2 ** 20;

describe('GuestFrames', () => {
  it('hands out frames, reuses freed ones first, and frees on the last reference', () => {
    const frames = new GuestFrames(MiB, 2 * MiB, 2 * MiB);
    const a = frames.allocate();
    const b = frames.allocate();
    expect([a, b]).toEqual([MiB, MiB + 4096]);
    frames.ref(a);
    expect(frames.release(a)).toBe(1);
    expect(frames.inUse).toBe(2);
    expect(frames.release(a)).toBe(0);
    expect(frames.allocate()).toBe(a);
    expect(() => frames.release(MiB + 8192)).toThrow(/already free/);
    expect(() => frames.ref(0)).toThrow(/not a guest frame/);
  });

  it('aligns huge frames, keeps the skipped frames for 4 KiB use, and returns -1 when none fits', () => {
    const frames = new GuestFrames(MiB, 6 * MiB, 2 * MiB);
    frames.allocate(); // 1 MiB
    const huge = frames.allocateHuge();
    // The next 2 MiB boundary at or above 1 MiB + 4 KiB is 2 MiB.
    expect(huge).toBe(2 * MiB);
    expect(frames.inUse).toBe(1 + 512);
    // The frames between 1 MiB + 4 KiB and 2 MiB went to the free list: the next 4 KiB frame is one of them.
    const small = frames.allocate();
    expect(small).toBeGreaterThan(MiB);
    expect(small).toBeLessThan(2 * MiB);
    // [4 MiB, 6 MiB) is the last aligned block that fits below the 6 MiB end; then none is left.
    expect(frames.allocateHuge()).toBe(4 * MiB);
    expect(frames.allocateHuge()).toBe(-1);
    // A freed huge frame is reused whole.
    expect(frames.release(2 * MiB)).toBe(0);
    expect(frames.allocateHuge()).toBe(2 * MiB);
  });

  it('throws a named error when guest memory is exhausted', () => {
    const frames = new GuestFrames(MiB, MiB + 8192, 2 * MiB);
    frames.allocate();
    frames.allocate();
    expect(() => frames.allocate()).toThrow(/guest memory exhausted: all 2 frames/);
  });
});
