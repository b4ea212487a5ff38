/**
 * The kind of a memory access, with the same values as `AccessKind` in `@hvsim/cpu-core` (Intel SDM
 * vol. 3A §4.6; AMD APM vol. 2 §5.6), so an MMU passes its own value straight through.
 */
export const AccessKind = {
  Read: 0,
  Write: 1,
  /** An instruction fetch: looked up in the instruction path of a hierarchy. */
  Execute: 2,
} as const;
export type AccessKind = (typeof AccessKind)[keyof typeof AccessKind];

/** Names of the access kinds, as statistics snapshots spell them. */
export const accessKindName: Readonly<Record<AccessKind, 'read' | 'write' | 'execute'>> = {
  [AccessKind.Read]: 'read',
  [AccessKind.Write]: 'write',
  [AccessKind.Execute]: 'execute',
};
