import { PhysicalMemory } from '@hvsim/cpu-core';
import { type CostModel, checkCosts, defaultCosts, MachineStats } from '@hvsim/platform';
import { buildCaches, type CpuCacheConfig } from '@hvsim/tlb-tagged';
import { grownToHold } from './grow.js';

/** The translation structures each physical CPU gets (see `@hvsim/tlb-tagged`'s `CpuCacheConfig`). */
export type { CpuCacheConfig };

import type { BackingPageSize, VirtualizationExtension } from './extension.js';
import type { Host } from './host.js';
import { IdAllocator } from './id-allocator.js';
import { PhysicalCpu } from './physical-cpu.js';
import {
  type ExitHandler,
  type VirtualCpu,
  VirtualMachine,
  type VirtualMachineOptions,
} from './virtual-machine.js';

/** Options of a host machine. */
export interface HostMachineOptions {
  /** The vendor's virtualization extension (`@hvsim/vendor-amd` or `@hvsim/vendor-intel`). */
  readonly extension: VirtualizationExtension;
  /** Physical CPUs (default 1). */
  readonly cpus?: number;
  /** MAXPHYADDR of the host (default 48). */
  readonly maxPhysicalAddressBits?: number;
  /** The translation structures of each CPU. */
  readonly caches?: CpuCacheConfig;
  /** Ids a CPU hands out before it rolls over (default: all the extension offers). Small pools study id pressure. */
  readonly idPoolSize?: number;
  /** Use ASID/VPID tags (default: whether the extension has them). Without, every world switch flushes. */
  readonly tagging?: boolean;
  /** Cycle costs (default `defaultCosts`). */
  readonly costs?: Partial<CostModel>;
  /** Host-physical region the hypervisor allocates from (default 4 GiB to 1 TiB). */
  readonly frames?: { readonly start: number; readonly end: number };
}

/**
 * The host: host-physical memory, physical CPUs with their own translation caches, and the VMs.
 * The hypervisor's policy (ids, fills, invalidations, shootdowns) lives here, in the VM and vCPU
 * classes and in the VM's paging backend; what a world switch or an invalidation does to the TLBs comes from the extension.
 */
export class HostMachine implements Host {
  readonly memory: PhysicalMemory;
  readonly extension: VirtualizationExtension;
  readonly cpus: readonly PhysicalCpu<VirtualCpu>[];
  readonly vms: VirtualMachine[] = [];
  /** The counters, charging by `costs`. */
  readonly stats: MachineStats;
  readonly costs: CostModel;
  /** Whether translations are tagged by ASID/VPID (else every world switch flushes). */
  readonly tagging: boolean;
  /** The owner of each allocated host frame (4 KiB frame number to VM id; -1 for hypervisor tables). */
  readonly frameOwner = new Map<number, number>();
  /** Exit handlers of every VM (after each VM's own), in registration order. */
  readonly exitHandlers: ExitHandler[] = [];
  private readonly free = new Map<number, number[]>();
  private nextFrame: number;
  private readonly framesStart: number;
  private readonly framesStartFrame: number;
  private readonly framesEnd: number;
  // Guest-physical frame + 1 (0: none) by host frame index from framesStart: a typed array, so the
  // reverse lookup of every guest access's address is an index, not a Map lookup.
  private guestFrames = new Float64Array(1024);

  constructor(options: HostMachineOptions) {
    const ext = options.extension;
    this.extension = ext;
    this.memory = new PhysicalMemory({ maxPhysicalAddressBits: options.maxPhysicalAddressBits ?? 48 });
    this.costs = checkCosts({ ...defaultCosts, ...options.costs });
    this.stats = new MachineStats(this.costs);
    this.tagging = (options.tagging ?? ext.tagged) && ext.tagged;
    const poolSize = options.idPoolSize ?? ext.idsPerCpu;
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > ext.idsPerCpu) {
      throw new RangeError(
        `idPoolSize must be an integer from 1 to ${ext.idsPerCpu} (${ext.vendor}), got ${poolSize}`,
      );
    }
    const count = options.cpus ?? 1;
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError(`cpus must be a positive integer, got ${count}`);
    const start = options.frames?.start ?? 2 ** 32;
    const end = options.frames?.end ?? 2 ** 40;
    if (start % 0x4000_0000 !== 0 || end <= start || end > this.memory.size) {
      throw new RangeError('frames must be a 1 GiB-aligned region inside the host physical address space');
    }
    this.nextFrame = start;
    this.framesStart = start;
    this.framesStartFrame = start / 0x1000;
    this.framesEnd = end;
    const cpus: PhysicalCpu<VirtualCpu>[] = [];
    for (let i = 0; i < count; i++)
      cpus.push(new PhysicalCpu(i, buildCaches(options.caches), new IdAllocator(poolSize)));
    this.cpus = cpus;
  }

  /** Creates a VM. */
  createVm(options: VirtualMachineOptions): VirtualMachine {
    const vm = new VirtualMachine(this, this.vms.length + 1, options, this.exitHandlers);
    this.vms.push(vm);
    return vm;
  }

  /** Registers a handler for every exit of every VM (see `ExitHandler`); returns a function that removes it. */
  onExit(handler: ExitHandler): () => void {
    this.exitHandlers.push(handler);
    return () => {
      const i = this.exitHandlers.indexOf(handler);
      if (i >= 0) this.exitHandlers.splice(i, 1);
    };
  }

  /** Allocates a host-physical block of `size` bytes aligned to its size, owned by `owner` (a VM id, or -1). */
  allocate(size: BackingPageSize | 0x1000, owner: number): number {
    const reuse = this.free.get(size);
    let address = reuse !== undefined && reuse.length > 0 ? (reuse.pop() as number) : -1;
    if (address < 0) {
      const aligned = Math.ceil(this.nextFrame / size) * size;
      // Keep the bump pointer's gap usable for 4 KiB frames.
      for (let a = this.nextFrame; a < aligned; a += 0x1000) this.pushFree(0x1000, a);
      if (aligned + size > this.framesEnd) throw new RangeError('host memory exhausted');
      address = aligned;
      this.nextFrame = aligned + size;
    }
    for (let a = address; a < address + size; a += 0x1000) this.frameOwner.set(a / 0x1000, owner);
    // Backing pages are handed out zeroed, as a hypervisor clears them before mapping.
    for (let a = address; a < address + size; a += 0x1000) this.zero(a);
    return address;
  }

  /** Records that host frame `hpa` (4 KiB aligned) backs guest-physical frame `gpa`, or nothing (`gpa` -1). */
  setGuestFrame(hpa: number, gpa: number): void {
    const index = (hpa - this.framesStart) / 0x1000;
    this.guestFrames = grownToHold(this.guestFrames, index);
    this.guestFrames[index] = gpa + 1;
  }

  /** The guest-physical address host-physical `hpa` backs (in whichever VM owns it), or NaN. */
  guestPhysicalOf(hpa: number): number {
    // Division by 4096 is exact in binary floating point; `%` on a double above 2^31 is a slow fmod.
    const frame = Math.floor(hpa / 0x1000);
    const index = frame - this.framesStartFrame;
    const gpa = index >= 0 && index < this.guestFrames.length ? this.guestFrames[index] : 0;
    return gpa === 0 ? Number.NaN : gpa - 1 + (hpa - frame * 0x1000);
  }

  /** Returns a block to the allocator. */
  release(address: number, size: BackingPageSize | 0x1000): void {
    for (let a = address; a < address + size; a += 0x1000) this.frameOwner.delete(a / 0x1000);
    this.pushFree(size, address);
  }

  private pushFree(size: number, address: number): void {
    let list = this.free.get(size);
    if (list === undefined) {
      list = [];
      this.free.set(size, list);
    }
    list.push(address);
  }

  private zero(frame: number): void {
    this.memory.zeroFrame(frame);
  }
}
