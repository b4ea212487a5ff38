import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RecordBatch, TraceKind } from './records.js';

/*
 * `@hvsim/traces/records` is what @hvsim/workloads imports: it must reach no Node built-in, so a
 * guest model that runs batches stays usable in a browser. The main entry point reads files and may.
 */

function reachable(entry: string): Map<string, string> {
  const seen = new Map<string, string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    const text = readFileSync(new URL(file, import.meta.url), 'utf8');
    seen.set(file, text);
    for (const match of text.matchAll(/from '(\.\/[^']+)\.js'/g)) queue.push(`${match[1]}.ts`);
  }
  return seen;
}

const NODE_IMPORT = /from 'node:|from '(fs|path|url|stream)'|process\./;

describe('@hvsim/traces/records', () => {
  it('reaches no Node built-in, while the main entry point does', () => {
    const records = reachable('./records.ts');
    expect(records.size).toBe(4);
    expect([...records].filter(([, text]) => NODE_IMPORT.test(text)).map(([file]) => file)).toEqual([]);
    expect([...reachable('./index.ts').values()].some((text) => NODE_IMPORT.test(text))).toBe(true);
  });

  it('holds the record kinds lackey spells L, S, M and I, and batches of them', () => {
    expect([TraceKind.Load, TraceKind.Store, TraceKind.Modify, TraceKind.Fetch]).toEqual([0, 1, 2, 3]);
    const batch = new RecordBatch(4);
    expect(batch.kind.length).toBe(4);
  });
});
