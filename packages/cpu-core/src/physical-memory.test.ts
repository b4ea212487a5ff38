import { describe, expect, it } from 'vitest';
import { MAX_PHYSICAL_ADDRESS_BITS, PhysicalMemory, splitHalves } from './physical-memory.js';

/*
 * Expectations follow from what x86 memory is: byte-addressed and little-endian (Intel SDM vol. 1
 * §1.3.1, "bytes of a word are numbered starting from the least significant byte"), with physical
 * addresses below 2^MAXPHYADDR, MAXPHYADDR at most 52 (SDM vol. 3A §4.1.4).
 */

const FRAME = 4096;

describe('PhysicalMemory: reading untouched memory', () => {
  it('reads zero everywhere and touches no frame by reading', () => {
    const memory = new PhysicalMemory();
    expect(memory.read8(0)).toBe(0);
    expect(memory.read16(0x1234_5677)).toBe(0);
    expect(memory.read32(0xffff_fffc)).toBe(0);
    expect(memory.read64(0x7f_0000_0000)).toBe(0n);
    expect(memory.readWord(0x12_3456_7000)).toBe(0);
    expect(memory.touchedFrames).toBe(0);
    expect(memory.touchedFrameNumbers()).toEqual([]);
  });

  it('defaults to a 48-bit physical address space', () => {
    const memory = new PhysicalMemory();
    expect(memory.maxPhysicalAddressBits).toBe(48);
    expect(memory.size).toBe(2 ** 48);
    expect(MAX_PHYSICAL_ADDRESS_BITS).toBe(52);
  });
});

describe('PhysicalMemory: little-endian values', () => {
  it('stores the least significant byte at the lowest address', () => {
    const memory = new PhysicalMemory();
    memory.write32(0x100, 0x1122_3344);
    expect([0x100, 0x101, 0x102, 0x103].map((a) => memory.read8(a))).toEqual([0x44, 0x33, 0x22, 0x11]);
    expect(memory.read16(0x100)).toBe(0x3344);
    expect(memory.read16(0x102)).toBe(0x1122);
    expect(memory.readWord(0x100)).toBe(0x1122_3344);

    memory.write16(0x200, 0xbeef);
    expect(memory.read8(0x200)).toBe(0xef);
    expect(memory.read8(0x201)).toBe(0xbe);
    memory.write8(0x202, 0x7f);
    expect(memory.read32(0x200)).toBe(0x007f_beef);
  });

  it('reads and writes 64-bit values as BigInt, low half first', () => {
    const memory = new PhysicalMemory();
    memory.write64(0x1000, 0x0102_0304_0506_0708n);
    expect(memory.readWord(0x1000)).toBe(0x0506_0708);
    expect(memory.readWord(0x1004)).toBe(0x0102_0304);
    expect(memory.read8(0x1000)).toBe(0x08);
    expect(memory.read8(0x1007)).toBe(0x01);
    expect(memory.read64(0x1000)).toBe(0x0102_0304_0506_0708n);
    memory.write64(0x1008, 0xffff_ffff_ffff_ffffn);
    expect(memory.read32(0x1008)).toBe(0xffff_ffff);
    expect(memory.read64(0x1008)).toBe(0xffff_ffff_ffff_ffffn);
  });

  it('handles unaligned values, including ones that straddle a 4 KiB frame boundary', () => {
    const memory = new PhysicalMemory();
    // Bytes dd cc | bb aa across the boundary at 0x1000.
    memory.write32(0xffe, 0xaabb_ccdd);
    expect(memory.touchedFrameNumbers()).toEqual([0, 1]);
    expect(memory.read32(0xffe)).toBe(0xaabb_ccdd);
    expect(memory.read16(0xfff)).toBe(0xbbcc);
    expect(memory.readWord(0xffc)).toBe(0xccdd_0000);
    expect(memory.readWord(0x1000)).toBe(0x0000_aabb);

    memory.write16(0x1fff, 0x1234);
    expect(memory.read8(0x1fff)).toBe(0x34);
    expect(memory.read8(0x2000)).toBe(0x12);

    memory.write64(0x2ffd, 0x8877_6655_4433_2211n);
    expect(memory.read64(0x2ffd)).toBe(0x8877_6655_4433_2211n);
    expect(memory.read8(0x2fff)).toBe(0x33);
    expect(memory.read8(0x3000)).toBe(0x44);
    expect(memory.read32(0x2fff)).toBe(0x6655_4433);
    expect(memory.touchedFrameNumbers()).toEqual([0, 1, 2, 3]);
  });

  it('reaches the very top of a 52-bit physical address space', () => {
    const memory = new PhysicalMemory({ maxPhysicalAddressBits: 52 });
    const top = 2 ** 52;
    memory.write64(top - 8, 0xfedc_ba98_7654_3210n);
    expect(memory.readWord(top - 8)).toBe(0x7654_3210);
    expect(memory.readWord(top - 4)).toBe(0xfedc_ba98);
    expect(memory.read8(top - 1)).toBe(0xfe);
    expect(memory.read16(top - 2)).toBe(0xfedc);
    memory.write32(top - FRAME - 2, 0x0a0b_0c0d); // straddles the last frame boundary
    expect(memory.read16(top - FRAME)).toBe(0x0a0b);
    expect(memory.touchedFrameNumbers()).toEqual([2 ** 40 - 2, 2 ** 40 - 1]);
    // Nearby frames stay distinct: 2^52 - 4 KiB and 2^52 - 8 KiB are different frames.
    expect(memory.readWord(top - 2 * FRAME)).toBe(0);
  });
});

describe('PhysicalMemory: range errors', () => {
  it('rejects a MAXPHYADDR outside 32..52', () => {
    expect(() => new PhysicalMemory({ maxPhysicalAddressBits: 31 })).toThrow(
      /maxPhysicalAddressBits must be an integer from 32 to 52, got 31/,
    );
    expect(() => new PhysicalMemory({ maxPhysicalAddressBits: 53 })).toThrow(RangeError);
    expect(() => new PhysicalMemory({ maxPhysicalAddressBits: 40.5 })).toThrow(RangeError);
  });

  it('rejects addresses at or beyond 2^MAXPHYADDR, naming the address and the width', () => {
    const memory = new PhysicalMemory({ maxPhysicalAddressBits: 36 });
    expect(() => memory.read8(2 ** 36)).toThrow(
      'physical address 0x1000000000 (+1 bytes) is outside the 36-bit physical address space',
    );
    // The last byte fits; a value that would run past the end does not.
    expect(memory.read8(2 ** 36 - 1)).toBe(0);
    expect(() => memory.read32(2 ** 36 - 2)).toThrow(/0xffffffffe \(\+4 bytes\) is outside the 36-bit/);
    expect(() => memory.write64(2 ** 36 - 4, 0n)).toThrow(RangeError);
    expect(() => memory.writeEntry(2 ** 36, 0, 0)).toThrow(RangeError);
    const m52 = new PhysicalMemory({ maxPhysicalAddressBits: 52 });
    expect(() => m52.write8(2 ** 52, 0)).toThrow(/outside the 52-bit physical address space/);
  });

  it('rejects negative and non-integer addresses', () => {
    const memory = new PhysicalMemory();
    expect(() => memory.read8(-1)).toThrow(
      'physical address -1 (+1 bytes) is outside the 48-bit physical address space',
    );
    expect(() => memory.write32(0.5, 0)).toThrow(/physical address 0.5 /);
    expect(() => memory.read16(Number.NaN)).toThrow(/physical address NaN /);
    expect(() => memory.read64(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('rejects widths other than 1, 2 and 4 bytes', () => {
    const memory = new PhysicalMemory();
    for (const bytes of [0, 3, 8, 1.5, -1]) {
      expect(() => memory.read(0, bytes as 1)).toThrow(`width ${bytes} is not 1, 2 or 4 bytes`);
      expect(() => memory.write(0, bytes as 1, 0)).toThrow(`width ${bytes} is not 1, 2 or 4 bytes`);
    }
    expect(memory.touchedFrames).toBe(0);
  });

  it('rejects values that do not fit the width', () => {
    const memory = new PhysicalMemory();
    expect(() => memory.write8(0, 256)).toThrow('value 256 does not fit in 1 bytes');
    expect(() => memory.write16(0, -1)).toThrow(/value -1 does not fit in 2 bytes/);
    expect(() => memory.write32(0, 2 ** 32)).toThrow(/does not fit in 4 bytes/);
    expect(() => memory.write32(0, 1.5)).toThrow(RangeError);
    expect(() => memory.write64(0, 1n << 64n)).toThrow('value 0x10000000000000000 does not fit in 64 bits');
    expect(() => memory.write64(0, -1n)).toThrow(RangeError);
    expect(memory.touchedFrames).toBe(0);
  });

  it('requires writeEntry addresses to be 8-byte aligned', () => {
    const memory = new PhysicalMemory();
    expect(() => memory.writeEntry(0x1004, 1, 0)).toThrow('table entry address 0x1004 is not 8-byte aligned');
  });
});

describe('PhysicalMemory: table entries as 32-bit halves', () => {
  it('writeEntry stores the low half at the address and the high half 4 bytes above', () => {
    const memory = new PhysicalMemory();
    memory.writeEntry(0x2008, 0x1234_5067, 0x8000_0001);
    expect(memory.readWord(0x2008)).toBe(0x1234_5067);
    expect(memory.readWord(0x200c)).toBe(0x8000_0001);
    expect(memory.read64(0x2008)).toBe(0x8000_0001_1234_5067n);
    expect(memory.read8(0x2008)).toBe(0x67);
    // Neighbouring entries are untouched.
    expect(memory.readWord(0x2000)).toBe(0);
    expect(memory.readWord(0x2010)).toBe(0);
  });

  it('normalizes signed halves (the result of a bitwise OR) to unsigned words', () => {
    const memory = new PhysicalMemory();
    const lo = 0x8000_0000 | 0x7; // -2147483641 as a number
    const hi = 0x8000_0000 | 0x1;
    expect(lo).toBeLessThan(0);
    memory.writeEntry(0x3000, lo, hi);
    expect(memory.readWord(0x3000)).toBe(0x8000_0007);
    expect(memory.readWord(0x3004)).toBe(0x8000_0001);
    memory.writeWord(0x3008, -1);
    expect(memory.readWord(0x3008)).toBe(0xffff_ffff);
  });

  it('splitHalves and the 64-bit view agree', () => {
    const value = 0xf_ffff_8765_4321;
    const { lo, hi } = splitHalves(value);
    expect(lo).toBe(0x8765_4321);
    expect(hi).toBe(0xf_ffff);
    const memory = new PhysicalMemory({ maxPhysicalAddressBits: 52 });
    memory.writeEntry(0, lo, hi);
    expect(memory.read64(0)).toBe(BigInt(value));
  });
});

describe('PhysicalMemory: sparse frames', () => {
  it('keeps its contents while the frame pool grows', () => {
    const memory = new PhysicalMemory();
    // The pool starts at 16 frames; 200 frames force several doublings.
    const frames = Array.from({ length: 200 }, (_, i) => (i * 7919 + 13) % 100_003);
    frames.forEach((frame, i) => {
      memory.writeWord(frame * FRAME, i);
      memory.writeWord(frame * FRAME + 4092, 0xffff_ffff - i);
      memory.write8(frame * FRAME + 1001, i & 0xff);
    });
    expect(memory.touchedFrames).toBe(200);
    frames.forEach((frame, i) => {
      expect(memory.readWord(frame * FRAME)).toBe(i);
      expect(memory.readWord(frame * FRAME + 4092)).toBe(0xffff_ffff - i);
      expect(memory.read8(frame * FRAME + 1001)).toBe(i & 0xff);
    });
    expect(memory.touchedFrameNumbers()).toEqual([...frames].sort((a, b) => a - b));
  });

  it('holds a 256 GiB space with a few thousand scattered pages in memory proportional to those pages', () => {
    const before = process.memoryUsage().arrayBuffers;
    const memory = new PhysicalMemory({ maxPhysicalAddressBits: 38 });
    expect(memory.size).toBe(256 * 2 ** 30);
    const frameCount = memory.size / FRAME; // 2^26 frames
    const touched = new Set<number>();
    let seed = 0x1234_5678;
    while (touched.size < 3000) {
      // A 32-bit xorshift: a deterministic spread over the whole space.
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      const frame = (seed >>> 0) % frameCount;
      touched.add(frame);
      memory.writeWord(frame * FRAME + ((seed >>> 20) & 0xffc), frame);
    }
    expect(memory.touchedFrames).toBe(touched.size);
    expect(memory.touchedFrameNumbers()).toEqual([...touched].sort((a, b) => a - b));
    const grown = process.memoryUsage().arrayBuffers - before;
    // 3000 frames are 11.7 MiB; a doubling pool holds at most twice that, and the buffers it
    // outgrew (not yet collected) add at most as much again. 256 GiB dense would be 20000x more.
    expect(grown).toBeLessThan(4 * 3000 * FRAME + 16 * FRAME);
    for (const frame of touched) {
      let found = false;
      for (let offset = 0; offset < FRAME && !found; offset += 4) {
        found = memory.readWord(frame * FRAME + offset) === frame;
      }
      expect(found).toBe(true);
    }
    // Reading untouched frames allocates nothing.
    let untouched = 0;
    while (touched.has(untouched)) untouched++;
    expect(memory.readWord(untouched * FRAME)).toBe(0);
    expect(memory.read32(untouched * FRAME + 2)).toBe(0);
    expect(memory.touchedFrames).toBe(touched.size);
  });

  it('zeroFrame clears a written frame and leaves untouched frames untouched', () => {
    const memory = new PhysicalMemory();
    memory.write32(0x5004, 0xdead_beef);
    memory.write32(0x6000, 7);
    memory.zeroFrame(0x5fff);
    expect(memory.read32(0x5004)).toBe(0);
    expect(memory.read32(0x6000)).toBe(7);
    memory.zeroFrame(0x9000);
    expect(memory.touchedFrames).toBe(2);
  });

  it('copyFrame copies a written frame and zeroes the target for an untouched source', () => {
    const memory = new PhysicalMemory();
    memory.write32(0x1ffc, 0x1234_5678);
    memory.write32(0x3000, 9);
    memory.copyFrame(0x1000, 0x7000);
    expect(memory.read32(0x7ffc)).toBe(0x1234_5678);
    memory.copyFrame(0x9000, 0x3000);
    expect(memory.read32(0x3000)).toBe(0);
  });
});

describe('readFrame', () => {
  it('copies the 4 KiB frame holding the address, what readWord reads word by word; zeros for an untouched frame', () => {
    const m = new PhysicalMemory();
    m.writeWord(0x1_2345_6000, 0xdead_beef);
    m.writeWord(0x1_2345_6ffc, 7);
    const into = new Uint32Array(1024).fill(1);
    m.readFrame(0x1_2345_6abc, into);
    for (let w = 0; w < 1024; w++) expect(into[w]).toBe(m.readWord(0x1_2345_6000 + w * 4));
    expect(into[0]).toBe(0xdead_beef);
    expect(into[1023]).toBe(7);
    m.readFrame(0x9000, into);
    expect(into.every((v) => v === 0)).toBe(true);
  });
});
