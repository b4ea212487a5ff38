import { describe, expect, it } from 'vitest';
import { ASID_NONE, globalContext, NO_NESTED_ROOT, pcidOfContext, TagTable } from './tag-table.js';

describe('TagTable', () => {
  it('interns (asid, pcid, root) into small handles that decode back', () => {
    const t = new TagTable();
    const a = t.context(1, 7);
    expect(t.context(1, 7)).toBe(a);
    expect(t.asidOf(a)).toBe(1);
    expect(pcidOfContext(a)).toBe(7);
    expect(t.nestedRootOf(a)).toBe(NO_NESTED_ROOT);
    const r = t.context(0xffff, 4095, 2 ** 51);
    expect(t.asidOf(r)).toBe(0xffff);
    expect(pcidOfContext(r)).toBe(4095);
    expect(t.nestedRootOf(r)).toBe(2 ** 51);
    expect(t.spaceCount).toBe(2);
  });

  it('gives every PCID of a space the same global handle, and other spaces other ones', () => {
    const t = new TagTable();
    expect(globalContext(t.context(1, 0))).toBe(globalContext(t.context(1, 4095)));
    expect(globalContext(t.context(1, 0))).not.toBe(globalContext(t.context(2, 0)));
    expect(globalContext(t.context(1, 0))).not.toBe(globalContext(t.context(1, 0, 0x1000)));
    expect(t.nestedContext(1)).toBe(globalContext(t.context(1, 3)));
    expect(pcidOfContext(t.nestedContext(ASID_NONE, 0x1000))).toBe(-1);
  });

  it('rejects out-of-range tags', () => {
    const t = new TagTable();
    expect(() => t.context(1, 4096)).toThrow(RangeError);
    expect(() => t.context(1, -1)).toThrow(RangeError);
    expect(() => t.context(-2, 0)).toThrow(RangeError);
    expect(() => t.context(1.5, 0)).toThrow(RangeError);
    expect(() => t.context(1, 0, 2 ** 52)).toThrow(RangeError);
  });
});
