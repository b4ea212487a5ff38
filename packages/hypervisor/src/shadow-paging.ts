import {
  AccessKind,
  type CpuState,
  linearPageNumber,
  linearToBigInt,
  loadPdptes,
  PageTableBuilder,
  PageWalker,
  PagingMode,
  Perm,
  PfError,
  type PhysicalMemory,
  type Privilege,
  PteFlag,
  pdptBase,
  type TablePort,
  TWO_32,
  type WalkResult,
  WalkStatus,
} from '@hvsim/cpu-core';
import { finishOneStage, ShadowMmu, TranslateStatus, type Translation } from '@hvsim/mmu-nested';
import type { ExitReport, GuestAccess } from '@hvsim/platform';
import { tagTableOf } from '@hvsim/tlb-tagged';
import { ExitAction, ExitKind } from './exits.js';
import { EntryFlush } from './extension.js';
import { MmusByCpu } from './mmus-by-cpu.js';
import {
  type ControlsBefore,
  type ExitPort,
  type IdAssignment,
  type IdOwner,
  MAX_RESUMES,
  type PagingBackend,
  type PagingVcpu,
  type PagingVm,
  type VcpuPaging,
} from './paging-backend.js';
import type { PhysicalCpu } from './physical-cpu.js';

/*
 * Shadow paging, the hypervisor's side (the CPU's side is `ShadowMmu` in @hvsim/mmu-nested).
 *
 * The hypervisor keeps shadow tables that map guest-linear addresses to host-physical ones, one root
 * per guest address space (guest paging mode and table base), in host memory, and runs the guest on
 * them. Every shadow leaf is derived from one software walk of the guest's tables, made with the
 * cpu-core walker over guest-physical memory, so the guest's accessed and dirty bits are set exactly
 * as the hardware walker sets them (SDM vol. 3A §4.8) and a true fault has exactly the error code the
 * hardware would give (SDM vol. 3A §4.7). The leaf carries the guest's combined permissions (U, W, XD,
 * G, protection key), with W withheld while the guest's D is clear (so the first write exits and sets
 * it) and while the target is a guest page-table page (so the guest's table writes trap).
 *
 * The pages the guest walks its tables in are write-protected: a store to one exits ("page-table
 * write"), is emulated, and the shadow leaves derived from the guest entry written are zapped, with
 * their cached translations. Shadow tables are therefore never stale with respect to the guest's own
 * tables, so a cached root can be re-entered on a later MOV CR3 without a resynchronization, and with
 * ASID/VPID tagging per root no flush is needed on the switch (AMD APM vol. 2 §15.25.1: under shadow
 * paging an ASID tags a guest-virtual address space, under nested paging a guest-physical one).
 *
 * With guest paging off (real mode, AMD paged real mode, or protected mode without paging) the root
 * maps guest-physical memory one to one: AMD APM vol. 2 §15.19 runs a real-mode guest with CR0.PG=1 on
 * "a shadow page table that maps guest physical memory", #PF intercepted.
 */

/** The shadow tables of one guest address space. */
export class ShadowRoot {
  readonly key: string;
  /** Host-physical address of the shadow root table. */
  readonly root: number;
  readonly levels: 4 | 5;
  /** Every shadow table frame of this root, the root included. */
  readonly frames: number[] = [];
  /** Host-physical addresses of the shadow leaves filled. */
  readonly leaves = new Set<number>();
  /** The ASID/VPID this address space has on each physical CPU. */
  readonly ids: IdOwner = new Map<number, IdAssignment>();
  /** Writes the shadow tables (host format; upper entries P, R/W, U/S: the leaf alone restricts). */
  readonly tables: PageTableBuilder;

  constructor(key: string, levels: 4 | 5, memory: PhysicalMemory, allocate: () => number) {
    this.key = key;
    this.levels = levels;
    this.tables = new PageTableBuilder(memory, levels === 5 ? PagingMode.Level5 : PagingMode.Level4, () => {
      const frame = allocate();
      this.frames.push(frame);
      return frame;
    });
    this.root = this.tables.root;
  }
}

interface LeafInfo {
  readonly root: ShadowRoot;
  /** The 4 KiB linear page number the leaf maps (as the TLB keys it). */
  readonly vpn: number;
  /** The guest-physical frame it maps. */
  readonly gpaFrame: number;
}

/** The port of the software guest walk: guest-physical entry addresses to host-physical ones; it records the entries read. */
class GuestTablePort implements TablePort {
  readonly touched: number[] = [];
  private readonly shadow: ShadowPaging;

  constructor(shadow: ShadowPaging) {
    this.shadow = shadow;
  }

  locate(address: number): number {
    this.touched.push(address);
    return this.shadow.hostOf(address);
  }

  locateForUpdate(address: number): number {
    return this.shadow.hostOf(address);
  }
}

/** What the hypervisor did with a shadow #PF. */
const Verdict = {
  /** The shadow entry was filled: retry the access. */
  Retry: 0,
  /** The access is complete in `out` (emulated Ok, or a #PF injected into the guest). */
  Done: 1,
  /** An exit handler chose to report the exit to the caller. */
  Surface: 2,
} as const;
type Verdict = (typeof Verdict)[keyof typeof Verdict];

/**
 * A VM's shadow paging (`paging: 'shadow'`): its cached shadow roots, the guest page-table pages it
 * write-protects, and the shadow tables' operations (fill, protect, zap). It builds no nested tables.
 */
export class ShadowPaging implements PagingBackend {
  readonly kind = 'shadow';
  readonly tables = null;
  readonly vm: PagingVm;
  /** How many roots are kept cached (roots in use by a vCPU are never evicted). */
  readonly capacity: number;
  /** Cached roots by key, least recently used first. */
  readonly roots = new Map<string, ShadowRoot>();
  /** Guest-physical frames the guest's tables live in (write-protected). */
  readonly tablePages = new Set<number>();
  /** Shadow leaves filled (created), zapped, and roots built, for reports. */
  fills = 0;
  zaps = 0;
  rootsBuilt = 0;
  private readonly leafInfo = new Map<number, LeafInfo>();
  /** Guest entry address to the shadow leaves derived from it. */
  private readonly deps = new Map<number, Set<number>>();
  /** Guest-physical frame to the shadow leaves that map it. */
  private readonly rmap = new Map<number, Set<number>>();
  private readonly attached: ShadowVcpuPaging[] = [];
  private zeroFrame = -1;

  constructor(vm: PagingVm, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`shadowRoots must be a positive integer, got ${capacity}`);
    this.vm = vm;
    this.capacity = capacity;
  }

  attach(vcpu: PagingVcpu, port: ExitPort): VcpuPaging {
    const paging = new ShadowVcpuPaging(this, vcpu, port);
    this.attached.push(paging);
    return paging;
  }

  /** Nothing to do: shadow leaves are made from guest walks, on the first access to a page. */
  mapped(): void {}

  /** Nothing to do until `invalidateBacking`. */
  unmapped(): void {}

  /** Shadow entries point at host frames directly: every root is dropped, with its cached translations. */
  invalidateBacking(): void {
    this.reset();
  }

  /** The host-physical address of guest-physical `gpa`, backing it on first touch; outside the VM's memory a zero page (reads as not present). */
  hostOf(gpa: number): number {
    const vm = this.vm;
    if (vm.contains(gpa)) {
      const hpa = vm.hostAddressOf(gpa);
      return hpa >= 0 ? hpa : vm.populate(gpa);
    }
    if (this.zeroFrame < 0) this.zeroFrame = vm.host.allocate(0x1000, -1);
    return this.zeroFrame + (gpa % 0x1000);
  }

  /** Whether the guest-physical page holding `gpa` holds guest page tables (and is write-protected). */
  isTablePage(gpa: number): boolean {
    return this.tablePages.has(gpa - (gpa % 0x1000));
  }

  /** The key of the guest address space registers `s` select (paging mode and table base). */
  keyOf(s: CpuState): string {
    switch (s.mode) {
      case PagingMode.None:
        return 'none';
      case PagingMode.Pae:
        return `pae:${pdptBase(s.cr3)}`;
      case PagingMode.Legacy32:
        return `32:${s.cr3 - (s.cr3 % 4096)}`;
      default:
        return `${s.mode === PagingMode.Level5 ? 'l5' : 'l4'}:${s.cr3 - (s.cr3 % 4096)}`;
    }
  }

  /** The cached root of the address space registers `s` select, or a new one (evicting the least recently used idle root beyond the capacity). */
  rootFor(s: CpuState): ShadowRoot {
    const key = this.keyOf(s);
    const cached = this.roots.get(key);
    if (cached !== undefined) {
      this.roots.delete(key);
      this.roots.set(key, cached);
      return cached;
    }
    if (this.roots.size >= this.capacity) {
      for (const [k, r] of this.roots) {
        if (this.attached.some((p) => p.root === r)) continue;
        this.free(r);
        this.roots.delete(k);
        break;
      }
    }
    const host = this.vm.host;
    const root = new ShadowRoot(key, s.mode === PagingMode.Level5 ? 5 : 4, host.memory, () =>
      host.allocate(0x1000, -1),
    );
    this.rootsBuilt++;
    this.roots.set(key, root);
    return root;
  }

  /** Drops every shadow root and what derives from them (after the hypervisor changed guest-physical backing, or a guest mode change). */
  reset(): void {
    for (const root of this.roots.values()) this.free(root);
    this.roots.clear();
    this.deps.clear();
    this.rmap.clear();
    this.leafInfo.clear();
    this.tablePages.clear();
    for (const paging of this.attached) {
      paging.root = null;
      paging.mmu = null;
    }
  }

  /** Writes the 4 KiB shadow leaf of linear (lo, h) (page number `vpn`) from the guest walk `g`, which read the guest entries `touched`. */
  fill(
    root: ShadowRoot,
    lo: number,
    h: number,
    vpn: number,
    g: WalkResult,
    touched: readonly number[],
    writable: boolean,
  ): void {
    const gpaFrame = g.physical - (g.physical % 0x1000);
    const page = (lo & 0xffff_f000) >>> 0;
    // A number while exact (below 2^53: every address of the lower half), a BigInt above.
    const linear = h < 0x20_0000 ? h * TWO_32 + page : linearToBigInt(page, h);
    let flags = PteFlag.P | PteFlag.A | PteFlag.D;
    if (writable) flags |= PteFlag.RW;
    if ((g.perms & Perm.User) !== 0) flags |= PteFlag.US;
    if ((g.perms & Perm.Global) !== 0) flags |= PteFlag.G;
    const leaf = root.tables.map(linear, this.hostOf(gpaFrame), {
      flags,
      noExecute: (g.perms & Perm.Execute) === 0,
      // The guest's protection key (SDM vol. 3A §4.6.2), checked by the CPU against the guest's PKRU.
      protectionKey: g.protectionKey,
    });
    this.leafInfo.set(leaf, { root, vpn, gpaFrame });
    root.leaves.add(leaf);
    for (const e of touched) setOf(this.deps, e).add(leaf);
    setOf(this.rmap, gpaFrame).add(leaf);
    this.fills++;
  }

  /** Makes guest frame `frame` a write-protected page-table page: existing writable shadow leaves mapping it lose W. */
  protect(frame: number): void {
    if (this.tablePages.has(frame)) return;
    this.tablePages.add(frame);
    const leaves = this.rmap.get(frame);
    if (leaves === undefined) return;
    const memory = this.vm.host.memory;
    for (const leaf of leaves) {
      const info = this.leafInfo.get(leaf);
      if (info === undefined || info.gpaFrame !== frame) continue;
      const elo = memory.readWord(leaf);
      if ((elo & PteFlag.RW) !== 0) {
        memory.writeWord(leaf, (elo & ~PteFlag.RW) >>> 0);
        this.flushPage(info.root, info.vpn);
      }
    }
  }

  /**
   * The guest's store of `value` to page-table page word `gpa`, emulated: the word lands in guest
   * memory and the shadow leaves derived from the entry are zapped.
   */
  emulateTableWrite(gpa: number, value: number): void {
    this.vm.guestMemory.writeWord(gpa, value);
    this.vm.host.stats.countEmulation();
    // 8-byte entries are keyed by their first word, 4-byte ones (32-bit paging) by their own address.
    this.zapEntry(gpa - (gpa % 8));
    if (gpa % 8 !== 0) this.zapEntry(gpa);
  }

  /** Zaps the shadow leaf of `linear` (page number `vpn`) in `root`, or else removes the page's cached translations. */
  invalidateLinear(root: ShadowRoot, linear: bigint, vpn: number): void {
    const leaf = root.tables.entryAddress(linear, 1);
    if (leaf !== null && this.leafInfo.has(leaf)) this.zap(leaf);
    else this.flushPage(root, vpn);
  }

  /** Drops every root after a change of what the shadow leaves encode of the guest's controls, with their cached translations. */
  dropAll(): void {
    for (const root of this.roots.values()) this.flushRoot(root);
    this.reset();
  }

  private zapEntry(entry: number): void {
    const leaves = this.deps.get(entry);
    if (leaves === undefined) return;
    this.deps.delete(entry);
    for (const leaf of leaves) this.zap(leaf);
  }

  /** Clears a shadow leaf and removes its cached translations on every CPU. */
  private zap(leaf: number): void {
    const info = this.leafInfo.get(leaf);
    if (info === undefined) return;
    this.vm.host.memory.writeEntry(leaf, 0, 0);
    this.leafInfo.delete(leaf);
    info.root.leaves.delete(leaf);
    this.zaps++;
    this.flushPage(info.root, info.vpn);
  }

  /** Removes the TLB entries of page `vpn` of `root` on every CPU where the root's id is current. */
  private flushPage(root: ShadowRoot, vpn: number): void {
    for (const [cpuIndex, a] of root.ids) {
      const cpu = this.vm.host.cpus[cpuIndex];
      if (!cpu.ids.isCurrent(a.generation)) continue;
      const asid = this.asidOn(cpu, a.id);
      if (asid !== null) cpu.caches.tlb?.flushAddress(asid, vpn);
    }
  }

  /** Removes every cached translation of `root` on every CPU where its id is current. */
  private flushRoot(root: ShadowRoot): void {
    for (const [cpuIndex, a] of root.ids) {
      const cpu = this.vm.host.cpus[cpuIndex];
      if (!cpu.ids.isCurrent(a.generation)) continue;
      const asid = this.asidOn(cpu, a.id);
      if (asid === null) continue;
      cpu.caches.tlb?.flushAddressSpace(asid);
      cpu.caches.walkCache?.flushAddressSpace(asid);
    }
  }

  /** The address-space tag id `id` has in `cpu`'s caches (Intel without VPIDs: 0), or null without caches. */
  private asidOn(cpu: PhysicalCpu, id: number): number | null {
    const caches = cpu.caches;
    const tags = tagTableOf(caches);
    if (tags === null) return null;
    return tags.asidOf(this.vm.host.extension.guestContext(caches, id, 0, null));
  }

  private free(root: ShadowRoot): void {
    this.flushRoot(root);
    for (const leaf of root.leaves) this.leafInfo.delete(leaf);
    root.leaves.clear();
    for (const frame of root.frames) this.vm.host.release(frame, 0x1000);
  }
}

/**
 * One vCPU's shadow paging: the root of the guest address space it runs in, a shadow MMU per physical
 * CPU, and the software walk of the guest's tables. Every intercept it handles (MOV CR3, CR0/CR4,
 * INVLPG, #PF, page-table writes) goes through the vCPU's exit port.
 */
class ShadowVcpuPaging implements VcpuPaging {
  /** The id belongs to the guest address space (the root), which every vCPU running in it shares. */
  readonly renewOnMigration = false;
  /** The shadow root of the guest address space the vCPU runs in (null before one is chosen, or after `reset`). */
  root: ShadowRoot | null = null;
  /**
   * `VcpuPaging.mmu`: the MMU of the CPU the vCPU last entered once it has the current root loaded;
   * null when the root is gone (`reset`) or another must be loaded first (`access` does it).
   */
  mmu: ShadowMmu | null = null;
  private readonly shadow: ShadowPaging;
  private readonly vcpu: PagingVcpu;
  private readonly port: ExitPort;
  private readonly tablePort: GuestTablePort;
  private readonly walker: PageWalker;
  private readonly mmus: MmusByCpu<ShadowMmu>;
  /** The report of an exit a handler surfaced during the current access. */
  private surfaced: ExitReport | null = null;
  /** The #PF exits' event, filled in place for each (the extension reads it and keeps nothing of it). */
  private readonly pfEvent = {
    kind: 'exception' as const,
    vector: 14,
    errorCode: 0,
    addressLo: 0,
    addressHi: 0,
  };

  constructor(shadow: ShadowPaging, vcpu: PagingVcpu, port: ExitPort) {
    this.shadow = shadow;
    this.vcpu = vcpu;
    this.port = port;
    this.tablePort = new GuestTablePort(shadow);
    this.walker = new PageWalker(shadow.vm.host.memory, vcpu.state, { port: this.tablePort });
    const host = shadow.vm.host;
    // The guest-physical address behind a shadow leaf's host frame, asked once per walk and kept with the TLB entry.
    this.mmus = new MmusByCpu(
      (cpu) =>
        new ShadowMmu(host.memory, vcpu.state, cpu.mmuCaches(false), (hpa) => host.guestPhysicalOf(hpa)),
    );
  }

  idOwner(): IdOwner {
    if (this.root === null) this.root = this.shadow.rootFor(this.vcpu.state);
    return this.root.ids;
  }

  install(cpu: PhysicalCpu, id: number): void {
    const root = this.root;
    const mmu = this.mmus.activate(cpu);
    if (root !== null) mmu.load(root.root, root.levels);
    this.syncContext(cpu, id);
    this.mmu = root === null ? null : mmu;
  }

  /**
   * The walk of the shadow tables; a #PF exits, and the hypervisor fills the shadow entry (a hidden
   * fault) and resumes, emulates the access, or reflects the guest's own #PF.
   */
  access(
    cpu: PhysicalCpu,
    lo: number,
    hi: number,
    access: AccessKind,
    who: Privilege,
    out: GuestAccess,
  ): TranslateStatus {
    const host = this.shadow.vm.host;
    const mmu = this.mmus.current(cpu);
    if (this.root === null) {
      // A root dropped by the hypervisor (`ShadowPaging.reset`) is rebuilt before the guest resumes.
      this.port.kick();
      this.port.resume(this.switchRoot(this.shadow.rootFor(this.vcpu.state)));
    } else if (mmu.root !== this.root.root) {
      mmu.load(this.root.root, this.root.levels);
    }
    this.mmu = mmu;
    const status = mmu.translate(lo, hi, access, who, out.translation);
    host.stats.countTranslation(out.translation);
    return this.resolve(cpu, status, lo, hi, access, who, out);
  }

  /**
   * `VcpuPaging.resolve`: a #PF exits, and the hypervisor fills the shadow entry (a hidden fault) and
   * retries, emulates the access, or reflects the guest's own #PF.
   */
  resolve(
    cpu: PhysicalCpu,
    first: TranslateStatus,
    lo: number,
    hi: number,
    access: AccessKind,
    who: Privilege,
    out: GuestAccess,
  ): TranslateStatus {
    const host = this.shadow.vm.host;
    const mmu = this.mmus.current(cpu);
    const t = out.translation;
    let status = first;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        status = mmu.translate(lo, hi, access, who, t);
        host.stats.countTranslation(t);
      }
      if (status === TranslateStatus.Ok) return status;
      // #GP (a non-canonical address) is not intercepted: the guest takes it.
      if (status !== TranslateStatus.PageFault) return status;
      this.surfaced = null;
      const verdict = this.pageFault(lo, hi, access, who, t, attempt);
      if (verdict === Verdict.Done) return t.status;
      if (verdict === Verdict.Surface) {
        out.exit = this.surfaced;
        return TranslateStatus.Exit;
      }
      out.resolvedExits++;
      if (attempt >= MAX_RESUMES) throw new Error('shadow paging: an access kept faulting after its fills');
    }
  }

  /**
   * A store to a guest page-table page, which the hypervisor keeps write-protected, exits
   * ("page-table write": the #PF on the write-protected shadow mapping of its direct map; its linear
   * address is not modeled, the report carries the guest-physical address instead) and is emulated.
   * Other stores land.
   */
  writePhysical(gpa: number, value: number): void {
    const shadow = this.shadow;
    if (!shadow.isTablePage(gpa)) {
      shadow.vm.guestMemory.writeWord(gpa, value);
      return;
    }
    const event = this.pfEvent;
    event.errorCode = PfError.P | PfError.W;
    event.addressLo = gpa % TWO_32;
    event.addressHi = Math.floor(gpa / TWO_32);
    const exit = this.port.takeExit(ExitKind.PageTableWrite, event);
    if (exit.action !== ExitAction.Resume) shadow.emulateTableWrite(gpa, value);
    this.port.resume();
  }

  /**
   * An intercepted MOV to CR3 (APM vol. 2 §15.25.1 contrasts it with nested paging, where it is not):
   * the hypervisor switches to the shadow root of the new guest CR3, cached or built empty. Each
   * root's tagged translations stay in step with the guest's tables (every table write zaps what
   * derives from it), so the flush MOV CR3 asks for has nothing stale to remove: `noFlush` changes
   * nothing.
   */
  writeCr3(_noFlush: boolean): TranslateStatus {
    return this.controlRegisterExit(3, null);
  }

  /**
   * An intercepted CR0/CR4/EFER write (one exit for the mode switch). The shadow leaves encode the
   * guest's paging mode, NXE (XD) and PGE (G); when one of them changes every root is dropped, as KVM
   * resets its MMU context. The other controls (WP, SMEP, SMAP, PKE) are read from the vCPU's state.
   */
  setControlRegisters(before: ControlsBefore): TranslateStatus {
    return this.controlRegisterExit(0, before);
  }

  /** An intercepted INVLPG: zaps the shadow leaf of the page in the current root, with its cached translations. */
  invlpg(lo: number, hi: number | undefined): void {
    const state = this.vcpu.state;
    const h = state.lma ? (hi ?? Math.floor(lo / TWO_32)) : 0;
    const l = hi === undefined ? lo % TWO_32 : lo;
    const exit = this.port.takeExit(ExitKind.Invlpg, { kind: 'invlpg', linearLo: l, linearHi: h });
    if (exit.action !== ExitAction.Resume && this.root !== null)
      this.shadow.invalidateLinear(this.root, linearToBigInt(l, h), linearPageNumber(l, h, state));
    this.port.resume();
  }

  /** A shootdown's IPI handler runs INVLPG, intercepted. */
  invalidatePage(linear: number, linearHi: number | undefined): void {
    this.invlpg(linear, linearHi);
  }

  /** Makes `root` the vCPU's address space, with the id it has on the current CPU; returns the flush the re-entry needs. */
  private switchRoot(root: ShadowRoot): EntryFlush {
    this.root = root;
    const cpu = this.vcpu.cpu;
    if (cpu === null) {
      this.mmu = null;
      return EntryFlush.None;
    }
    const flush = this.port.switchIds(root.ids);
    const mmu = this.mmus.of(cpu);
    mmu.load(root.root, root.levels);
    this.mmu = mmu;
    this.syncContext(cpu, this.port.currentId());
    return flush;
  }

  /** The exit of a MOV to CR`cr`; by default loads PAE PDPTEs (or fails with #GP) and switches to the root the registers select. */
  private controlRegisterExit(cr: number, before: ControlsBefore | null): TranslateStatus {
    const port = this.port;
    const exit = port.takeExit(cr === 3 ? ExitKind.Cr3Write : ExitKind.CrWrite, {
      kind: 'cr-write',
      cr,
      gpr: 0,
    });
    if (exit.action === ExitAction.Resume) {
      port.resume();
      return TranslateStatus.Ok;
    }
    const s = this.vcpu.state;
    // The hypervisor emulating MOV CR3 loads the PAE PDPTE registers from guest memory (SDM vol. 3A §4.4.1).
    if (
      s.mode === PagingMode.Pae &&
      loadPdptes(this.shadow.vm.host.memory, s, this.tablePort) !== WalkStatus.Ok
    ) {
      port.resume();
      return TranslateStatus.GeneralProtection;
    }
    if (before !== null && (s.mode !== before.mode || s.nxe !== before.nxe || s.pge !== before.pge))
      this.shadow.dropAll();
    port.resume(this.switchRoot(this.shadow.rootFor(s)));
    return TranslateStatus.Ok;
  }

  /**
   * A #PF raised by the shadow walk (intercepted: AMD exception intercept 14, Intel exception bitmap
   * bit 14). The guest's tables are walked in software with the cpu-core walker, so the guest's A/D
   * bits are set as the hardware walker sets them (SDM vol. 3A §4.8): a fault there is the guest's own
   * and is reflected with its error code and faulting address (SDM vol. 3A §4.7); otherwise the fault
   * was hidden and the shadow leaf is filled, or, when the shadow cannot allow the access (a write to
   * a page-table page, a supervisor write with guest CR0.WP=0), the access is emulated.
   */
  private pageFault(
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    out: Translation,
    attempt: number,
  ): Verdict {
    const shadow = this.shadow;
    const port = this.port;
    const state = this.vcpu.state;
    const h = state.lma ? hi : 0;
    const touched = this.tablePort.touched;
    touched.length = 0;
    // The software walk writes into the translation's walk result (the shadow walk's is spent).
    const g = out.guest;
    const status = this.walker.walk(lo, h, access, privilege, g);
    // The #PF the guest caused, as the exits report it (one reused event: describeExit keeps none of it).
    const event = this.pfEvent;
    event.errorCode = out.errorCode;
    event.addressLo = lo;
    event.addressHi = h;
    if (status !== WalkStatus.Ok) {
      const exit = port.takeExit(ExitKind.GuestPageFault, event);
      port.resume();
      if (exit.action === ExitAction.Surface) {
        this.surfaced = exit.report;
        return Verdict.Surface;
      }
      if (exit.action === ExitAction.Resume) return Verdict.Retry;
      finishOneStage(status, out);
      return Verdict.Done;
    }
    const gpa = g.physical;
    const gpaFrame = gpa - (gpa % 0x1000);
    // PAE: the PDPTE the walk used is a register, loaded from the PDPT page, which is a table page too.
    if (state.mode === PagingMode.Pae) touched.push(pdptBase(state.cr3) + (lo >>> 30) * 8);
    for (const e of touched) shadow.protect(e - (e % 0x1000));
    // Writable in the shadow only once the guest's D is set (a write walk has just set it), so the
    // first write to a clean page exits and the walk sets D as hardware does (SDM vol. 3A §4.8).
    const tablePage = shadow.tablePages.has(gpaFrame);
    const shadowWritable = (g.perms & Perm.Write) !== 0 && (g.perms & Perm.Dirty) !== 0 && !tablePage;
    const emulate = (access === AccessKind.Write && !shadowWritable) || attempt >= 2;
    const kind = !emulate
      ? ExitKind.HiddenPageFault
      : tablePage
        ? ExitKind.PageTableWrite
        : ExitKind.EmulatedAccess;
    const exit = port.takeExit(kind, event);
    if (exit.action === ExitAction.Surface) {
      port.resume();
      this.surfaced = exit.report;
      return Verdict.Surface;
    }
    if (exit.action === ExitAction.Resume) {
      port.resume();
      return Verdict.Retry;
    }
    if (emulate) {
      shadow.vm.host.stats.countEmulation();
      out.guestPhysical = gpa;
      out.hostPhysical = shadow.hostOf(gpa);
      out.pageShift = 12;
      out.perms = g.perms;
      out.status = TranslateStatus.Ok;
      port.resume();
      return Verdict.Done;
    }
    const root = this.root;
    if (root !== null) shadow.fill(root, lo, h, linearPageNumber(lo, h, state), g, touched, shadowWritable);
    shadow.vm.host.stats.countShadowFill();
    port.resume();
    return Verdict.Retry;
  }

  /**
   * Shadow translations are linear to host-physical, tagged by the root's id alone: no PCID (the
   * hardware CR3 is the shadow root's), and under VMX no EP4TA (EPT is off, SDM vol. 3C §29.4.1).
   */
  private syncContext(cpu: PhysicalCpu, id: number): void {
    const caches = this.mmus.of(cpu).caches;
    if (caches !== null) caches.context = this.shadow.vm.host.extension.guestContext(cpu.caches, id, 0, null);
  }
}

function setOf(map: Map<number, Set<number>>, key: number): Set<number> {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}
