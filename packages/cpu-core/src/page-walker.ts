import { AccessKind, PfError, Privilege } from './access.js';
import type { CpuState } from './cpu-state.js';
import { TWO_32, tableIndex } from './linear-address.js';
import { PagingMode } from './paging-mode.js';
import type { PhysicalMemory } from './physical-memory.js';
import { identityPort, type TablePort } from './table-port.js';
import { Perm, Stage, WalkResult, WalkStatus, type WalkTrace } from './walk-result.js';

/*
 * One-dimensional x86 page walks for every paging mode, exact to Intel SDM vol. 3A chapter 4 and
 * AMD APM vol. 2 chapter 5.
 *
 * Performance notes: entries travel as two 32-bit halves (lo, hi) and physical addresses as plain
 * numbers (hi * 2^32 + lo), so no BigInt and no bitwise operator sees a bit above 31. The walk writes
 * into a caller-owned WalkResult and keeps the entry it is looking at in fields, so it allocates
 * nothing. Reserved-bit masks are recomputed only when MAXPHYADDR or NXE change.
 */

const P = 0x1;
const RW = 0x2;
const US = 0x4;
const A = 0x20;
const D = 0x40;
const PS = 0x80;
const G = 0x100;
const XD_HI = 0x8000_0000;
const ALL_PERMS = Perm.Write | Perm.User | Perm.Execute;

/** Options of a page walker. */
export interface PageWalkerOptions {
  /** Where paging-structure entries are read (default: the identity, one stage). */
  readonly port?: TablePort;
  /** Whether 1 GiB pages are supported (CPUID.80000001H:EDX.Page1GB; default true). */
  readonly gigabytePages?: boolean;
  /** The stage its references are recorded as (default Guest; a nested MMU's host-format walker uses Nested). */
  readonly stage?: Stage;
  /**
   * Whether 4/5-level walks check that the address is canonical (default true). A walker that
   * translates guest-physical addresses through host-format nested tables (AMD NPT) turns it off: a
   * guest-physical address is not a linear address, and the walk simply indexes its bits.
   */
  readonly canonicalCheck?: boolean;
}

/**
 * Walks the paging structures of the CPU state's current mode for one access. The tables are read
 * through a `TablePort`, so a nested MMU can put a second stage under the walker; references are
 * recorded in `trace` when it is set.
 */
export class PageWalker {
  /** Where the walk's references are recorded, or null for none. */
  trace: WalkTrace | null = null;
  /**
   * Read the four PAE PDPTEs from memory on every walk instead of using the PDPTE registers: what
   * AMD nested paging does (APM vol. 2 §15.25.10; the guest's PDPEs are not loaded at CR3 write).
   */
  pdptesOnDemand = false;
  /** Whether 1 GiB pages are supported; without them PS=1 in a PDPTE is a reserved bit (SDM §4.5.4). */
  gigabytePages: boolean;
  // Whether the port is the identity: saves an indirect call per level on one-stage walks.
  private identity = true;
  private portRef: TablePort = identityPort;
  /** The stage recorded in the trace. */
  stage: Stage;
  /** Whether 4/5-level walks raise #GP for non-canonical addresses. */
  canonicalCheck: boolean;

  // Reserved physical-address bits of the high half: bits 51:M (4/5-level) and 62:M (PAE).
  private readonly longHiReserved: number;
  private readonly paeHiReserved: number;
  // The entry being examined (so helpers return a status and leave the entry here).
  private lo = 0;
  private hi = 0;
  private ref = -1;

  readonly memory: PhysicalMemory;
  readonly state: CpuState;

  /** Where paging-structure entries are read: the identity, or a second stage's port. */
  get port(): TablePort {
    return this.portRef;
  }
  set port(port: TablePort) {
    this.portRef = port;
    this.identity = port === identityPort;
  }

  constructor(memory: PhysicalMemory, state: CpuState, options: PageWalkerOptions = {}) {
    this.memory = memory;
    this.state = state;
    this.port = options.port ?? identityPort;
    this.gigabytePages = options.gigabytePages ?? true;
    this.stage = options.stage ?? Stage.Guest;
    this.longHiReserved = this.physHiReserved(52);
    this.paeHiReserved = this.physHiReserved(63);
    this.canonicalCheck = options.canonicalCheck ?? true;
  }

  /**
   * Translates the linear address (lo, hi) for an access. Returns the status, also left in
   * `out.status`. Outside 4- and 5-level paging the linear address is 32 bits and `hi` is ignored.
   */
  walk(lo: number, hi: number, access: AccessKind, privilege: Privilege, out: WalkResult): WalkStatus {
    out.references = 0;
    out.protectionKey = 0;
    out.errorCode = 0;
    out.level = 0;
    const cr3 = this.state.cr3;
    switch (this.state.mode) {
      case PagingMode.Level4:
        return this.walkLong(lo >>> 0, hi >>> 0, 4, 4, pageBase(cr3), ALL_PERMS, access, privilege, out);
      case PagingMode.Level5:
        return this.walkLong(lo >>> 0, hi >>> 0, 5, 5, pageBase(cr3), ALL_PERMS, access, privilege, out);
      case PagingMode.Pae:
        return this.walkPae(lo >>> 0, 3, 0, ALL_PERMS, access, privilege, out);
      case PagingMode.Legacy32:
        return this.walkLegacy(lo >>> 0, 2, (cr3 & 0xffff_f000) >>> 0, ALL_PERMS, access, privilege, out);
      default:
        return this.unpaged(lo >>> 0, out);
    }
  }

  /**
   * Resumes a walk below the root from a cached paging-structure entry, as a CPU with
   * paging-structure caches does (Intel SDM vol. 3A §4.10.3.2; AMD's page walk cache): `level` is the
   * level of the next entry to read, `table` the physical address of its table (what the cached entry
   * above pointed to) and `perms` the Perm bits accumulated down to that entry. The levels above are
   * neither read nor updated.
   */
  walkFrom(
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    level: number,
    table: number,
    perms: number,
    out: WalkResult,
  ): WalkStatus {
    out.references = 0;
    out.protectionKey = 0;
    out.errorCode = 0;
    out.level = 0;
    switch (this.state.mode) {
      case PagingMode.Level4:
        return this.walkLong(lo >>> 0, hi >>> 0, 4, level, table, perms, access, privilege, out);
      case PagingMode.Level5:
        return this.walkLong(lo >>> 0, hi >>> 0, 5, level, table, perms, access, privilege, out);
      case PagingMode.Pae:
        return this.walkPae(lo >>> 0, level, table, perms, access, privilege, out);
      case PagingMode.Legacy32:
        return this.walkLegacy(lo >>> 0, level, table, perms, access, privilege, out);
      default:
        return this.unpaged(lo >>> 0, out);
    }
  }

  /** CR0.PG=0: the linear address is the physical address (SDM vol. 3A §4.1.1). */
  private unpaged(lo: number, out: WalkResult): WalkStatus {
    out.physical = lo;
    // No paging imposes no page size: 32 covers the whole 32-bit space, so the other stage decides.
    out.pageShift = 32;
    out.perms = ALL_PERMS | Perm.Dirty;
    out.status = WalkStatus.Ok;
    return WalkStatus.Ok;
  }

  /**
   * 4-level and 5-level paging (SDM vol. 3A §4.5; AMD APM vol. 2 §5.3).
   * Reserved bits (SDM Tables 4-14 to 4-20, §4.5.4): bits 51:MAXPHYADDR; bit 63 when EFER.NXE=0;
   * PS in a PML5E or PML4E; bits 29:13 of a 1 GiB PDPTE and 20:13 of a 2 MiB PDE (alignment).
   */
  private walkLong(
    lo: number,
    hi: number,
    levels: 4 | 5,
    startLevel: number,
    startTable: number,
    startPerms: number,
    access: AccessKind,
    privilege: Privilege,
    out: WalkResult,
  ): WalkStatus {
    // Canonical: bits 63:47 (63:56 with LA57) all equal (SDM vol. 1 §3.3.7.1; #GP(0), SDM §6.15).
    const top = levels === 5 ? hi >> 24 : hi >> 15;
    if (top !== 0 && top !== -1 && this.canonicalCheck) return this.generalProtection(out);
    // The loop keeps everything in locals and reads entries inline: one frame lookup per entry, no
    // call per level (V8 keeps the whole loop in one optimized frame).
    const memory = this.memory;
    const identity = this.identity;
    const trace = this.trace;
    const nxe = this.state.nxe;
    const physHiReserved = this.longHiReserved | (nxe ? 0 : XD_HI);
    const tables = out.table;
    const levelPerms = out.levelPerms;
    let table = startTable;
    let perms = startPerms;
    let references = 0;
    for (let level = startLevel; level >= 1; level--) {
      const index = tableIndex(lo, hi, level);
      const entryAddress = table + index * 8;
      tables[level] = table;
      const hpa = identity ? entryAddress : this.portRef.locate(entryAddress, level);
      if (hpa < 0) {
        out.references = references;
        return this.portFault(level, out);
      }
      const elo = memory.readPair(hpa);
      const ehi = memory.pairHi;
      references++;
      out.entryLo[level] = elo;
      out.entryHi[level] = ehi;
      const ref = trace === null ? -1 : trace.push(this.stage, level, hpa, elo, ehi);
      if ((elo & P) === 0) {
        out.references = references;
        return this.pageFault(0, level, lo, hi, access, privilege, out);
      }
      const isLarge = (elo & PS) !== 0 && (level === 2 || level === 3);
      let reserved = ehi & physHiReserved;
      if (level >= 4) reserved |= elo & PS;
      else if (isLarge)
        reserved |= level === 3 ? (this.gigabytePages ? elo & 0x3fff_e000 : PS) : elo & 0x001f_e000;
      if (reserved !== 0) {
        out.references = references;
        return this.pageFault(PfError.P | PfError.RSVD, level, lo, hi, access, privilege, out);
      }
      if ((elo & RW) === 0) perms &= ~Perm.Write;
      if ((elo & US) === 0) perms &= ~Perm.User;
      if (nxe && (ehi & XD_HI) !== 0) perms &= ~Perm.Execute;
      levelPerms[level] = perms;
      this.lo = elo;
      this.hi = ehi;
      this.ref = ref;
      if (level === 1 || isLarge) {
        out.references = references;
        return this.longLeaf(entryAddress, level, lo, hi, perms, access, privilege, out);
      }
      if ((elo & A) === 0 && !this.writeBack(entryAddress, level, (elo | A) >>> 0, out)) {
        out.references = references;
        return this.portFault(level, out);
      }
      table = (ehi & 0xf_ffff) * TWO_32 + ((elo & 0xffff_f000) >>> 0);
    }
    /* c8 ignore next */
    throw new Error('unreachable: a 4- or 5-level walk ends at level 1');
  }

  /** The leaf of a 4/5-level walk (in `this.lo`/`this.hi`): permissions, A/D, the physical address. */
  private longLeaf(
    entryAddress: number,
    level: number,
    lo: number,
    hi: number,
    perms: number,
    access: AccessKind,
    privilege: Privilege,
    out: WalkResult,
  ): WalkStatus {
    // Protection key: bits 62:59 of the leaf (SDM vol. 3A §4.6.2).
    const key = (this.hi >>> 27) & 0xf;
    out.protectionKey = key;
    const fault = this.leafFault(perms, key, access, privilege);
    if (fault !== 0) return this.pageFault(PfError.P | fault, level, lo, hi, access, privilege, out);
    if (!this.setLeafFlags(entryAddress, level, access, out)) return this.portFault(level, out);
    const shift = level === 1 ? 12 : level === 2 ? 21 : 30;
    const frameLoMask = level === 1 ? 0xffff_f000 : level === 2 ? 0xffe0_0000 : 0xc000_0000;
    const offset = level === 3 ? lo & 0x3fff_ffff : level === 2 ? lo & 0x1f_ffff : lo & 0xfff;
    out.physical = (this.hi & 0xf_ffff) * TWO_32 + ((this.lo & frameLoMask) >>> 0) + offset;
    return this.ok(shift, perms, level, out);
  }

  /**
   * PAE paging (SDM vol. 3A §4.4; AMD APM vol. 2 §5.2): a PDPTE register (or, under AMD nested
   * paging, the PDPTE read from memory now), then a PDE and a PTE of 8 bytes. Reserved bits of PDEs
   * and PTEs (SDM Tables 4-9 to 4-11): bits 62:MAXPHYADDR, bit 63 when NXE=0, bits 20:13 of a 2 MiB PDE.
   */
  private walkPae(
    lo: number,
    startLevel: number,
    startTable: number,
    startPerms: number,
    access: AccessKind,
    privilege: Privilege,
    out: WalkResult,
  ): WalkStatus {
    const state = this.state;
    if (startLevel < 3)
      return this.walkPaeLower(lo, startLevel, startTable, startPerms, access, privilege, out);
    const i = lo >>> 30;
    let plo: number;
    let phi: number;
    if (this.pdptesOnDemand) {
      const address = pdptBase(state.cr3) + i * 8;
      out.table[3] = pdptBase(state.cr3);
      if (!this.fetch64(address, 3, out)) return this.portFault(3, out);
      plo = this.lo;
      phi = this.hi;
      if ((plo & P) === 0) return this.pageFault(0, 3, lo, 0, access, privilege, out);
      if (pdpteReserved(plo, phi, this.memory.maxPhysicalAddressBits)) {
        return this.pageFault(PfError.P | PfError.RSVD, 3, lo, 0, access, privilege, out);
      }
    } else {
      plo = state.pdpteLo[i];
      phi = state.pdpteHi[i];
      out.table[3] = pdptBase(state.cr3);
      out.entryLo[3] = plo;
      out.entryHi[3] = phi;
      if ((plo & P) === 0) return this.pageFault(0, 3, lo, 0, access, privilege, out);
    }
    // PAE PDPTEs carry no permissions and no accessed bit (SDM Table 4-8; spec/scenario.md).
    out.levelPerms[3] = ALL_PERMS;
    const table = (phi & 0xf_ffff) * TWO_32 + ((plo & 0xffff_f000) >>> 0);
    return this.walkPaeLower(lo, 2, table, ALL_PERMS, access, privilege, out);
  }

  /** The PDE and PTE levels of a PAE walk (SDM vol. 3A §4.4.2). */
  private walkPaeLower(
    lo: number,
    startLevel: number,
    startTable: number,
    startPerms: number,
    access: AccessKind,
    privilege: Privilege,
    out: WalkResult,
  ): WalkStatus {
    const state = this.state;
    let perms = startPerms;
    const physHiReserved = this.paeHiReserved | (state.nxe ? 0 : XD_HI);
    let table = startTable;
    for (let level = startLevel; level >= 1; level--) {
      const index = level === 2 ? (lo >>> 21) & 511 : (lo >>> 12) & 511;
      const entryAddress = table + index * 8;
      out.table[level] = table;
      if (!this.fetch64(entryAddress, level, out)) return this.portFault(level, out);
      const elo = this.lo;
      const ehi = this.hi;
      if ((elo & P) === 0) return this.pageFault(0, level, lo, 0, access, privilege, out);
      const isLarge = level === 2 && (elo & PS) !== 0;
      const reserved = (ehi & physHiReserved) | (isLarge ? elo & 0x001f_e000 : 0);
      if (reserved !== 0)
        return this.pageFault(PfError.P | PfError.RSVD, level, lo, 0, access, privilege, out);
      if ((elo & RW) === 0) perms &= ~Perm.Write;
      if ((elo & US) === 0) perms &= ~Perm.User;
      if (state.nxe && (ehi & XD_HI) !== 0) perms &= ~Perm.Execute;
      out.levelPerms[level] = perms;
      if (level === 1 || isLarge) {
        const fault = this.leafFault(perms, 0, access, privilege);
        if (fault !== 0) return this.pageFault(PfError.P | fault, level, lo, 0, access, privilege, out);
        if (!this.setLeafFlags(entryAddress, level, access, out)) return this.portFault(level, out);
        out.physical = isLarge
          ? (this.hi & 0xf_ffff) * TWO_32 + ((this.lo & 0xffe0_0000) >>> 0) + (lo & 0x1f_ffff)
          : (this.hi & 0xf_ffff) * TWO_32 + ((this.lo & 0xffff_f000) >>> 0) + (lo & 0xfff);
        return this.ok(isLarge ? 21 : 12, perms, level, out);
      }
      if (!this.setAccessed(entryAddress, level, out)) return this.portFault(level, out);
      table = (ehi & 0xf_ffff) * TWO_32 + ((elo & 0xffff_f000) >>> 0);
    }
    /* c8 ignore next */
    throw new Error('unreachable: a PAE walk ends at level 1');
  }

  /**
   * 32-bit paging (SDM vol. 3A §4.3; AMD APM vol. 2 §5.2): a PDE and a PTE of 4 bytes; with CR4.PSE a
   * PDE with PS=1 maps a 4 MiB page whose bits 20:13 give physical-address bits 39:32 (PSE-36/40).
   * Reserved bits (SDM Table 4-4): only in a 4 MiB PDE, bits 21:(M-19) with M = min(MAXPHYADDR, 40).
   * No XD bit exists, so every page is executable.
   */
  private walkLegacy(
    lo: number,
    startLevel: number,
    startTable: number,
    startPerms: number,
    access: AccessKind,
    privilege: Privilege,
    out: WalkResult,
  ): WalkStatus {
    const state = this.state;
    if (startLevel < 2) return this.walkLegacyPte(lo, startTable, startPerms, access, privilege, out);
    const pdBase = startTable;
    const pdeAddress = pdBase + (lo >>> 22) * 4;
    out.table[2] = pdBase;
    if (!this.fetch32(pdeAddress, 2, out)) return this.portFault(2, out);
    const pde = this.lo;
    if ((pde & P) === 0) return this.pageFault(0, 2, lo, 0, access, privilege, out);
    let perms = ALL_PERMS;
    if ((pde & RW) === 0) perms &= ~Perm.Write;
    if ((pde & US) === 0) perms &= ~Perm.User;
    out.levelPerms[2] = perms;
    if (state.pse && (pde & PS) !== 0) {
      const m = Math.min(this.memory.maxPhysicalAddressBits, 40);
      const highBits = m - 32;
      const reservedMask = (0x3f_e000 & ~(((1 << highBits) - 1) << 13)) >>> 0;
      if ((pde & reservedMask) !== 0) {
        return this.pageFault(PfError.P | PfError.RSVD, 2, lo, 0, access, privilege, out);
      }
      const fault = this.leafFault(perms, 0, access, privilege);
      if (fault !== 0) return this.pageFault(PfError.P | fault, 2, lo, 0, access, privilege, out);
      if (!this.setLeafFlags(pdeAddress, 2, access, out)) return this.portFault(2, out);
      const high = (pde >>> 13) & ((1 << highBits) - 1);
      out.physical = high * TWO_32 + ((pde & 0xffc0_0000) >>> 0) + (lo & 0x3f_ffff);
      return this.ok(22, perms, 2, out);
    }
    if (!this.setAccessed(pdeAddress, 2, out)) return this.portFault(2, out);
    return this.walkLegacyPte(lo, (pde & 0xffff_f000) >>> 0, perms, access, privilege, out);
  }

  /** The PTE level of a 32-bit walk (SDM vol. 3A §4.3). */
  private walkLegacyPte(
    lo: number,
    ptBase: number,
    startPerms: number,
    access: AccessKind,
    privilege: Privilege,
    out: WalkResult,
  ): WalkStatus {
    let perms = startPerms;
    const pteAddress = ptBase + ((lo >>> 12) & 0x3ff) * 4;
    out.table[1] = ptBase;
    if (!this.fetch32(pteAddress, 1, out)) return this.portFault(1, out);
    const pte = this.lo;
    if ((pte & P) === 0) return this.pageFault(0, 1, lo, 0, access, privilege, out);
    if ((pte & RW) === 0) perms &= ~Perm.Write;
    if ((pte & US) === 0) perms &= ~Perm.User;
    out.levelPerms[1] = perms;
    const fault = this.leafFault(perms, 0, access, privilege);
    if (fault !== 0) return this.pageFault(PfError.P | fault, 1, lo, 0, access, privilege, out);
    if (!this.setLeafFlags(pteAddress, 1, access, out)) return this.portFault(1, out);
    out.physical = ((this.lo & 0xffff_f000) >>> 0) + (lo & 0xfff);
    return this.ok(12, perms, 1, out);
  }

  /**
   * The access-rights check at the leaf (SDM vol. 3A §4.6.1; AMD APM vol. 2 §5.6): returns the error
   * code bits of a protection fault (the caller adds P), 0 when the access is allowed.
   * - User accesses need U/S=1 at every level; writes need R/W=1; fetches need XD=0.
   * - Supervisor writes need R/W=1 only with CR0.WP=1; supervisor fetches need XD=0 and, with
   *   CR4.SMEP, a supervisor page.
   * - SMAP: supervisor data accesses to user pages fault when CR4.SMAP=1, unless the access is
   *   explicit and RFLAGS.AC=1.
   * - Protection keys (CR4.PKE, 4/5-level only): data accesses to user pages check PKRU's AD bit, and
   *   writes its WD bit (for supervisor writes only with CR0.WP=1); the PK bit is reported whenever
   *   PKRU forbids the access (SDM §4.7).
   */
  private leafFault(perms: number, key: number, access: AccessKind, privilege: Privilege): number {
    const state = this.state;
    const userPage = (perms & Perm.User) !== 0;
    let violation = false;
    if (privilege === Privilege.User) {
      if (!userPage) violation = true;
      else if (access === AccessKind.Write) violation = (perms & Perm.Write) === 0;
      else if (access === AccessKind.Execute) violation = (perms & Perm.Execute) === 0;
    } else if (access === AccessKind.Execute) {
      violation = (perms & Perm.Execute) === 0 || (userPage && state.smep);
    } else {
      if (userPage && state.smap && (privilege === Privilege.ImplicitSupervisor || !state.alignmentCheck)) {
        violation = true;
      } else if (access === AccessKind.Write && state.wp && (perms & Perm.Write) === 0) {
        violation = true;
      }
    }
    let pk = 0;
    if (state.pke && userPage && access !== AccessKind.Execute) {
      const rights = state.pkru >>> (2 * key);
      if ((rights & 1) !== 0) pk = PfError.PK;
      else if (
        (rights & 2) !== 0 &&
        access === AccessKind.Write &&
        (privilege === Privilege.User || state.wp)
      ) {
        pk = PfError.PK;
      }
    }
    if (!violation && pk === 0) return 0;
    return pk | PfError.P;
  }

  /** Locates and reads an 8-byte entry; false on a port fault. */
  private fetch64(address: number, level: number, out: WalkResult): boolean {
    const hpa = this.identity ? address : this.portRef.locate(address, level);
    if (hpa < 0) return false;
    const memory = this.memory;
    this.lo = memory.readPair(hpa);
    this.hi = memory.pairHi;
    out.entryLo[level] = this.lo;
    out.entryHi[level] = this.hi;
    out.references++;
    this.ref = this.trace === null ? -1 : this.trace.push(this.stage, level, hpa, this.lo, this.hi);
    return true;
  }

  /** Locates and reads a 4-byte entry of 32-bit paging; false on a port fault. */
  private fetch32(address: number, level: number, out: WalkResult): boolean {
    const hpa = this.identity ? address : this.portRef.locate(address, level);
    if (hpa < 0) return false;
    this.lo = this.memory.readWord(hpa);
    this.hi = 0;
    out.entryLo[level] = this.lo;
    out.entryHi[level] = 0;
    out.references++;
    this.ref = this.trace === null ? -1 : this.trace.push(this.stage, level, hpa, this.lo, 0);
    return true;
  }

  /**
   * Sets the accessed bit of a non-leaf entry the walk has just used (SDM vol. 3A §4.8: "whenever
   * the processor uses a paging-structure entry"; spec/scenario.md: upper-level A bits stay set when
   * the walk faults further down).
   */
  private setAccessed(address: number, level: number, out: WalkResult): boolean {
    if ((this.lo & A) !== 0) return true;
    return this.writeBack(address, level, (this.lo | A) >>> 0, out);
  }

  /** Sets the leaf's accessed bit, and its dirty bit for a write, once the checks passed (SDM §4.8). */
  private setLeafFlags(address: number, level: number, access: AccessKind, out: WalkResult): boolean {
    const need = access === AccessKind.Write ? A | D : A;
    if ((this.lo & need) === need) return true;
    return this.writeBack(address, level, (this.lo | need) >>> 0, out);
  }

  private writeBack(address: number, level: number, lo: number, out: WalkResult): boolean {
    const hpa = this.identity ? address : this.portRef.locateForUpdate(address, level);
    if (hpa < 0) return false;
    // Only the low word changes (A is bit 5, D bit 6), for 8-byte and 4-byte entries alike.
    this.memory.writeWord(hpa, lo);
    this.lo = lo;
    out.entryLo[level] = lo;
    if (this.trace !== null) this.trace.update(this.ref, lo, this.hi);
    return true;
  }

  private ok(shift: number, perms: number, level: number, out: WalkResult): WalkStatus {
    const lo = this.lo;
    let p = perms;
    if ((lo & D) !== 0) p |= Perm.Dirty;
    if (this.state.pge && (lo & G) !== 0) p |= Perm.Global;
    out.pageShift = shift;
    out.perms = p;
    out.level = level;
    out.status = WalkStatus.Ok;
    return WalkStatus.Ok;
  }

  /**
   * Raises #PF: the error code (SDM vol. 3A §4.7) is the fault bits with W for a write, U/S for a
   * user-mode access, and I/D for a fetch when CR4.SMEP=1 or when PAE/long paging runs with NXE=1.
   */
  private pageFault(
    bits: number,
    level: number,
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    out: WalkResult,
  ): WalkStatus {
    const state = this.state;
    let code = bits;
    if (access === AccessKind.Write) code |= PfError.W;
    if (privilege === Privilege.User) code |= PfError.U;
    if (access === AccessKind.Execute && (state.smep || (state.nxe && state.mode >= PagingMode.Pae))) {
      code |= PfError.ID;
    }
    out.errorCode = code;
    out.level = level;
    out.faultLo = lo;
    out.faultHi = hi;
    out.status = WalkStatus.PageFault;
    return WalkStatus.PageFault;
  }

  private generalProtection(out: WalkResult): WalkStatus {
    out.errorCode = 0;
    out.status = WalkStatus.GeneralProtection;
    return WalkStatus.GeneralProtection;
  }

  private portFault(level: number, out: WalkResult): WalkStatus {
    out.level = level;
    out.status = WalkStatus.PortFault;
    return WalkStatus.PortFault;
  }

  /** High-half mask of the reserved physical-address bits from MAXPHYADDR up to bit `top` - 1 + 32. */
  private physHiReserved(topBit: number): number {
    const m = this.memory.maxPhysicalAddressBits;
    const width = topBit - 32; // bits (topBit-1):32 of the entry
    const all = width >= 32 ? 0xffff_ffff : (1 << width) - 1;
    return (all & ~(((1 << (m - 32)) - 1) >>> 0)) >>> 0;
  }
}

/** Physical base of the top-level table of 4/5-level paging: CR3 bits 51:12 (SDM vol. 3A §4.5.2). */
function pageBase(cr3: number): number {
  return cr3 - (cr3 % 4096);
}

/** Physical base of the PAE page-directory-pointer table: CR3 bits 31:5 (SDM vol. 3A §4.4.1). */
export function pdptBase(cr3: number): number {
  return ((cr3 % TWO_32) & 0xffff_ffe0) >>> 0;
}

/**
 * True when a present PAE PDPTE has a reserved bit set (SDM vol. 3A Table 4-8; AMD APM vol. 2 Figure
 * 5-10): bits 2:1, 8:5 and 63:MAXPHYADDR (bit 63 included: PDPTEs have no XD bit).
 */
export function pdpteReserved(lo: number, hi: number, maxPhysicalAddressBits: number): boolean {
  const hiMask = (0xffff_ffff & ~((1 << (maxPhysicalAddressBits - 32)) - 1)) >>> 0;
  return (lo & 0x1e6) !== 0 || (hi & hiMask) !== 0;
}

/**
 * Loads the four PAE PDPTE registers from the table at CR3 bits 31:5, as MOV to CR3 (and the other
 * PAE-relevant control-register writes) do (SDM vol. 3A §4.4.1). A present PDPTE with a reserved bit
 * makes the load fail with #GP(0) and leaves the registers unchanged. The entries are read through
 * `port` (under EPT the load is a guest-physical read, SDM vol. 3C §29.3.2).
 * Returns Ok, GeneralProtection, or PortFault (the port holds the fault).
 */
export function loadPdptes(
  memory: PhysicalMemory,
  state: CpuState,
  port: TablePort = identityPort,
): WalkStatus {
  const base = pdptBase(state.cr3);
  const lo = [0, 0, 0, 0];
  const hi = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    const hpa = port.locate(base + i * 8, 3);
    if (hpa < 0) return WalkStatus.PortFault;
    lo[i] = memory.readWord(hpa);
    hi[i] = memory.readWord(hpa + 4);
    if ((lo[i] & P) !== 0 && pdpteReserved(lo[i], hi[i], memory.maxPhysicalAddressBits)) {
      return WalkStatus.GeneralProtection;
    }
  }
  for (let i = 0; i < 4; i++) {
    state.pdpteLo[i] = lo[i];
    state.pdpteHi[i] = hi[i];
  }
  return WalkStatus.Ok;
}

/** A fresh result object for `PageWalker.walk`. */
export function createWalkResult(): WalkResult {
  return new WalkResult();
}
