import { describe, expect, it } from 'vitest';
import { oneStageWalk } from './one-stage-walk.js';
import { twoDimensionalWalk } from './two-dimensional-walk.js';

describe('examples run and show what their comments promise', () => {
  it('one-stage walk: a translation in 4 references, a read of a read-only page, a #PF with P|W|U', () => {
    expect(oneStageWalk()).toEqual([
      'user read: 0x7fff00000123 -> 0x400000123 (4 references)',
      'user read of a read-only page: 0x7fff00001456 -> 0x400001456 (4 references)',
      'user write to a read-only page: 0x7fff00001456 -> #PF, error code 0x7',
    ]);
  });

  it('two-dimensional walk: 24 references under NPT and EPT, landing 4 GiB up in host memory', () => {
    const lines = twoDimensionalWalk();
    expect(lines.filter((l) => l.includes('24 memory references'))).toHaveLength(2);
    expect(lines.filter((l) => l.includes('host-physical 0x100800000'))).toHaveLength(2);
  });
});
