/**
 * What one trace record did. Values are small integers so a batch stores them in a `Uint8Array`.
 * `Modify` is lackey's `M`: a load and then a store of the same datum by one instruction (for
 * example `add [mem], reg`), which a simulator may count as one access or as two.
 */
export const TraceKind = { Load: 0, Store: 1, Modify: 2, Fetch: 3 } as const;
export type TraceKind = (typeof TraceKind)[keyof typeof TraceKind];

/**
 * The trace formats this package reads. `champsim-cloudsuite` is ChampSim's CloudSuite variant
 * (96-byte `cloudsuite_instr` records with ASIDs), which is never detected: it must be named.
 */
export type TraceFormat = 'lackey' | 'champsim' | 'champsim-cloudsuite' | 'hvsim';

/** Every trace format: the ones detection tries, in its order, then `champsim-cloudsuite`. */
export const TRACE_FORMATS: readonly TraceFormat[] = ['hvsim', 'lackey', 'champsim', 'champsim-cloudsuite'];

/** The one-letter name lackey prints for each kind (`I` for a fetch). */
export function traceKindLetter(kind: number): string {
  return 'LSMI'.charAt(kind) || '?';
}
