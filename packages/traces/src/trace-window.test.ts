import { describe, expect, it } from 'vitest';
import { RecordBatch, type TraceBatch } from './trace-batch.js';
import { windowBatches } from './trace-window.js';

/* Records 0..9 in batches of 4, 4 and 2; each record's address is its index. */
async function* source(closed: { value: boolean }): AsyncGenerator<TraceBatch> {
  try {
    for (const [first, count] of [
      [0, 4],
      [4, 4],
      [8, 2],
    ]) {
      const batch = new RecordBatch(4);
      for (let i = 0; i < count; i++) {
        batch.kind[i] = 0;
        batch.addressLo[i] = first + i;
        batch.size[i] = 8;
      }
      batch.length = count;
      yield batch;
    }
  } finally {
    closed.value = true;
  }
}

async function addresses(skip?: number, records?: number): Promise<{ got: number[]; closed: boolean }> {
  const closed = { value: false };
  const got: number[] = [];
  const window = { ...(skip === undefined ? {} : { skip }), ...(records === undefined ? {} : { records }) };
  for await (const batch of windowBatches(source(closed), window))
    for (let i = 0; i < batch.length; i++) got.push(batch.addressLo[i]);
  return { got, closed: closed.value };
}

describe('windowBatches', () => {
  it('passes every record without a window', async () => {
    expect((await addresses()).got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('skips records across batch edges and caps the rest, closing the source early', async () => {
    expect((await addresses(3)).got).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect((await addresses(3, 4)).got).toEqual([3, 4, 5, 6]);
    expect((await addresses(0, 4)).got).toEqual([0, 1, 2, 3]);
    expect((await addresses(9, 5)).got).toEqual([9]);
    expect((await addresses(10)).got).toEqual([]);
    // Capped inside the second batch: the source's finally ran, its file would be closed.
    expect((await addresses(2, 3)).closed).toBe(true);
  });

  it('refuses counts that are not non-negative integers', async () => {
    await expect(addresses(-1)).rejects.toThrow('skip must be a non-negative integer, got -1');
    await expect(addresses(0, 1.5)).rejects.toThrow('records must be a non-negative integer, got 1.5');
  });
});
