/** How a walk ended. */
export const WalkStatus = {
  /** The access is allowed; `physical` holds its address. */
  Ok: 0,
  /** A page fault (#PF) with `errorCode` and the faulting linear address. */
  PageFault: 1,
  /** A general-protection fault (#GP(0)): a non-canonical address, or bad PDPTEs on their load. */
  GeneralProtection: 2,
  /** The table port refused an access to a paging-structure entry (a nested page fault, an EPT violation or misconfiguration); the port holds the details. */
  PortFault: 3,
} as const;
export type WalkStatus = (typeof WalkStatus)[keyof typeof WalkStatus];

/**
 * Permission and state bits of a translation, as a walk finds them and a TLB caches them: the AND of
 * R/W and U/S over the walk, executable when no level had XD=1 (with NXE on), and the leaf's dirty and
 * global bits (Intel SDM vol. 3A §4.6, §4.10.2.2; AMD APM vol. 2 §5.6).
 */
export const Perm = {
  /** Writable at every level. */
  Write: 1 << 0,
  /** User-accessible at every level. */
  User: 1 << 1,
  /** Executable at every level (no level has XD=1 with NXE on). */
  Execute: 1 << 2,
  /**
   * The leaf's dirty bit was set. A write needs it: a write to a page cached with D=0 must go back to
   * the walker so that hardware sets D in memory (SDM vol. 3A §4.8; APM vol. 2 §5.4.2).
   */
  Dirty: 1 << 3,
  /** The leaf is global (G=1 with CR4.PGE=1): it matches every PCID, only within its address space. */
  Global: 1 << 4,
} as const;

/**
 * The outcome of one walk, written into a caller-owned object so that walking allocates nothing.
 * Per-level arrays are indexed by level number (1 = PTE … 5 = PML5E); they let an MMU fill its
 * paging-structure caches after a walk.
 */
export class WalkResult {
  status: WalkStatus = WalkStatus.Ok;
  /** The physical address the access reaches (the walker's physical space: guest-physical under nesting). */
  physical = 0;
  /** log2 of the page size: 12, 21, 22 or 30. */
  pageShift = 12;
  /** Perm bits of the translation. */
  perms = 0;
  /** The leaf's protection key (4- and 5-level paging), else 0. */
  protectionKey = 0;
  /** #PF or #GP error code. */
  errorCode = 0;
  /** The level at which the walk ended (the leaf, or the faulting entry; 0 when no entry was involved). */
  level = 0;
  /** Low and high halves of the faulting linear address (what CR2 receives). */
  faultLo = 0;
  faultHi = 0;
  /** Memory references the walk made to paging-structure entries (this stage only). */
  references = 0;
  /** Physical address of the table consulted at each level. */
  readonly table = new Float64Array(6);
  /** The entry read at each level, low and high halves (after any A/D update). */
  readonly entryLo = new Uint32Array(6);
  readonly entryHi = new Uint32Array(6);
  /** Accumulated perms (Write | User | Execute) after each level's entry. */
  readonly levelPerms = new Uint8Array(6);
}

/** Which stage of a translation a memory reference belongs to. */
export const Stage = {
  Guest: 0,
  Nested: 1,
} as const;
export type Stage = (typeof Stage)[keyof typeof Stage];

/** Flags of a recorded reference. */
export const RefFlag = {
  /** The entry's contents came from a walk cache: the reference was saved, not made. */
  Cached: 1 << 0,
  /** The walker wrote the entry back (accessed/dirty update). */
  Updated: 1 << 1,
} as const;

/**
 * A record of the memory references of a walk, in order: stage, level, host-physical address and
 * entry. Typed arrays with a fixed capacity (a 5x5 two-dimensional walk makes 35), reused across walks.
 */
export class WalkTrace {
  count = 0;
  readonly stage: Uint8Array;
  readonly level: Uint8Array;
  readonly flags: Uint8Array;
  readonly address: Float64Array;
  readonly entryLo: Uint32Array;
  readonly entryHi: Uint32Array;

  readonly capacity: number;

  constructor(capacity = 64) {
    this.capacity = capacity;
    this.stage = new Uint8Array(capacity);
    this.level = new Uint8Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.address = new Float64Array(capacity);
    this.entryLo = new Uint32Array(capacity);
    this.entryHi = new Uint32Array(capacity);
  }

  /** Forgets every reference. */
  clear(): void {
    this.count = 0;
  }

  /** Appends a reference and returns its index (references past the capacity are dropped, -1). */
  push(stage: Stage, level: number, address: number, lo: number, hi: number, flags = 0): number {
    const i = this.count;
    if (i >= this.capacity) return -1;
    this.stage[i] = stage;
    this.level[i] = level;
    this.flags[i] = flags;
    this.address[i] = address;
    this.entryLo[i] = lo;
    this.entryHi[i] = hi;
    this.count = i + 1;
    return i;
  }

  /** Replaces the entry recorded at index `i` (after an accessed/dirty update). */
  update(i: number, lo: number, hi: number): void {
    if (i < 0) return;
    this.entryLo[i] = lo;
    this.entryHi[i] = hi;
    this.flags[i] |= RefFlag.Updated;
  }
}
