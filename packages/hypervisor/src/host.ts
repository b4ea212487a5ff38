import type { PhysicalMemory } from '@hvsim/cpu-core';
import type { CostModel, MachineStats } from '@hvsim/platform';
import type { BackingPageSize, VirtualizationExtension } from './extension.js';
import type { PhysicalCpu } from './physical-cpu.js';

/**
 * What a VM, its vCPUs and its paging backend need of the host machine (`HostMachine` implements
 * it): host memory and its allocator, the CPUs, the vendor extension, the counters and the costs.
 */
export interface Host {
  readonly memory: PhysicalMemory;
  readonly extension: VirtualizationExtension;
  readonly cpus: readonly PhysicalCpu[];
  /** The counters; they charge by their own cost model (`MachineStats.costs`), which is `costs`. */
  readonly stats: MachineStats;
  readonly costs: CostModel;
  /** Whether translations are tagged by ASID/VPID (else every world switch flushes). */
  readonly tagging: boolean;
  /** The owner of each allocated host frame (4 KiB frame number to VM id; -1 for hypervisor tables). */
  readonly frameOwner: ReadonlyMap<number, number>;
  /** Allocates a zeroed host-physical block of `size` bytes aligned to its size, owned by `owner` (a VM id, or -1). */
  allocate(size: BackingPageSize | 0x1000, owner: number): number;
  /** Returns a block to the allocator. */
  release(address: number, size: BackingPageSize | 0x1000): void;
  /** Records that host frame `hpa` (4 KiB aligned) backs guest-physical frame `gpa`, or nothing (`gpa` -1). */
  setGuestFrame(hpa: number, gpa: number): void;
  /** The guest-physical address host-physical `hpa` backs (in whichever VM owns it), or NaN. */
  guestPhysicalOf(hpa: number): number;
}
