import { Perm } from '@hvsim/cpu-core';

/**
 * Permission and state bits of a cached translation: cpu-core's `Perm`. A TLB entry caches exactly
 * what the walk that filled it found.
 */
export { Perm };

/** The bits of `Perm` (the low byte of a stored permission word). */
export const PERM_MASK = 0xff;

/**
 * A requirement that the given `Perm` bits be clear in the cached entry, for use in a lookup's `need`
 * mask: `permClear(Perm.User)` asks for a supervisor page (a supervisor fetch under SMEP, a supervisor
 * data access under SMAP; SDM vol. 3A §4.6.1). Stored entries keep the complement of their bits in the
 * second byte, so positive and negative requirements are one masked compare.
 */
export function permClear(bits: number): number {
  return (bits & PERM_MASK) << 8;
}

/** The stored form of a permission byte: the bits, and their complement shifted into the second byte. */
export function storedPerms(perms: number): number {
  return (perms & PERM_MASK) | ((~perms & PERM_MASK) << 8);
}

/** What a plain access of each kind needs, before the MMU adds its mode's rules (CR0.WP, SMEP, SMAP, U/S). */
export const Need = {
  /** A supervisor read: any cached translation serves it. */
  Read: 0,
  /** A write: writable and already dirty. */
  Write: Perm.Write | Perm.Dirty,
  /** An instruction fetch: executable. */
  Execute: Perm.Execute,
  /** Add to any of the above for a user-mode access. */
  User: Perm.User,
} as const;
