import {
  type AccessKind,
  Cr0,
  Cr4,
  Efer,
  type PageSize,
  PageTableBuilder,
  PagingMode,
  PfError,
  Privilege,
  PteFlag,
  Rflags,
  TWO_32,
} from '@hvsim/cpu-core';
import { TranslateStatus } from '@hvsim/mmu-nested';
import { GuestAccess, type GuestCpu } from '@hvsim/platform';
import { GuestCounters } from './counters.js';
import { DIGEST_SEED, mixNumber, mixWord } from './digest.js';
import { GuestFrames } from './guest-frames.js';
import {
  entriesAt,
  entryAddressField,
  isLeaf,
  SoftBit,
  spanAt,
  type TableFormat,
  type TableMemory,
  tableFormat,
  walkTables,
} from './page-tables.js';

const PAGE = 4096;
/** XD, bit 63 of a PAE or long-mode entry (SDM vol. 3A Tables 4-11, 4-19). */
const XD_HI = 0x8000_0000;
/** Linux's tlb_single_page_flush_ceiling: above this many pages one flush of the address space is cheaper than INVLPGs. */
const FLUSH_CEILING = 33;
/** Frames below 1 MiB are left to firmware and the kernel image. */
const FIRST_FRAME = 0x10_0000;

/** mmap/mprotect protections. On x86 every mapped page is readable: Write and Exec imply Read. */
export const Prot = { None: 0, Read: 1, Write: 2, Exec: 4 } as const;

/** A virtual memory area: pages [startPage, endPage) of anonymous memory with one protection. */
export interface Vma {
  startPage: number;
  endPage: number;
  prot: number;
  /** Transparent huge pages may back it (an aligned huge block inside it is mapped with one large page on first touch). */
  huge: boolean;
}

/** Options of a guest operating system. */
export interface GuestOsOptions {
  /** The CPUs it schedules on (1 to 32): `NativeCpu`s, or a VM's `VirtualCpu`s. */
  readonly cpus: readonly GuestCpu[];
  /** Guest-physical memory the kernel owns, from 1 MiB up to here (default 1 GiB; at most 4 GiB in 32-bit and PAE paging). */
  readonly memoryBytes?: number;
  /** The paging mode (default 4-level). */
  readonly pagingMode?: PagingMode;
  /** Transparent huge pages (default false): 2 MiB (4 MiB in 32-bit paging) pages for aligned anonymous blocks. */
  readonly hugePages?: boolean;
  /** PCIDs (default false; 4- and 5-level paging only): each process gets one and switches keep cached translations. */
  readonly pcid?: boolean;
}

/** Options of `mmap`. */
export interface MmapOptions {
  /** A fixed start address (page aligned); the range must be free. Default: the next free range. */
  readonly address?: number;
  /** Allow transparent huge pages here (default: the OS's `hugePages`). */
  readonly huge?: boolean;
  /** Map every page now (MAP_POPULATE) rather than on first touch. */
  readonly populate?: boolean;
}

/**
 * A process: its own page tables in guest memory, its VMAs, its PCID. Owned by a `GuestOs`; read
 * its fields, change it through the OS.
 */
export class Process {
  readonly pid: number;
  readonly parent: Process | null;
  /** The PCID it runs under (0 without PCIDs). */
  readonly pcid: number;
  /** A virtual-8086 task (a DOS box): the kernel enters it with RFLAGS.VM=1. */
  readonly v86: boolean;
  /** Its page tables (replaced by exec). */
  tables: PageTableBuilder;
  /** Its VMAs, sorted by address. */
  vmas: Vma[] = [];
  alive = true;
  /** Bit i: CPU i has its CR3 loaded now. */
  runningMask = 0;
  /** Bit i: every translation CPU i may cache under its PCID is still valid (so a switch back may skip the flush). */
  freshMask = 0;
  /** Where the next mmap without an address looks, in pages. */
  mmapNext: number;

  constructor(
    pid: number,
    parent: Process | null,
    pcid: number,
    v86: boolean,
    tables: PageTableBuilder,
    mmapBase: number,
  ) {
    this.pid = pid;
    this.parent = parent;
    this.pcid = pcid;
    this.v86 = v86;
    this.tables = tables;
    this.mmapNext = mmapBase;
  }

  /** The root table's guest-physical address (CR3 without the PCID). */
  get root(): number {
    return this.tables.root;
  }

  /** The VMA holding page `vpn`, or undefined. */
  findVma(vpn: number): Vma | undefined {
    const vmas = this.vmas;
    let lo = 0;
    let hi = vmas.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const vma = vmas[mid] as Vma;
      if (vpn < vma.startPage) hi = mid - 1;
      else if (vpn >= vma.endPage) lo = mid + 1;
      else return vma;
    }
    return undefined;
  }
}

/**
 * A guest operating-system model: what a kernel does to page tables. It runs processes on
 * `GuestCpu`s, each with its own tables in guest memory, built with cpu-core's `PageTableBuilder`
 * through `GuestCpu.writePhysical` (so a shadow-paging hypervisor sees every store); handles the #PF
 * of each access (demand-zero fill, transparent huge pages, copy-on-write, or a counted segfault) and
 * retries it; switches address spaces by MOV CR3, with PCIDs and the no-flush bit when enabled; and
 * invalidates what it changes, by INVLPG when the process runs on one CPU and by shootdown when on
 * several (SDM vol. 3A §4.10.4-4.10.5).
 */
export class GuestOs {
  declare readonly cpus: readonly GuestCpu[];
  declare readonly format: TableFormat;
  declare readonly hugePages: boolean;
  declare readonly pcid: boolean;
  declare readonly frames: GuestFrames;
  declare readonly counters: GuestCounters;
  /** Live processes by pid. */
  declare readonly processes: Map<number, Process>;
  /** The guest-physical address of the last access that completed. */
  declare lastGuestPhysical: number;
  /** The rolling digest of every access outcome, in order (`guestDigest` adds the page tables). */
  declare accessDigest: number;
  /** Guest memory as the kernel reaches it (through CPU 0's readPhysical/writePhysical). */
  declare readonly memory: TableMemory;
  /** One page of table words per paging level, for `freeTree`'s copies. */
  private readonly tableScratch = Array.from({ length: 6 }, () => new Uint32Array(1024));
  /** The kernel's own tables (no user mappings): loaded on an idle CPU. */
  declare readonly kernelTables: PageTableBuilder;
  /** User addresses end at this page: 2^47 (2^56 with 5-level paging) or 3 GiB in 32-bit modes. */
  declare readonly userTopPage: number;
  declare private readonly mmapBase: number;
  declare private readonly nx: boolean;
  declare private readonly current: (Process | null)[];
  /** Per CPU, the pid that last loaded each PCID (-1: none). */
  declare private readonly pcidOwner: Int32Array[];
  declare private readonly out: GuestAccess;
  declare private nextPid: number;
  // The leaf findLeaf found (slow path only).
  declare private leafAddress: number;
  declare private leafLevel: number;
  declare private leafLo: number;
  declare private leafHi: number;

  constructor(options: GuestOsOptions) {
    const cpus = options.cpus;
    if (cpus.length < 1 || cpus.length > 32) {
      throw new RangeError(`a guest OS runs on 1 to 32 CPUs, got ${cpus.length}`);
    }
    const mode = options.pagingMode ?? PagingMode.Level4;
    const format = tableFormat(mode);
    const memoryBytes = options.memoryBytes ?? 2 ** 30;
    if (!Number.isInteger(memoryBytes) || memoryBytes % PAGE !== 0 || memoryBytes <= FIRST_FRAME) {
      throw new RangeError(`memoryBytes must be a multiple of 4096 above 1 MiB, got ${memoryBytes}`);
    }
    if (!format.long && memoryBytes > TWO_32) {
      // CR3 is 32 bits outside long mode, and 32-bit PTEs hold 32-bit addresses (SDM vol. 3A §4.3-4.4).
      throw new RangeError(
        `memoryBytes ${memoryBytes} is above 4 GiB, which 32-bit and PAE guest kernels here do not use`,
      );
    }
    const pcid = options.pcid ?? false;
    if (pcid && !format.long)
      throw new RangeError('PCIDs exist only in 4- and 5-level paging (SDM vol. 3A §4.10.1)');
    this.cpus = cpus;
    this.format = format;
    this.hugePages = options.hugePages ?? false;
    this.pcid = pcid;
    this.nx = format.wide;
    this.frames = new GuestFrames(FIRST_FRAME, memoryBytes, format.hugeSize);
    this.counters = new GuestCounters(this.frames);
    this.processes = new Map();
    this.lastGuestPhysical = 0;
    this.accessDigest = DIGEST_SEED;
    const port = cpus[0] as GuestCpu;
    this.memory = {
      readWord: (address) => port.readPhysical(address),
      writeWord: (address, value) => port.writePhysical(address, value),
      readPage: (address, into) => this.readTable(address, into),
    };
    this.userTopPage = format.long ? (mode === PagingMode.Level5 ? 2 ** 44 : 2 ** 35) : 0xc_0000;
    this.mmapBase = format.long ? 0x100_0000 : 0x4_0000;
    this.current = cpus.map(() => null);
    this.pcidOwner = cpus.map(() => new Int32Array(4096).fill(-1));
    this.out = new GuestAccess();
    this.nextPid = 1;
    this.leafAddress = 0;
    this.leafLevel = 0;
    this.leafLo = 0;
    this.leafHi = 0;
    this.kernelTables = this.newTables();
    // Control registers of each mode (SDM vol. 3A §4.1.1, Table 4-1): CR0.PG with PE; CR4.PSE for
    // 4 MiB pages in 32-bit paging; CR4.PAE; EFER.LME for long mode, CR4.LA57 for 5 levels; EFER.NXE
    // so PAE and long entries honour XD; CR0.WP so the kernel's own writes honour R/W.
    const cr4 =
      mode === PagingMode.Legacy32
        ? Cr4.PSE
        : Cr4.PAE | (mode === PagingMode.Level5 ? Cr4.LA57 : 0) | (pcid ? Cr4.PCIDE : 0);
    const efer = (format.long ? Efer.LME : 0) | (format.wide ? Efer.NXE : 0);
    for (const cpu of cpus) {
      const status = cpu.setControlRegisters({
        cr0: (Cr0.PE | Cr0.PG | Cr0.WP) >>> 0,
        cr3: this.kernelTables.root,
        cr4,
        efer,
        rflags: Rflags.FIXED,
      });
      if (status !== TranslateStatus.Ok)
        throw new Error(`loading the guest kernel's control registers failed (status ${status})`);
    }
  }

  /** The process whose CR3 CPU `cpu` has loaded, or null when it runs the kernel's idle tables. */
  currentProcess(cpu: number): Process | null {
    return this.current[cpu] ?? null;
  }

  /** A new process with an empty address space. `v86`: a virtual-8086 task (32-bit and PAE paging only). */
  createProcess(options: { readonly v86?: boolean } = {}): Process {
    return this.spawn(null, options.v86 ?? false);
  }

  /**
   * fork: a child with the parent's VMAs whose tables share every mapped frame copy-on-write. Both
   * sides' entries become read-only with `SoftBit.Cow`; the parent's cached writable translations are
   * flushed (a MOV CR3 reload on each CPU running it), as Linux flushes the parent after copying.
   */
  fork(parent: Process): Process {
    this.checkAlive(parent, 'fork');
    const child = this.spawn(parent, parent.v86);
    child.vmas = parent.vmas.map((vma) => ({ ...vma }));
    child.mmapNext = parent.mmapNext;
    const memory = this.memory;
    const format = this.format;
    let changed = 0;
    walkTables(memory, format, parent.root, 0, this.userTopPage, {
      leaf: (address, lo, hi, vpn, level) => {
        const large = level > 1;
        const frame = entryAddressField(format, lo, hi, large);
        this.frames.ref(frame);
        const shared = ((lo & ~PteFlag.RW) | SoftBit.Cow) >>> 0;
        if (shared !== lo) {
          memory.writeWord(address, shared);
          changed++;
        }
        // The child's entry: the same frame and flags, not yet accessed.
        this.writeMapping(child, vpn, frame, shared & 0xfff & ~PteFlag.A, hi & XD_HI, large);
      },
    });
    if (changed > 0) this.flushProcess(parent);
    this.counters.forks++;
    return child;
  }

  /** exec: the process gets a fresh, empty address space (its CPUs reload CR3 with a flush); the old one is freed. */
  exec(process: Process): void {
    this.checkAlive(process, 'exec');
    const old = process.tables;
    process.tables = this.newTables();
    process.vmas = [];
    process.mmapNext = this.mmapBase;
    this.flushProcess(process);
    this.teardown(old);
    this.counters.execs++;
  }

  /** exit: the CPUs running it go idle, and its frames and tables are freed. */
  exit(process: Process): void {
    this.checkAlive(process, 'exit');
    for (let cpu = 0; cpu < this.cpus.length; cpu++) if (this.current[cpu] === process) this.idle(cpu);
    this.teardown(process.tables);
    process.vmas = [];
    process.alive = false;
    this.processes.delete(process.pid);
    this.counters.exits++;
  }

  /**
   * MOV CR3 to `process` on CPU `cpu`. With PCIDs, CR3 carries the process's PCID and bit 63 (no
   * flush) is set when this CPU's cached translations under that PCID are all still the process's
   * and valid (SDM vol. 3A §4.10.4.1); otherwise the switch flushes them.
   */
  switchTo(process: Process, cpu = 0): void {
    this.checkAlive(process, 'switch to');
    const c = this.cpuAt(cpu);
    const prev = this.current[cpu] ?? null;
    if (prev === process) return;
    const bit = 1 << cpu;
    if (prev !== null) prev.runningMask &= ~bit;
    let noFlush = false;
    let cr3 = process.root;
    if (this.pcid) {
      const owners = this.pcidOwner[cpu] as Int32Array;
      noFlush = owners[process.pcid] === process.pid && (process.freshMask & bit) !== 0;
      owners[process.pcid] = process.pid;
      cr3 += process.pcid;
    }
    this.loadCr3(c, cr3, noFlush);
    process.freshMask |= bit;
    process.runningMask |= bit;
    this.current[cpu] = process;
    // The kernel enters a virtual-8086 task by IRET with VM=1 in the EFLAGS image (SDM vol. 3A §20.2.5).
    if (process.v86) c.state.rflags = (c.state.rflags | Rflags.VM) >>> 0;
    else c.state.rflags = (c.state.rflags & ~Rflags.VM) >>> 0;
    this.counters.contextSwitches++;
    if (noFlush) this.counters.noFlushSwitches++;
  }

  /** CPU `cpu` leaves its process and loads the kernel's tables (PCID 0). */
  idle(cpu: number): void {
    const c = this.cpuAt(cpu);
    const prev = this.current[cpu] ?? null;
    if (prev === null) return;
    prev.runningMask &= ~(1 << cpu);
    this.current[cpu] = null;
    // The kernel's tables map nothing a process could have cached, so PCID 0 need not be flushed.
    this.loadCr3(c, this.kernelTables.root, this.pcid);
    c.state.rflags = (c.state.rflags & ~Rflags.VM) >>> 0;
  }

  /**
   * Maps `length` bytes (rounded up to pages) of anonymous memory with `prot` and returns the start
   * address. Pages are mapped on first touch unless `populate`.
   */
  mmap(process: Process, length: number, prot: number, options: MmapOptions = {}): number {
    this.checkAlive(process, 'mmap in');
    if (!Number.isInteger(length) || length <= 0)
      throw new RangeError(`mmap length must be a positive integer, got ${length}`);
    checkProt(prot);
    const pages = Math.ceil(length / PAGE);
    const huge = options.huge ?? this.hugePages;
    let start: number;
    if (options.address !== undefined) {
      start = this.pageOf(options.address, 'mmap address');
      if (start + pages > this.userTopPage)
        throw new RangeError(
          `mmap at 0x${options.address.toString(16)}: the range ends above the user address space`,
        );
      if (this.overlaps(process, start, start + pages)) {
        throw new RangeError(
          `mmap at 0x${options.address.toString(16)} (${pages} pages) overlaps an existing mapping`,
        );
      }
    } else {
      const align = huge ? this.format.hugeSize / PAGE : 1;
      start = Math.ceil(process.mmapNext / align) * align;
      while (this.overlaps(process, start, start + pages)) start = Math.ceil((start + pages) / align) * align;
      if (start + pages > this.userTopPage)
        throw new RangeError(`mmap of ${pages} pages: no room left in the user address space`);
      // One unmapped guard page between regions.
      process.mmapNext = start + pages + 1;
    }
    const vma: Vma = { startPage: start, endPage: start + pages, prot, huge };
    this.insertVma(process, vma);
    if (options.populate === true && prot !== Prot.None) {
      for (let vpn = start; vpn < start + pages; vpn++)
        if (!this.findLeaf(process, vpn)) this.fill(process, vma, vpn);
    }
    return start * PAGE;
  }

  /** Unmaps [address, address + length): frees the frames, removes the VMAs, and invalidates the pages it unmapped. */
  munmap(process: Process, address: number, length: number): void {
    this.checkAlive(process, 'munmap in');
    const [start, end] = this.range(process, address, length, 'munmap');
    const memory = this.memory;
    const format = this.format;
    const unmapped: number[] = [];
    walkTables(memory, format, process.root, start, end, {
      leaf: (entry, lo, hi, vpn, level) => {
        memory.writeWord(entry, 0);
        if (format.wide) memory.writeWord(entry + 4, 0);
        this.frames.release(entryAddressField(format, lo, hi, level > 1));
        if ((lo & PteFlag.P) !== 0) unmapped.push(vpn);
      },
    });
    this.carve(process, start, end, null);
    this.invalidatePages(process, unmapped);
  }

  /**
   * Changes the protection of [address, address + length), which VMAs must cover: rewrites each
   * mapped entry (R/W stays clear on a copy-on-write page; Prot.None clears P and keeps the frame)
   * and invalidates it.
   */
  mprotect(process: Process, address: number, length: number, prot: number): void {
    this.checkAlive(process, 'mprotect in');
    checkProt(prot);
    const [start, end] = this.range(process, address, length, 'mprotect');
    for (let vpn = start; vpn < end; ) {
      const vma = process.findVma(vpn);
      if (vma === undefined) {
        throw new RangeError(`mprotect: page 0x${(vpn * PAGE).toString(16)} is not mapped (ENOMEM)`);
      }
      vpn = vma.endPage;
    }
    this.carve(process, start, end, prot);
    const memory = this.memory;
    const format = this.format;
    const changed: number[] = [];
    walkTables(memory, format, process.root, start, end, {
      leaf: (entry, lo, hi, vpn, level) => {
        const large = level > 1;
        const frame = entryAddressField(format, lo, hi, large);
        const keep = lo & (PteFlag.A | PteFlag.D | SoftBit.Cow);
        const flags = (this.leafFlags(prot, (lo & SoftBit.Cow) !== 0) | keep) >>> 0;
        this.writeLeaf(entry, frame, flags, this.xd(prot), large);
        changed.push(vpn);
      },
    });
    this.counters.remaps += changed.length;
    this.invalidatePages(process, changed);
  }

  /**
   * Maps the page at `address` of a VMA to the guest frame `frame` (which the caller holds a reference
   * to, as an EMS pool does), replacing and invalidating what was there: the remapping EMM386 does on
   * each EMS bank switch.
   */
  mapFrame(process: Process, address: number, frame: number): void {
    this.checkAlive(process, 'map a frame in');
    const vpn = this.pageOf(address, 'mapFrame address');
    const vma = process.findVma(vpn);
    if (vma === undefined) throw new RangeError(`mapFrame: 0x${address.toString(16)} is in no VMA`);
    this.frames.ref(frame);
    if (this.findLeaf(process, vpn)) {
      if (this.leafLevel > 1)
        throw new RangeError(`mapFrame: 0x${address.toString(16)} is inside a large page`);
      const old = entryAddressField(this.format, this.leafLo, this.leafHi, false);
      this.writeLeaf(this.leafAddress, frame, this.leafFlags(vma.prot, false), this.xd(vma.prot), false);
      this.frames.release(old);
      this.invalidatePage(process, vpn);
    } else {
      this.writeMapping(process, vpn, frame, this.leafFlags(vma.prot, false), this.xd(vma.prot), false);
    }
    this.counters.remaps++;
  }

  /**
   * A guest access by the process running on CPU `cpu` at linear bits 31:0 `lo` and 63:32 `hi`, at
   * CPL 3. A #PF goes to the kernel's handler, which maps what the access needs and retries it, or
   * counts a segfault. Returns the final status; on Ok the address is in `lastGuestPhysical`. Every
   * outcome (each fault's error code, the final address) goes into `accessDigest`.
   */
  access(cpu: number, lo: number, hi: number, kind: AccessKind): TranslateStatus {
    const out = this.out;
    this.counters.accesses++;
    const status = (this.cpus[cpu] as GuestCpu).access(lo, kind, out, Privilege.User, hi);
    if (status !== TranslateStatus.Ok) return this.faulted(cpu, lo, hi, kind, status);
    const gpa = out.translation.guestPhysical;
    this.lastGuestPhysical = gpa;
    this.accessDigest = mixNumber(this.accessDigest, gpa);
    return status;
  }

  /** `access` at a byte address given as one number (below 2^53): a convenience off the hot path. */
  touch(cpu: number, address: number, kind: AccessKind): TranslateStatus {
    const hi = Math.floor(address / TWO_32);
    return this.access(cpu, address - hi * TWO_32, hi, kind);
  }

  /**
   * The guest-physical address `address` maps to in `process`, by a software walk of its tables
   * (what the kernel's follow_page does), or -1 when it maps nothing there.
   */
  translate(process: Process, address: number): number {
    const vpn = Math.floor(address / PAGE);
    if (!this.findLeaf(process, vpn) || (this.leafLo & PteFlag.P) === 0) return -1;
    const large = this.leafLevel > 1;
    const frame = entryAddressField(this.format, this.leafLo, this.leafHi, large);
    return frame + (address % (large ? this.format.hugeSize : PAGE));
  }

  // ---- slow paths ----

  /** The access faulted: deliver the fault to the kernel's handler and retry, until it completes or the handler gives up. */
  private faulted(
    cpu: number,
    lo: number,
    hi: number,
    kind: AccessKind,
    first: TranslateStatus,
  ): TranslateStatus {
    const out = this.out;
    const c = this.cpus[cpu] as GuestCpu;
    let status = first;
    // Each retry follows a fault the handler fixed; a third fault on one access would be a kernel bug.
    for (let attempt = 0; attempt < 4; attempt++) {
      if (status === TranslateStatus.Ok) {
        const gpa = out.translation.guestPhysical;
        this.lastGuestPhysical = gpa;
        this.accessDigest = mixNumber(this.accessDigest, gpa);
        return status;
      }
      const code = status === TranslateStatus.PageFault ? out.translation.errorCode : 0;
      this.accessDigest = mixWord(this.accessDigest, (0x8000_0000 | (status << 16) | code) >>> 0);
      if (status !== TranslateStatus.PageFault) {
        if (status === TranslateStatus.GeneralProtection) this.counters.generalProtections++;
        return status;
      }
      this.counters.pageFaults++;
      if (!this.handleFault(cpu, lo, hi, code)) {
        this.counters.segfaults++;
        return status;
      }
      status = c.access(lo, kind, out, Privilege.User, hi);
    }
    throw new Error(
      `guest kernel: the access at 0x${(hi * TWO_32 + lo).toString(16)} faulted again after its fault was handled`,
    );
  }

  /**
   * The #PF handler: it sees what a kernel sees (the faulting address and the error code, SDM vol. 3A
   * §4.7) and returns whether the access may be retried.
   */
  private handleFault(cpu: number, lo: number, hi: number, code: number): boolean {
    const process = this.current[cpu] ?? null;
    if (process === null) return false;
    const vpn = hi * 1048576 + (lo >>> 12);
    const vma = process.findVma(vpn);
    if (vma === undefined) return false;
    const write = (code & PfError.W) !== 0;
    // I/D is reported only when the fetch could have been refused (XD or SMEP, SDM vol. 3A §4.7).
    const fetch = (code & PfError.ID) !== 0;
    if (
      vma.prot === Prot.None ||
      (write && (vma.prot & Prot.Write) === 0) ||
      (fetch && (vma.prot & Prot.Exec) === 0)
    ) {
      return false;
    }
    if ((code & PfError.P) === 0) {
      if (this.fill(process, vma, vpn)) this.counters.hugePageFaults++;
      else this.counters.demandZeroFaults++;
      return true;
    }
    if (write) return this.breakCow(process, vma, vpn);
    return false;
  }

  /**
   * Demand-zero fill of page `vpn`: a huge frame when the aligned block lies in a THP VMA and nothing
   * is mapped there yet (returns true), else a 4 KiB frame.
   */
  private fill(process: Process, vma: Vma, vpn: number): boolean {
    const flags = this.leafFlags(vma.prot, false);
    const xd = this.xd(vma.prot);
    if (this.hugePages && vma.huge) {
      const span = this.format.hugeSize / PAGE;
      const block = vpn - (vpn % span);
      if (block >= vma.startPage && block + span <= vma.endPage && this.hugeSlotFree(process, block)) {
        const frame = this.frames.allocateHuge();
        if (frame >= 0) {
          this.writeMapping(process, block, frame, flags, xd, true);
          return true;
        }
      }
    }
    this.writeMapping(process, vpn, this.frames.allocate(), flags, xd, false);
    return false;
  }

  /** A write fault on a present page: copy-on-write if the entry is marked so, else false (a true violation). */
  private breakCow(process: Process, vma: Vma, vpn: number): boolean {
    if (!this.findLeaf(process, vpn) || (this.leafLo & SoftBit.Cow) === 0) return false;
    this.counters.cowFaults++;
    const large = this.leafLevel > 1;
    const old = entryAddressField(this.format, this.leafLo, this.leafHi, large);
    let frame = old;
    if (this.frames.refCount(old) > 1) {
      // Data contents are not modeled, so the copy is a fresh (zero) frame of the same size.
      frame = large ? this.frames.allocateHuge() : this.frames.allocate();
      if (frame < 0)
        throw new RangeError('guest memory has no huge frame left to copy a shared huge page into');
      this.frames.release(old);
      this.counters.cowCopies++;
    }
    this.writeLeaf(this.leafAddress, frame, this.leafFlags(vma.prot, false), this.xd(vma.prot), large);
    const base = large ? vpn - (vpn % (this.format.hugeSize / PAGE)) : vpn;
    this.invalidatePage(process, base);
    return true;
  }

  /** Finds the leaf mapping page `vpn` (present or PROT_NONE); fills the leaf fields. */
  private findLeaf(process: Process, vpn: number): boolean {
    const memory = this.memory;
    const format = this.format;
    const linear = this.linearOf(vpn);
    const pde = process.tables.entryAddress(linear, 2);
    if (pde === null) return false;
    const lo2 = memory.readWord(pde);
    if (isLeaf(format, 2, lo2) && (lo2 & (PteFlag.P | SoftBit.ProtNone)) !== 0) {
      this.setLeaf(pde, lo2, 2);
      return true;
    }
    if ((lo2 & PteFlag.P) === 0) return false;
    const pte = process.tables.entryAddress(linear, 1);
    if (pte === null) return false;
    const lo1 = memory.readWord(pte);
    if ((lo1 & (PteFlag.P | SoftBit.ProtNone)) === 0) return false;
    this.setLeaf(pte, lo1, 1);
    return true;
  }

  private setLeaf(address: number, lo: number, level: number): void {
    this.leafAddress = address;
    this.leafLevel = level;
    this.leafLo = lo;
    this.leafHi = this.format.wide ? this.memory.readWord(address + 4) : 0;
  }

  /** Whether the huge block at `block` has no PDE in use (no table, no page). */
  private hugeSlotFree(process: Process, block: number): boolean {
    const pde = process.tables.entryAddress(this.linearOf(block), 2);
    return pde === null || (this.memory.readWord(pde) & (PteFlag.P | SoftBit.ProtNone)) === 0;
  }

  /** Creates a mapping through the table builder (allocating tables as needed), then applies P=0 for PROT_NONE. */
  private writeMapping(
    process: Process,
    vpn: number,
    frame: number,
    flags: number,
    xd: number,
    large: boolean,
  ): void {
    const linear = this.linearOf(vpn);
    // The builder sets P and, for a large page, PS itself (it adds the flags to the address).
    process.tables.map(linear, frame, {
      flags: flags & ~(PteFlag.PS | PteFlag.P),
      noExecute: xd !== 0,
      ...(large ? { size: this.format.hugeSize as PageSize } : {}),
    });
    if ((flags & PteFlag.P) === 0) {
      const entry = process.tables.entryAddress(linear, large ? 2 : 1) as number;
      this.memory.writeWord(entry, (this.memory.readWord(entry) & ~PteFlag.P) >>> 0);
    }
  }

  /** Writes a leaf entry in place (high half first, so the entry never holds a new low half with a stale high half). */
  private writeLeaf(entry: number, frame: number, flags: number, xd: number, large: boolean): void {
    const hi = Math.floor(frame / TWO_32);
    const lo = frame - hi * TWO_32 + (flags & ~PteFlag.PS) + (large ? PteFlag.PS : 0);
    if (this.format.wide) this.memory.writeWord(entry + 4, (hi | xd) >>> 0);
    this.memory.writeWord(entry, lo >>> 0);
  }

  /** Low flags of a leaf with `prot`: U/S always; R/W when writable and not shared copy-on-write; P unless PROT_NONE. */
  private leafFlags(prot: number, cow: boolean): number {
    if (prot === Prot.None) return SoftBit.ProtNone | PteFlag.US | (cow ? SoftBit.Cow : 0);
    return (
      PteFlag.P | PteFlag.US | ((prot & Prot.Write) !== 0 && !cow ? PteFlag.RW : 0) | (cow ? SoftBit.Cow : 0)
    );
  }

  /** XD for a page without Exec, when the mode has it (PAE and long with EFER.NXE; 32-bit entries have no XD). */
  private xd(prot: number): number {
    return this.nx && (prot & Prot.Exec) === 0 ? XD_HI : 0;
  }

  /**
   * Invalidates page `vpn` of `process` wherever it may be cached: INVLPG when it runs on one CPU (the
   * one making the change), a shootdown when it runs on several (SDM vol. 3A §4.10.5), and CPUs that
   * cache it under its PCID without running it must flush before running it again.
   */
  private invalidatePage(process: Process, vpn: number): void {
    const running = process.runningMask;
    process.freshMask &= running;
    if (running === 0) return;
    const lo = (vpn % 1048576) * PAGE;
    const hi = Math.floor(vpn / 1048576);
    const first = 31 - Math.clz32(running & -running);
    const cpu = this.cpus[first] as GuestCpu;
    if ((running & (running - 1)) !== 0) {
      cpu.shootdown(lo, hi);
      this.counters.shootdowns++;
    } else {
      cpu.invlpg(lo, hi);
      this.counters.invlpgs++;
    }
  }

  /** Invalidates a list of pages: one by one up to Linux's ceiling, else by flushing the address space. */
  private invalidatePages(process: Process, pages: readonly number[]): void {
    if (pages.length > FLUSH_CEILING) {
      this.flushProcess(process);
      return;
    }
    for (const vpn of pages) this.invalidatePage(process, vpn);
  }

  /** Flushes the process's translations: a MOV CR3 reload (no no-flush bit) on each CPU running it; others flush before running it. */
  private flushProcess(process: Process): void {
    process.freshMask = process.runningMask;
    this.reloadRunning(process);
  }

  private reloadRunning(process: Process): void {
    for (let cpu = 0; cpu < this.cpus.length; cpu++) {
      if ((process.runningMask & (1 << cpu)) === 0) continue;
      this.loadCr3(this.cpus[cpu] as GuestCpu, process.root + (this.pcid ? process.pcid : 0), false);
      this.counters.tlbFlushes++;
    }
  }

  private loadCr3(cpu: GuestCpu, cr3: number, noFlush: boolean): void {
    const status = cpu.writeCr3(cr3, noFlush);
    if (status !== TranslateStatus.Ok)
      throw new Error(`MOV CR3 0x${cr3.toString(16)} failed (status ${status})`);
  }

  private spawn(parent: Process | null, v86: boolean): Process {
    if (v86 && this.format.long)
      throw new RangeError('virtual-8086 mode does not exist in long mode (SDM vol. 3A §20.1)');
    const pid = this.nextPid++;
    const pcid = this.pcid ? ((pid - 1) % 4095) + 1 : 0;
    const process = new Process(pid, parent, pcid, v86, this.newTables(), this.mmapBase);
    this.processes.set(pid, process);
    this.counters.processesCreated++;
    return process;
  }

  /**
   * Empty tables: a zero root, and under PAE its four page directories at once, as Linux's PAE pgd_alloc
   * does, because the CPU loads PDPTEs only on MOV CR3 (SDM vol. 3A §4.4.1): a PDPTE created later
   * would not be seen until the next CR3 load.
   */
  private newTables(): PageTableBuilder {
    const tables = new PageTableBuilder(this.memory, this.format.mode, () => this.frames.allocate());
    if (this.format.mode === PagingMode.Pae) {
      for (let i = 0; i < 4; i++) {
        // PDPTEs hold only P and the address: R/W and U/S are reserved there (SDM vol. 3A Table 4-8).
        this.memory.writeWord(tables.root + i * 8, (this.frames.allocate() | PteFlag.P) >>> 0);
      }
    }
    return tables;
  }

  /**
   * Frees every frame and table of `tables`. Each table is read once, entry by entry: a leaf's frame
   * is released, a table below is freed first, and every non-zero word is zeroed as the kernel clears
   * a page table before freeing it, so free frames read zero.
   */
  private teardown(tables: PageTableBuilder): void {
    this.freeTree(tables.root, this.format.levels);
  }

  private freeTree(table: number, level: number): void {
    const format = this.format;
    const memory = this.memory;
    const wide = format.wide;
    const bytes = wide ? 8 : 4;
    // The table read in one copy (entries are read before they are cleared, as one by one); each
    // level has its own buffer, so a child's copy leaves its parent's intact.
    const words = this.tableScratch[level];
    this.readTable(table, words);
    const first = (table % 0x1000) >>> 2;
    const count = entriesAt(format, level);
    for (let i = 0; i < count; i++) {
      const w = first + i * (bytes >>> 2);
      const lo = words[w];
      // Every entry this kernel writes has P or U/S in its low half (leafFlags, the builder's table
      // entries) and is cleared in both halves at once, so a zero low half is an empty entry.
      if (lo === 0) continue;
      const hi = wide ? words[w + 1] : 0;
      const address = table + i * bytes;
      if ((lo & (PteFlag.P | SoftBit.ProtNone)) !== 0) {
        if (isLeaf(format, level, lo)) this.frames.release(entryAddressField(format, lo, hi, level > 1));
        else if ((lo & PteFlag.P) !== 0) this.freeTree(entryAddressField(format, lo, hi, false), level - 1);
      }
      memory.writeWord(address, 0);
      if (hi !== 0) memory.writeWord(address + 4, 0);
    }
    this.frames.release(table);
  }

  /** Copies the 4 KiB page holding table `table` into `into`: in one call where the platform can (`GuestCpu.readPhysicalPage`). */
  private readTable(table: number, into: Uint32Array): void {
    const cpu = this.cpus[0] as GuestCpu;
    if (cpu.readPhysicalPage !== undefined) {
      cpu.readPhysicalPage(table, into);
      return;
    }
    const page = table - (table % 0x1000);
    for (let w = 0; w < 1024; w++) into[w] = cpu.readPhysical(page + w * 4);
  }

  /** Splits VMAs at `start` and `end`; the pages between get `prot`, or are removed when `prot` is null. */
  private carve(process: Process, start: number, end: number, prot: number | null): void {
    const result: Vma[] = [];
    for (const vma of process.vmas) {
      if (vma.endPage <= start || vma.startPage >= end) {
        result.push(vma);
        continue;
      }
      if (vma.startPage < start) result.push({ ...vma, endPage: start });
      if (prot !== null) {
        result.push({
          ...vma,
          startPage: Math.max(vma.startPage, start),
          endPage: Math.min(vma.endPage, end),
          prot,
        });
      }
      if (vma.endPage > end) result.push({ ...vma, startPage: end });
    }
    process.vmas = result;
  }

  private insertVma(process: Process, vma: Vma): void {
    const vmas = process.vmas;
    let i = 0;
    while (i < vmas.length && (vmas[i] as Vma).startPage < vma.startPage) i++;
    vmas.splice(i, 0, vma);
  }

  private overlaps(process: Process, start: number, end: number): boolean {
    return process.vmas.some((vma) => vma.startPage < end && vma.endPage > start);
  }

  /** Checks a munmap/mprotect range and that it splits no mapped large page; returns its pages. */
  private range(process: Process, address: number, length: number, what: string): [number, number] {
    const start = this.pageOf(address, `${what} address`);
    if (!Number.isInteger(length) || length <= 0)
      throw new RangeError(`${what} length must be a positive integer, got ${length}`);
    const end = start + Math.ceil(length / PAGE);
    if (end > this.userTopPage) throw new RangeError(`${what}: the range ends above the user address space`);
    const span = this.format.hugeSize / PAGE;
    walkTables(this.memory, this.format, process.root, start, end, {
      leaf: (_entry, _lo, _hi, vpn, level) => {
        if (level > 1 && (vpn < start || vpn + spanAt(this.format, level) > end)) {
          throw new RangeError(
            `${what} of [0x${(start * PAGE).toString(16)}, 0x${(end * PAGE).toString(16)}) would split the huge page at 0x${(vpn * PAGE).toString(16)}: use ${span * 4} KiB-aligned ranges there`,
          );
        }
      },
    });
    return [start, end];
  }

  private pageOf(address: number, what: string): number {
    if (!Number.isInteger(address) || address < 0 || address % PAGE !== 0) {
      throw new RangeError(`${what} 0x${address.toString(16)} is not a page-aligned address`);
    }
    return address / PAGE;
  }

  /** A page's linear address as the builder takes it: a number while exact, a BigInt above 2^53 (5-level paging). */
  private linearOf(vpn: number): number | bigint {
    return vpn < 2 ** 41 ? vpn * PAGE : BigInt(vpn) * 4096n;
  }

  private cpuAt(cpu: number): GuestCpu {
    const c = this.cpus[cpu];
    if (c === undefined)
      throw new RangeError(`CPU ${cpu} does not exist (the guest has ${this.cpus.length})`);
    return c;
  }

  private checkAlive(process: Process, what: string): void {
    if (!process.alive) throw new Error(`cannot ${what} process ${process.pid}: it has exited`);
  }
}

function checkProt(prot: number): void {
  if (!Number.isInteger(prot) || prot < 0 || prot > 7)
    throw new RangeError(`protection ${prot} is not a combination of Prot bits`);
}
