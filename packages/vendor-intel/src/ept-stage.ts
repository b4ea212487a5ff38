import {
  AccessKind,
  Perm,
  type PhysicalMemory,
  RefFlag,
  Stage,
  TWO_32,
  tableIndex,
  type WalkTrace,
} from '@hvsim/cpu-core';
import { NestedAccess, NestedFault, NestedFaultKind, type NestedStage } from '@hvsim/mmu-nested';
import { type PagingStructureCache, WalkEntry, walkEntryLevel } from '@hvsim/tlb-tagged';

/*
 * Intel extended page tables as a second stage (Intel SDM vol. 3C §29.3, "The Extended Page Table
 * Mechanism"; chapter 28 in the 2016 edition). Entries travel as lo/hi halves and addresses as plain
 * numbers; the walk allocates nothing.
 */

const R = 1;
const W = 2;
const X = 4;
const USER_X = 0x400; // bit 10: user-mode execute, with mode-based execute control
const PS = 0x80;
const ACCESSED = 0x100; // bit 8
const DIRTY = 0x200; // bit 9

/** Bits of the EPT-violation exit qualification (Intel SDM vol. 3C Table 28-7 / 27-7 in 2016). */
export const EptQualification = {
  READ: 1 << 0,
  WRITE: 1 << 1,
  FETCH: 1 << 2,
  READABLE: 1 << 3,
  WRITABLE: 1 << 4,
  EXECUTABLE: 1 << 5,
  USER_EXECUTABLE: 1 << 6,
  LINEAR_VALID: 1 << 7,
  /** With LINEAR_VALID: 1 = the access was to the translation of the linear address, 0 = to a guest paging-structure entry. */
  TRANSLATION: 1 << 8,
  /** Advanced information (IA32_VMX_EPT_VPID_CAP bit 22): the linear address is user-mode. */
  USER_LINEAR: 1 << 9,
  /** Advanced information: the linear address is writable. */
  WRITABLE_LINEAR: 1 << 10,
  /** Advanced information: the linear address is execute-disable. */
  XD_LINEAR: 1 << 11,
} as const;

/** The EPT capabilities a CPU reports (IA32_VMX_EPT_VPID_CAP and secondary controls). */
export interface EptCapabilities {
  /** Bit 0: execute-only translations (an entry with only X set is allowed). Default true. */
  readonly executeOnly?: boolean;
  /** Bit 21: accessed and dirty flags (EPTP bit 6 may be set). Default true. */
  readonly accessedDirty?: boolean;
  /** Secondary control bit 22 is set: mode-based execute control (bit 2 supervisor, bit 10 user execute). Default false. */
  readonly modeBasedExecute?: boolean;
  /** Bit 22: advanced VM-exit information for EPT violations (qualification bits 9 to 11). Default false. */
  readonly advancedViolationInfo?: boolean;
  /** Bit 7: 5-level EPT (page-walk length 5). Default true. */
  readonly fiveLevel?: boolean;
  /** Bit 17: 1 GiB pages. Default true. */
  readonly gigabytePages?: boolean;
  /** Bit 16: 2 MiB pages. Default true. */
  readonly largePages?: boolean;
}

/** A decoded, valid EPT pointer. */
export interface EptPointer {
  /** Physical address of the EPT PML4 (or PML5) table. */
  readonly root: number;
  /** 4 or 5. */
  readonly levels: 4 | 5;
  /** EPT paging-structure memory type (0 UC, 6 WB). */
  readonly memoryType: number;
  /** Bit 6: accessed and dirty flags enabled. */
  readonly accessedDirty: boolean;
}

/**
 * Decodes an EPTP and checks it as VM entry does (Intel SDM vol. 3C §26.2.1.1, Figure 29-1/28-1):
 * memory type UC (0) or WB (6); page-walk length minus one 3 (or 4 where 5-level EPT is supported);
 * bit 6 only with A/D support; bit 7 (supervisor shadow stacks) unsupported here; bits 11:8 and
 * 63:MAXPHYADDR reserved. Returns the decoded pointer or a message saying what is wrong.
 */
export function decodeEptp(
  eptp: bigint,
  maxPhysicalAddressBits: number,
  capabilities: EptCapabilities = {},
): EptPointer | string {
  const memoryType = Number(eptp & 7n);
  if (memoryType !== 0 && memoryType !== 6)
    return `EPT memory type ${memoryType} is neither UC (0) nor WB (6)`;
  const walkLength = Number((eptp >> 3n) & 7n) + 1;
  if (walkLength !== 4 && !(walkLength === 5 && (capabilities.fiveLevel ?? true))) {
    return `EPT page-walk length ${walkLength} is not supported (bits 5:3 must be 3 for 4 levels${(capabilities.fiveLevel ?? true) ? ' or 4 for 5 levels' : ''})`;
  }
  const accessedDirty = (eptp & 0x40n) !== 0n;
  if (accessedDirty && !(capabilities.accessedDirty ?? true))
    return 'EPTP bit 6 enables accessed/dirty flags, which the CPU does not support';
  if ((eptp & 0x80n) !== 0n) return 'EPTP bit 7 (supervisor shadow-stack control) is not supported';
  if ((eptp & 0xf00n) !== 0n) return 'EPTP bits 11:8 are reserved';
  if (eptp >> BigInt(maxPhysicalAddressBits) !== 0n) {
    return `EPTP bits 63:${maxPhysicalAddressBits} are reserved (MAXPHYADDR ${maxPhysicalAddressBits})`;
  }
  return { root: Number(eptp & ~0xfffn), levels: walkLength as 4 | 5, memoryType, accessedDirty };
}

/** Options of an EPT stage. */
export interface EptStageOptions {
  /** The EPT pointer (VMCS field 0x201A). */
  readonly eptp: bigint | number;
  readonly capabilities?: EptCapabilities;
  /**
   * A walk cache for EPT's upper-level entries (Intel SDM vol. 3C §29.4: "guest-physical mappings"
   * of paging-structure entries; Bhargava et al., ASPLOS 2008), keyed by guest-physical page numbers.
   */
  readonly walkCache?: PagingStructureCache;
  /** Its context handle (default: `walkCache.tags.nestedContext(ASID_NONE, root)`-style untagged: `nestedContext(0)`). */
  readonly nestedContext?: number;
}

/** Packs EPT rights (R, W, X, user-execute bit 10) into a walk cache's 8-bit perms field. */
function packRights(rights: number): number {
  return (rights & 7) | ((rights & USER_X) !== 0 ? 8 : 0);
}

function unpackRights(perms: number): number {
  return (perms & 7) | ((perms & 8) !== 0 ? USER_X : 0);
}

/** The walk-cache kind of an EPT entry at `level` that references a table. */
const EPT_KIND = [-1, -1, WalkEntry.Pde, WalkEntry.Pdpte, WalkEntry.Pml4e, WalkEntry.Pml5e];

/**
 * Intel EPT as a second stage (Intel SDM vol. 3C §29.3):
 * - an entry is present if any of bits 2:0 is set (or bit 10 with mode-based execute control);
 * - misconfigurations (§29.3.3.1) — write without read, execute-only without the capability,
 *   reserved bits (51:MAXPHYADDR, 7:3 of PML5E/PML4E and non-leaf PDPTEs, 6:3 of non-leaf PDEs,
 *   29:12 of 1 GiB and 20:12 of 2 MiB leaves), leaf memory type 2, 3 or 7 — end the walk where they
 *   are found, so they take priority over violations, which are judged on the AND of the R/W/X bits
 *   of every entry used (§29.3.3.2);
 * - guest paging-structure reads are data reads, and accessed/dirty updates data writes; with EPTP
 *   bit 6 every guest paging-structure access is a write (§29.3.3.2, §29.3.5);
 * - with EPTP bit 6 the accessed flag (bit 8) is set in each entry used and the dirty flag (bit 9)
 *   in the leaf of a write (§29.3.5);
 * - the exit qualification (Table 28-7): bits 0-2 the access (a guest A/D update reports read and
 *   write), bits 3-5 the AND of bits 0-2 over the entries used (bit 6 of bit 10 with mode-based
 *   execute), bit 7 whether the guest-linear address is valid (all but PDPTE loads), bit 8 whether
 *   the access was to the translation of the linear address, bits 9-11 with advanced information.
 * Only bits 47:0 (56:0 with 5 levels) of a guest-physical address are used (§29.3.2).
 */
export class EptStage implements NestedStage {
  readonly guestPdptesOnDemand = false;
  readonly tableUpdateChecksWrite: boolean;
  readonly fault = new NestedFault();
  pageShift = 12;
  perms = 0;
  references = 0;
  trace: WalkTrace | null = null;
  readonly pointer: EptPointer;
  private readonly memory: PhysicalMemory;
  private readonly executeOnly: boolean;
  private readonly modeBasedExecute: boolean;
  private readonly advancedInfo: boolean;
  private readonly gigabytePages: boolean;
  private readonly largePages: boolean;
  private readonly physHiReserved: number;
  private linearLo = 0;
  private linearHi = 0;
  // The last guest-table translation, for translateForUpdate.
  private lastHostPhysical = -1;
  private lastGuestPhysical = -1;
  private lastRights = 0;
  private lastLevel = 0;
  private readonly walkCache: PagingStructureCache | null;
  private readonly cacheContext: number;
  // The table consulted and the rights accumulated at each level of the current walk (for fills).
  private readonly levelTable = new Float64Array(6);
  private readonly levelRights = new Uint16Array(6);

  constructor(memory: PhysicalMemory, options: EptStageOptions) {
    const capabilities = options.capabilities ?? {};
    const decoded = decodeEptp(BigInt(options.eptp), memory.maxPhysicalAddressBits, capabilities);
    if (typeof decoded === 'string') throw new RangeError(`invalid EPTP: ${decoded}`);
    this.pointer = decoded;
    this.tableUpdateChecksWrite = !decoded.accessedDirty;
    this.memory = memory;
    this.executeOnly = capabilities.executeOnly ?? true;
    this.modeBasedExecute = capabilities.modeBasedExecute ?? false;
    this.advancedInfo = capabilities.advancedViolationInfo ?? false;
    this.gigabytePages = capabilities.gigabytePages ?? true;
    this.largePages = capabilities.largePages ?? true;
    const m = memory.maxPhysicalAddressBits;
    this.physHiReserved = (0xf_ffff & ~((1 << (m - 32)) - 1)) >>> 0;
    this.walkCache = options.walkCache ?? null;
    this.cacheContext = options.nestedContext ?? this.walkCache?.tags.nestedContext(0) ?? 0;
  }

  /** See `NestedStage.invalidateGuestPhysical`: the EPT paging-structure-cache entries for the page. */
  invalidateGuestPhysical(guestPhysical: number): void {
    this.walkCache?.flushLookup(this.cacheContext, Math.floor(guestPhysical / 4096));
  }

  begin(linearLo: number, linearHi: number): void {
    this.linearLo = linearLo;
    this.linearHi = linearHi;
    this.lastGuestPhysical = -1;
  }

  translate(guestPhysical: number, why: NestedAccess, access: AccessKind, guestPerms: number): number {
    const ad = this.pointer.accessedDirty;
    // What the access is at the EPT level, and the qualification's access bits.
    let isWrite: boolean;
    let accessBits: number;
    if (why === NestedAccess.Final) {
      isWrite = access === AccessKind.Write;
      accessBits = access === AccessKind.Write ? W : access === AccessKind.Execute ? X : R;
    } else if (why === NestedAccess.GuestTable && ad) {
      isWrite = true;
      accessBits = R | W;
    } else {
      // A guest paging-structure read, or a PDPTE load (treated as a read even with A/D, §29.3.3.2).
      isWrite = false;
      accessBits = R;
    }
    const hi = Math.floor(guestPhysical / TWO_32);
    const lo = guestPhysical - hi * TWO_32;
    const memory = this.memory;
    const trace = this.trace;
    let table = this.pointer.root;
    let rights = R | W | X | USER_X;
    let references = 0;
    let startLevel: number = this.pointer.levels;
    const cache = this.walkCache;
    const vpn = hi * 1048576 + (lo >>> 12);
    if (cache !== null) {
      const cached = cache.lookup(this.cacheContext, vpn);
      if (cached >= 0) {
        const resume = walkEntryLevel[cache.hitKind] - 1;
        if (trace !== null) {
          for (let l = startLevel; l > resume; l--)
            trace.push(Stage.Nested, l, Number.NaN, 0, 0, RefFlag.Cached);
        }
        startLevel = resume;
        table = cached;
        rights = unpackRights(cache.hitPerms);
      }
    }
    for (let level = startLevel; level >= 1; level--) {
      const index = tableIndex(lo, hi, level);
      const address = table + index * 8;
      const elo = memory.readPair(address);
      const ehi = memory.pairHi;
      references++;
      const ref = trace === null ? -1 : trace.push(Stage.Nested, level, address, elo, ehi);
      const present = (elo & 7) !== 0 || (this.modeBasedExecute && (elo & USER_X) !== 0);
      if (!present) {
        this.references = references;
        return this.violation(guestPhysical, why, accessBits, 0, level, guestPerms);
      }
      const leaf = level === 1 || ((level === 2 || level === 3) && (elo & PS) !== 0);
      if (this.misconfigured(elo, ehi, level, leaf)) {
        this.references = references;
        return this.misconfiguration(guestPhysical, why, level);
      }
      rights &= elo;
      this.levelTable[level] = table;
      this.levelRights[level] = rights;
      if (!leaf) {
        if (ad && (elo & ACCESSED) === 0) {
          memory.writeWord(address, (elo | ACCESSED) >>> 0);
          if (trace !== null) trace.update(ref, (elo | ACCESSED) >>> 0, ehi);
        }
        table = (ehi & 0xf_ffff) * TWO_32 + ((elo & 0xffff_f000) >>> 0);
        continue;
      }
      this.references = references;
      // The access is allowed only if every entry used allows it (§29.3.3.2).
      let allowed: boolean;
      if (accessBits === X) {
        const userFetch = this.modeBasedExecute && (guestPerms & Perm.User) !== 0;
        allowed = (rights & (userFetch ? USER_X : X)) !== 0;
      } else {
        allowed = (rights & R) !== 0 && (!isWrite || (rights & W) !== 0);
      }
      if (!allowed) return this.violation(guestPhysical, why, accessBits, rights, level, guestPerms);
      let entryLo = elo;
      if (ad) {
        const need = isWrite ? ACCESSED | DIRTY : ACCESSED;
        if ((elo & need) !== need) {
          entryLo = (elo | need) >>> 0;
          memory.writeWord(address, entryLo);
          if (trace !== null) trace.update(ref, entryLo, ehi);
        }
      }
      const shift = level === 1 ? 12 : level === 2 ? 21 : 30;
      const frameLoMask = level === 1 ? 0xffff_f000 : level === 2 ? 0xffe0_0000 : 0xc000_0000;
      const offset = level === 1 ? lo & 0xfff : level === 2 ? lo & 0x1f_ffff : lo & 0x3fff_ffff;
      const hostPhysical = (ehi & 0xf_ffff) * TWO_32 + ((entryLo & frameLoMask) >>> 0) + offset;
      this.pageShift = shift;
      let perms = 0;
      if ((rights & W) !== 0) perms |= Perm.Write;
      // A cached translation never grants more than the walk: with mode-based execute control it is
      // executable only when both supervisor and user execute are allowed.
      if ((rights & X) !== 0 && (!this.modeBasedExecute || (rights & USER_X) !== 0)) perms |= Perm.Execute;
      if (!ad || (entryLo & DIRTY) !== 0) perms |= Perm.Dirty;
      this.perms = perms;
      if (cache !== null) {
        // Cache each upper-level entry this walk read: the table it references and the rights so far.
        for (let l = startLevel; l > level; l--) {
          cache.fill(
            this.cacheContext,
            vpn,
            EPT_KIND[l] as WalkEntry,
            this.levelTable[l - 1],
            packRights(this.levelRights[l]),
          );
        }
      }
      if (why === NestedAccess.GuestTable) {
        this.lastGuestPhysical = guestPhysical;
        this.lastHostPhysical = hostPhysical;
        this.lastRights = rights;
        this.lastLevel = level;
      }
      return hostPhysical;
    }
    /* c8 ignore next */
    throw new Error('unreachable: an EPT walk ends at level 1');
  }

  translateForUpdate(guestPhysical: number): number {
    if (guestPhysical !== this.lastGuestPhysical) {
      throw new Error('translateForUpdate must follow the GuestTable translation of the same entry');
    }
    // With EPT A/D flags the walk was already a write. Without them the guest's A/D update is a
    // data write now, reported as a read-modify-write: bits 0 and 1 (§29.3.3.2; kvm-unit-tests
    // ept_access expects WR|RD|PERM_RD for a read-only guest table page with the A bit clear).
    if (this.pointer.accessedDirty || (this.lastRights & W) !== 0) return this.lastHostPhysical;
    return this.violation(guestPhysical, NestedAccess.GuestTable, R | W, this.lastRights, this.lastLevel, 0);
  }

  /** SDM vol. 3C §29.3.3.1: whether a present entry is an EPT misconfiguration. */
  private misconfigured(lo: number, hi: number, level: number, leaf: boolean): boolean {
    // Write permission without read permission.
    if ((lo & (R | W)) === W) return true;
    // Execute-only without the capability.
    if (!this.executeOnly && (lo & 7) === X) return true;
    // Physical-address bits at or above MAXPHYADDR.
    if ((hi & this.physHiReserved) !== 0) return true;
    if (level >= 4) return (lo & 0xf8) !== 0; // bits 7:3 (PS included) of PML5E and PML4E
    if (!leaf) return (lo & (level === 3 ? 0xf8 : 0x78)) !== 0; // PDPTE bits 7:3 (PS = 0), PDE bits 6:3
    // A large leaf the processor does not support (IA32_VMX_EPT_VPID_CAP bits 17 and 16) has bit 7
    // set where it is reserved (SDM vol. 3C §29.3.3.1).
    if (level === 3 && !this.gigabytePages) return true;
    if (level === 2 && !this.largePages) return true;
    if (level === 3 && (lo & 0x3fff_f000) !== 0) return true; // 1 GiB page: bits 29:12
    if (level === 2 && (lo & 0x001f_f000) !== 0) return true; // 2 MiB page: bits 20:12
    const memoryType = (lo >>> 3) & 7;
    return memoryType === 2 || memoryType === 3 || memoryType === 7;
  }

  private misconfiguration(guestPhysical: number, why: NestedAccess, level: number): number {
    const fault = this.fault;
    fault.kind = NestedFaultKind.EptMisconfiguration;
    fault.infoLo = 0;
    fault.infoHi = 0;
    fault.guestPhysical = guestPhysical;
    fault.linearValid = false;
    fault.level = level;
    fault.access = why;
    return -1;
  }

  private violation(
    guestPhysical: number,
    why: NestedAccess,
    accessBits: number,
    rights: number,
    level: number,
    guestPerms: number,
  ): number {
    let q = accessBits | ((rights & 7) << 3);
    if (this.modeBasedExecute && (rights & USER_X) !== 0) q |= EptQualification.USER_EXECUTABLE;
    const linearValid = why !== NestedAccess.PdpteLoad;
    if (linearValid) {
      q |= EptQualification.LINEAR_VALID;
      if (why === NestedAccess.Final) {
        q |= EptQualification.TRANSLATION;
        if (this.advancedInfo) {
          if ((guestPerms & Perm.User) !== 0) q |= EptQualification.USER_LINEAR;
          if ((guestPerms & Perm.Write) !== 0) q |= EptQualification.WRITABLE_LINEAR;
          if ((guestPerms & Perm.Execute) === 0) q |= EptQualification.XD_LINEAR;
        }
      }
    }
    const fault = this.fault;
    fault.kind = NestedFaultKind.EptViolation;
    fault.infoLo = q;
    fault.infoHi = 0;
    fault.guestPhysical = guestPhysical;
    fault.linearValid = linearValid;
    fault.linearLo = this.linearLo;
    fault.linearHi = this.linearHi;
    fault.level = level;
    fault.access = why;
    return -1;
  }
}
