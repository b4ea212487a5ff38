import {
  AccessKind,
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
  type WalkResult,
  WalkStatus,
} from '@hvsim/cpu-core';
import { finishOneStage, TranslateStatus, type Translation } from '@hvsim/mmu-nested';
import { tagTableOf } from '@hvsim/tlb-tagged';
import { ExitAction, ExitKind } from './exits.js';
import type { PhysicalCpu } from './host-machine.js';
import type { VirtualCpu } from './virtual-cpu.js';
import type { VirtualMachine } from './virtual-machine.js';

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

const TWO_32 = 4294967296;

interface IdAssignment {
  readonly id: number;
  readonly generation: number;
}

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
  readonly ids = new Map<number, IdAssignment>();
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
  readonly shadow: ShadowPaging;

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
export const ShadowVerdict = {
  /** The shadow entry was filled: retry the access. */
  Retry: 0,
  /** The access is complete in `out` (emulated Ok, or a #PF injected into the guest). */
  Done: 1,
  /** An exit handler chose to report the exit to the caller. */
  Surface: 2,
} as const;
export type ShadowVerdict = (typeof ShadowVerdict)[keyof typeof ShadowVerdict];

/** Per-vCPU pieces of the software walk. */
class SoftwareWalk {
  readonly port: GuestTablePort;
  readonly walker: PageWalker;

  constructor(shadow: ShadowPaging, vcpu: VirtualCpu) {
    this.port = new GuestTablePort(shadow);
    this.walker = new PageWalker(shadow.vm.host.memory, vcpu.state, { port: this.port });
  }
}

/** A VM's shadow-paging state and policy (created by the VM when `paging: 'shadow'`). */
export class ShadowPaging {
  readonly vm: VirtualMachine;
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
  private readonly walks = new Map<VirtualCpu, SoftwareWalk>();
  private zeroFrame = -1;

  constructor(vm: VirtualMachine, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`shadowRoots must be a positive integer, got ${capacity}`);
    this.vm = vm;
    this.capacity = capacity;
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

  /** The key of the guest address space the vCPU's registers select. */
  keyOf(vcpu: VirtualCpu): string {
    const s = vcpu.state;
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

  /** The cached root of the address space the vCPU's registers select, or a new one (evicting the least recently used idle root beyond the capacity). */
  rootFor(vcpu: VirtualCpu): ShadowRoot {
    const key = this.keyOf(vcpu);
    const cached = this.roots.get(key);
    if (cached !== undefined) {
      this.roots.delete(key);
      this.roots.set(key, cached);
      return cached;
    }
    if (this.roots.size >= this.capacity) {
      for (const [k, r] of this.roots) {
        if (this.vm.vcpus.some((v) => v.shadowRoot === r)) continue;
        this.free(r);
        this.roots.delete(k);
        break;
      }
    }
    const host = this.vm.host;
    const root = new ShadowRoot(key, vcpu.state.mode === PagingMode.Level5 ? 5 : 4, host.memory, () =>
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
    for (const vcpu of this.vm.vcpus) vcpu.shadowRoot = null;
  }

  private walkOf(vcpu: VirtualCpu): SoftwareWalk {
    let w = this.walks.get(vcpu);
    if (w === undefined) {
      w = new SoftwareWalk(this, vcpu);
      this.walks.set(vcpu, w);
    }
    return w;
  }

  /** Loads the guest's PAE PDPTE registers from guest memory, as the hypervisor emulating MOV CR3 must (SDM vol. 3A §4.4.1). */
  private loadPdptes(vcpu: VirtualCpu): boolean {
    if (vcpu.state.mode !== PagingMode.Pae) return true;
    const w = this.walkOf(vcpu);
    return loadPdptes(this.vm.host.memory, vcpu.state, w.port) === WalkStatus.Ok;
  }

  /** An intercepted MOV to CR3: switch to the shadow root of the new guest CR3 (cached, or built empty). */
  writeCr3(vcpu: VirtualCpu): TranslateStatus {
    return this.controlRegisterExit(vcpu, 3, null);
  }

  /**
   * An intercepted CR0/CR4/EFER write (one exit for the mode switch). The shadow leaves encode the
   * guest's paging mode, NXE (XD) and PGE (G); when one of them changes every root is dropped, as KVM
   * resets its MMU context. The other controls (WP, SMEP, SMAP, PKE) are reloaded into the CPU's state.
   */
  setControlRegisters(
    vcpu: VirtualCpu,
    before: { mode: number; nxe: boolean; pge: boolean },
  ): TranslateStatus {
    return this.controlRegisterExit(vcpu, 0, before);
  }

  /** The exit of a MOV to CR`cr`; by default loads PAE PDPTEs (or fails with #GP) and switches to the root the registers select. */
  private controlRegisterExit(
    vcpu: VirtualCpu,
    cr: number,
    before: { mode: number; nxe: boolean; pge: boolean } | null,
  ): TranslateStatus {
    const exit = vcpu.takeExit(cr === 3 ? ExitKind.Cr3Write : ExitKind.CrWrite, {
      kind: 'cr-write',
      cr,
      gpr: 0,
    });
    if (exit.action === ExitAction.Resume) {
      vcpu.resume();
      return TranslateStatus.Ok;
    }
    if (!this.loadPdptes(vcpu)) {
      vcpu.resume();
      return TranslateStatus.GeneralProtection;
    }
    const s = vcpu.state;
    if (before !== null && (s.mode !== before.mode || s.nxe !== before.nxe || s.pge !== before.pge)) {
      this.flushAllRoots();
      this.reset();
    }
    vcpu.resume(vcpu.switchShadowRoot(this.rootFor(vcpu)));
    return TranslateStatus.Ok;
  }

  /** An intercepted INVLPG: zaps the shadow leaf of the page in the current root, with its cached translations. */
  invlpg(vcpu: VirtualCpu, lo: number, hi: number | undefined): void {
    const h = vcpu.state.lma ? (hi ?? Math.floor(lo / TWO_32)) : 0;
    const l = hi === undefined ? lo % TWO_32 : lo;
    const exit = vcpu.takeExit(ExitKind.Invlpg, { kind: 'invlpg', linear: linearOf(l, h) });
    if (exit.action !== ExitAction.Resume) {
      const root = vcpu.shadowRoot;
      if (root !== null) {
        const leaf = root.tables.entryAddress(linearOf(l, h), 1);
        if (leaf !== null && this.leafInfo.has(leaf)) this.zap(leaf);
        else this.flushPage(root, vpnOf(l, h));
      }
    }
    vcpu.resume();
  }

  /**
   * A guest store to a write-protected page-table page: the #PF exit on the write-protected shadow
   * mapping of its direct map (its linear address is not modeled; the report carries the
   * guest-physical address instead), emulated: the word lands in guest memory and the shadow leaves
   * derived from the entry are zapped.
   */
  tableWrite(vcpu: VirtualCpu, gpa: number, value: number): void {
    const exit = vcpu.takeExit(ExitKind.PageTableWrite, {
      kind: 'exception',
      vector: 14,
      errorCode: PfError.P | PfError.W,
      address: BigInt(gpa),
    });
    if (exit.action !== ExitAction.Resume) {
      this.vm.guestMemory.writeWord(gpa, value);
      this.vm.host.stats.cycles += this.vm.host.costs.emulation;
      // 8-byte entries are keyed by their first word, 4-byte ones (32-bit paging) by their own address.
      this.zapEntry(gpa - (gpa % 8));
      if (gpa % 8 !== 0) this.zapEntry(gpa);
    }
    vcpu.resume();
  }

  /**
   * A #PF raised by the shadow walk (intercepted: AMD exception intercept 14, Intel exception bitmap
   * bit 14). The guest's tables are walked in software: a fault there is the guest's own and is
   * reflected with its error code and faulting address; otherwise the fault was hidden and the shadow
   * leaf is filled, or, when the shadow cannot allow the access (a write to a page-table page, a
   * supervisor write with guest CR0.WP=0), the access is emulated.
   */
  pageFault(
    vcpu: VirtualCpu,
    lo: number,
    hi: number,
    access: AccessKind,
    privilege: Privilege,
    out: Translation,
    attempt: number,
  ): ShadowVerdict {
    const state = vcpu.state;
    const h = state.lma ? hi : 0;
    const w = this.walkOf(vcpu);
    w.port.touched.length = 0;
    // The software walk writes into the translation's walk result (the shadow walk's is spent).
    const g = out.guest;
    const status = w.walker.walk(lo, h, access, privilege, g);
    const event = {
      kind: 'exception',
      vector: 14,
      errorCode: out.errorCode,
      address: linearOf(lo, h),
    } as const;
    const costs = this.vm.host.costs;
    const stats = this.vm.host.stats;
    if (status !== WalkStatus.Ok) {
      const exit = vcpu.takeExit(ExitKind.GuestPageFault, event);
      vcpu.resume();
      if (exit.action === ExitAction.Surface) {
        vcpu.surfaced = exit.report;
        return ShadowVerdict.Surface;
      }
      if (exit.action === ExitAction.Resume) return ShadowVerdict.Retry;
      finishOneStage(status, out);
      return ShadowVerdict.Done;
    }
    const gpa = g.physical;
    const gpaFrame = gpa - (gpa % 0x1000);
    // PAE: the PDPTE the walk used is a register, loaded from the PDPT page, which is a table page too.
    if (state.mode === PagingMode.Pae) w.port.touched.push(pdptBase(state.cr3) + (lo >>> 30) * 8);
    for (const e of w.port.touched) this.protect(e - (e % 0x1000));
    // Writable in the shadow only once the guest's D is set (a write walk has just set it), so the
    // first write to a clean page exits and the walk sets D as hardware does (SDM vol. 3A §4.8).
    const shadowWritable =
      (g.perms & Perm.Write) !== 0 && (g.perms & Perm.Dirty) !== 0 && !this.tablePages.has(gpaFrame);
    const emulate = (access === AccessKind.Write && !shadowWritable) || attempt >= 2;
    const kind = !emulate
      ? ExitKind.HiddenPageFault
      : this.tablePages.has(gpaFrame)
        ? ExitKind.PageTableWrite
        : ExitKind.EmulatedAccess;
    const exit = vcpu.takeExit(kind, event);
    if (exit.action === ExitAction.Surface) {
      vcpu.resume();
      vcpu.surfaced = exit.report;
      return ShadowVerdict.Surface;
    }
    if (exit.action === ExitAction.Resume) {
      vcpu.resume();
      return ShadowVerdict.Retry;
    }
    if (emulate) {
      stats.cycles += costs.emulation;
      out.guestPhysical = gpa;
      out.hostPhysical = this.hostOf(gpa);
      out.pageShift = 12;
      out.perms = g.perms;
      out.status = TranslateStatus.Ok;
      vcpu.resume();
      return ShadowVerdict.Done;
    }
    const root = vcpu.shadowRoot;
    if (root !== null) this.fill(root, lo, h, g, w.port.touched, shadowWritable);
    stats.cycles += costs.shadowFill;
    vcpu.resume();
    return ShadowVerdict.Retry;
  }

  /** Writes the shadow leaf (4 KiB) for linear (lo, h) from the guest walk `g`. */
  private fill(
    root: ShadowRoot,
    lo: number,
    h: number,
    g: WalkResult,
    touched: readonly number[],
    writable: boolean,
  ): void {
    const gpaFrame = g.physical - (g.physical % 0x1000);
    const linear = linearOf((lo & 0xffff_f000) >>> 0, h);
    let flags = PteFlag.P | PteFlag.A | PteFlag.D;
    if (writable) flags |= PteFlag.RW;
    if ((g.perms & Perm.User) !== 0) flags |= PteFlag.US;
    if ((g.perms & Perm.Global) !== 0) flags |= PteFlag.G;
    root.tables.map(linear, this.hostOf(gpaFrame), {
      flags,
      noExecute: (g.perms & Perm.Execute) === 0,
      // The guest's protection key (SDM vol. 3A §4.6.2), checked by the CPU against the guest's PKRU.
      protectionKey: g.protectionKey,
    });
    const leaf = root.tables.entryAddress(linear, 1) as number;
    this.leafInfo.set(leaf, { root, vpn: vpnOf(lo, h), gpaFrame });
    root.leaves.add(leaf);
    for (const e of touched) setOf(this.deps, e).add(leaf);
    setOf(this.rmap, gpaFrame).add(leaf);
    this.fills++;
  }

  /** Makes guest frame `frame` a write-protected page-table page: existing writable shadow leaves mapping it lose W. */
  private protect(frame: number): void {
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

  /** Removes every cached translation of every root (before the roots are dropped). */
  private flushAllRoots(): void {
    for (const root of this.roots.values()) this.flushRoot(root);
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
    return tags.asidOf(this.vm.host.extension.guestContext(caches, id, 0, this.vm.tables));
  }

  private free(root: ShadowRoot): void {
    this.flushRoot(root);
    for (const leaf of root.leaves) this.leafInfo.delete(leaf);
    root.leaves.clear();
    for (const frame of root.frames) this.vm.host.release(frame, 0x1000);
  }
}

/** The 4 KiB page number the TLB keys a linear address by (bits 56:12). */
function vpnOf(lo: number, h: number): number {
  return (h & 0x1ff_ffff) * 1048576 + (lo >>> 12);
}

/** A 64-bit linear address from its halves, as BigInt operands and the table builder take it. */
export function linearOf(lo: number, h: number): bigint {
  return (BigInt(h >>> 0) << 32n) | BigInt(lo >>> 0);
}

function setOf(map: Map<number, Set<number>>, key: number): Set<number> {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}
