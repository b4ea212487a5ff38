/**
 * The invalidation operations every structure offers, each with its own statistics counter. They are
 * building blocks: vendor packages compose them into MOV CR3, INVLPG, INVPCID, INVLPGA, TLB_CONTROL,
 * INVEPT and INVVPID. The JSDoc of each flush method names the instructions it serves.
 */
export const InvalidationKind = {
  /** Everything (TLB_CONTROL 01h; SDM: a flush of all contexts). */
  All: 0,
  /** Every entry of one address-space id (TLB_CONTROL 03h; INVVPID single-context; INVPCID all-context with globals). */
  AddressSpace: 1,
  /** The non-global entries of one address-space id (TLB_CONTROL 07h; INVVPID single-context retaining globals; INVPCID all-context). */
  AddressSpaceNonGlobal: 2,
  /** Every entry of every address-space id except 0, the host (INVVPID all-context). */
  Guests: 3,
  /** One linear address in one address-space id, every PCID, globals too (INVLPGA; INVVPID individual-address). */
  Address: 4,
  /** One linear address in one PCID of one address-space id (INVLPG with globals; INVPCID individual-address without). */
  AddressInPcid: 5,
  /** One PCID of one address-space id (MOV CR3; INVPCID single-context). */
  Pcid: 6,
  /** Combined and guest-physical mappings of one nested root (INVEPT single-context). */
  NestedRoot: 7,
  /** Combined and guest-physical mappings of every nested root (INVEPT all-context). */
  AllNestedRoots: 8,
} as const;
export type InvalidationKind = (typeof InvalidationKind)[keyof typeof InvalidationKind];

/** Number of invalidation kinds. */
export const INVALIDATION_KIND_COUNT = 9;

/** Names of the invalidation kinds, indexed by code, as statistics snapshots spell them. */
export const invalidationKindName: readonly string[] = [
  'all',
  'addressSpace',
  'addressSpaceNonGlobal',
  'guests',
  'address',
  'addressInPcid',
  'pcid',
  'nestedRoot',
  'allNestedRoots',
];
