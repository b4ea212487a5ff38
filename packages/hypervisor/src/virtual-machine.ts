import type { WordMemory } from '@hvsim/cpu-core';
import type { ExitHandler } from './exits.js';
import { type BackingPageSize, EntryFlush, type NestedTables } from './extension.js';
import type { HostMachine } from './host-machine.js';
import { ShadowPaging } from './shadow-paging.js';
import { VirtualCpu } from './virtual-cpu.js';

/** Options of a VM. */
export interface VirtualMachineOptions {
  /** Guest-physical memory size in bytes (a multiple of the backing page size). */
  readonly memorySize: number;
  /**
   * The page size backing guest-physical memory in the nested tables (default 4 KiB). Large nested
   * pages shorten the second stage of every walk: what VMware's RVI and EPT studies recommend.
   */
  readonly backing?: BackingPageSize;
  /** Back pages when the guest first touches them (default), or all of them up front. */
  readonly fill?: 'on-demand' | 'up-front';
  /**
   * How guest memory is virtualized: 'nested' (default) runs the guest on its own tables with the
   * vendor's nested tables below (AMD NPT, Intel EPT); 'shadow' runs it on shadow tables the
   * hypervisor keeps (guest-virtual to host-physical), trapping MOV CR3, INVLPG, #PF and writes to the
   * guest's page tables.
   */
  readonly paging?: 'nested' | 'shadow';
  /** Shadow paging: how many shadow roots (guest address spaces) are kept cached (default 16). */
  readonly shadowRoots?: number;
}

const BACKING_SIZES: readonly number[] = [0x1000, 0x20_0000, 0x4000_0000];

/**
 * A VM: a guest-physical address space backed by host frames through nested tables (NPT or EPT) that
 * the hypervisor builds in host memory, and its vCPUs.
 */
export class VirtualMachine {
  readonly id: number;
  readonly host: HostMachine;
  readonly memorySize: number;
  readonly backing: BackingPageSize;
  readonly tables: NestedTables;
  readonly vcpus: VirtualCpu[] = [];
  /** 'nested' or 'shadow' (see `VirtualMachineOptions.paging`). */
  readonly paging: 'nested' | 'shadow';
  /** The shadow-paging policy and state under shadow paging, else null. */
  readonly shadow: ShadowPaging | null;
  /** This VM's exit handlers (run before the host's), in registration order. */
  readonly exitHandlers: ExitHandler[] = [];
  /** Backing page base (guest-physical) to host-physical base. */
  private readonly mapped = new Map<number, number>();

  constructor(host: HostMachine, id: number, options: VirtualMachineOptions) {
    const backing = options.backing ?? 0x1000;
    if (!BACKING_SIZES.includes(backing))
      throw new RangeError(`backing must be 4 KiB, 2 MiB or 1 GiB, got ${backing}`);
    if (
      !Number.isInteger(options.memorySize) ||
      options.memorySize <= 0 ||
      options.memorySize % backing !== 0
    ) {
      throw new RangeError(
        `memorySize must be a positive multiple of the backing page size (0x${backing.toString(16)})`,
      );
    }
    this.host = host;
    this.id = id;
    this.memorySize = options.memorySize;
    this.backing = backing;
    this.tables = host.extension.createNestedTables(host.memory, () => host.allocate(0x1000, -1));
    const paging = options.paging ?? 'nested';
    if (paging !== 'nested' && paging !== 'shadow')
      throw new RangeError(`paging must be 'nested' or 'shadow', got ${JSON.stringify(paging)}`);
    this.paging = paging;
    this.shadow = paging === 'shadow' ? new ShadowPaging(this, options.shadowRoots ?? 16) : null;
    if (options.fill === 'up-front') {
      for (let gpa = 0; gpa < this.memorySize; gpa += backing) this.populate(gpa);
    }
  }

  /** The host-physical address guest-physical `gpa` is backed by, or -1 when it is not (yet). */
  hostAddressOf(gpa: number): number {
    const base = gpa - (gpa % this.backing);
    const hpa = this.mapped.get(base);
    return hpa === undefined ? -1 : hpa + (gpa - base);
  }

  /** The guest-physical address host-physical `hpa` backs, or NaN when it backs none of this VM's memory. */
  guestPhysicalOf(hpa: number): number {
    const gpa = this.host.guestPhysicalOf(hpa);
    return this.host.frameOwner.get(Math.floor(hpa / 0x1000)) === this.id ? gpa : Number.NaN;
  }

  /** Registers a handler for this VM's exits (see `ExitHandler`); returns a function that removes it. */
  onExit(handler: ExitHandler): () => void {
    this.exitHandlers.push(handler);
    return () => {
      const i = this.exitHandlers.indexOf(handler);
      if (i >= 0) this.exitHandlers.splice(i, 1);
    };
  }

  /** Whether `gpa` lies inside the VM's memory. */
  contains(gpa: number): boolean {
    return gpa >= 0 && gpa < this.memorySize;
  }

  /** Backs the page holding `gpa` (allocating a zeroed host block and mapping it); returns its host address. */
  populate(gpa: number): number {
    if (!this.contains(gpa))
      throw new RangeError(`guest-physical 0x${gpa.toString(16)} is outside VM ${this.id}'s memory`);
    const existing = this.hostAddressOf(gpa);
    if (existing >= 0) return existing;
    const base = gpa - (gpa % this.backing);
    const hpa = this.host.allocate(this.backing, this.id);
    this.tables.map(base, hpa, this.backing);
    this.mapped.set(base, hpa);
    for (let o = 0; o < this.backing; o += 0x1000) this.host.setGuestFrame(hpa + o, base + o);
    this.host.stats.pagesPopulated++;
    return hpa + (gpa - base);
  }

  /**
   * Unmaps the backing page holding `gpa` and frees its frames, with the invalidations hardware
   * needs: cached guest-physical and combined translations of this VM are removed on every CPU
   * (Intel INVEPT single-context), or, where the vendor cannot invalidate by guest-physical address
   * (AMD: INVLPGA takes guest-virtual addresses only, APM vol. 2 §15.16.2), flushed on every CPU now
   * for vCPUs in guest mode and at the next entry for the others (TLB_CONTROL, §15.16.1).
   */
  unmap(gpa: number): boolean {
    const base = gpa - (gpa % this.backing);
    const hpa = this.mapped.get(base);
    if (hpa === undefined) return false;
    this.tables.unmap(base, this.backing);
    this.mapped.delete(base);
    for (let o = 0; o < this.backing; o += 0x1000) this.host.setGuestFrame(hpa + o, -1);
    this.invalidateEverywhere();
    this.host.release(hpa, this.backing);
    return true;
  }

  /** Moves the page holding `gpa` to a new host block (as page migration or deduplication would). */
  remap(gpa: number): number {
    const hpa = this.hostAddressOf(gpa);
    if (hpa < 0) return this.populate(gpa);
    const base = gpa - (gpa % this.backing);
    const oldBase = hpa - (gpa - base);
    const fresh = this.host.allocate(this.backing, this.id);
    for (let offset = 0; offset < this.backing; offset += 0x1000) {
      this.host.memory.copyFrame(oldBase + offset, fresh + offset);
    }
    this.tables.unmap(base, this.backing);
    this.tables.map(base, fresh, this.backing);
    this.mapped.set(base, fresh);
    for (let o = 0; o < this.backing; o += 0x1000) {
      this.host.setGuestFrame(oldBase + o, -1);
      this.host.setGuestFrame(fresh + o, base + o);
    }
    this.invalidateEverywhere();
    this.host.release(oldBase, this.backing);
    return fresh + (gpa - base);
  }

  private invalidateEverywhere(): void {
    if (this.shadow !== null) {
      // Shadow entries point at host frames directly: drop them all (and their cached translations).
      this.shadow.reset();
      return;
    }
    const ext = this.host.extension;
    for (const cpu of this.host.cpus) {
      if (ext.invalidateNested(cpu.caches, this.tables)) continue;
      // No invalidation by guest-physical address: every vCPU of this VM flushes its id on that CPU.
      for (const vcpu of this.vcpus) vcpu.requestFlush(cpu.index, EntryFlush.Guest);
    }
  }

  /** Creates a vCPU (guest state starts in real mode, paging off). */
  createVcpu(): VirtualCpu {
    const vcpu = new VirtualCpu(this, this.vcpus.length);
    this.vcpus.push(vcpu);
    return vcpu;
  }

  /**
   * The guest's physical memory as 32-bit words, read and written through the nested mapping
   * (backing pages on first touch): what a guest kernel builds its page tables in.
   */
  readonly guestMemory: WordMemory = {
    readWord: (gpa: number) => {
      const hpa = this.hostAddressOf(gpa);
      return hpa < 0 ? 0 : this.host.memory.readWord(hpa);
    },
    writeWord: (gpa: number, value: number) => {
      this.host.memory.writeWord(this.populate(gpa), value);
    },
  };

  /**
   * A TLB shootdown of guest-linear page `linear` (a guest kernel changed a mapping every vCPU may
   * cache): the initiator invalidates locally, and every other vCPU of the VM that is in guest mode
   * takes an IPI and invalidates on its CPU; vCPUs not running have their cached copies on every CPU
   * invalidated without an IPI, as a lazy-TLB kernel arranges before they next run.
   */
  shootdown(linear: number, initiator: VirtualCpu | null, linearHi?: number): void {
    const host = this.host;
    host.stats.shootdowns++;
    for (const vcpu of this.vcpus) {
      if (vcpu !== initiator && vcpu.cpu !== null) {
        host.stats.ipis++;
        host.stats.cycles += host.costs.ipi;
      }
      vcpu.invalidatePage(linear, linearHi);
    }
  }
}
