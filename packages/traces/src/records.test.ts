import { reachableModules, usesNode } from '@hvsim/test-utils';
import { describe, expect, it } from 'vitest';
import { RecordBatch, TraceKind } from './records.js';

/*
 * `@hvsim/traces/records` is what @hvsim/workloads imports: it must reach no Node built-in, so a
 * guest model that runs batches stays usable in a browser. The main entry point reads files and may.
 */

describe('@hvsim/traces/records', () => {
  it('reaches no Node built-in, while the main entry point does', () => {
    const records = reachableModules(new URL('./records.ts', import.meta.url));
    expect(records.size).toBe(4);
    expect([...records].filter(([, text]) => usesNode(text)).map(([file]) => file)).toEqual([]);
    expect([...reachableModules(new URL('./index.ts', import.meta.url)).values()].some(usesNode)).toBe(true);
  });

  it('holds the record kinds lackey spells L, S, M and I, and batches of them', () => {
    expect([TraceKind.Load, TraceKind.Store, TraceKind.Modify, TraceKind.Fetch]).toEqual([0, 1, 2, 3]);
    const batch = new RecordBatch(4);
    expect(batch.kind.length).toBe(4);
  });
});
