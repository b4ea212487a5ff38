/**
 * The seam between a page walker and the memory its tables live in. The walker asks the port where
 * a paging-structure entry is before it reads it, and again before it writes accessed or dirty bits
 * into it. A one-stage MMU uses the identity; a nested MMU translates each guest-physical entry
 * address through the second stage (AMD APM vol. 2 §15.25.5, Intel SDM vol. 3C §29.3.2), recording
 * its own references and faults, without the walker knowing.
 */
export interface TablePort {
  /**
   * The host-physical address of the entry at `address` (the walker's physical space) that the
   * walker is about to read at `level`, or -1 if the access faults; the port keeps the fault.
   */
  locate(address: number, level: number): number;
  /**
   * Called after `locate` of the same entry and before the walker writes it to set accessed or
   * dirty bits: the host-physical address to write, or -1 if the write faults.
   */
  locateForUpdate(address: number, level: number): number;
}

/** The identity port: table entries are read where they are (no second stage). */
export const identityPort: TablePort = {
  locate: (address) => address,
  locateForUpdate: (address) => address,
};

/**
 * Physical address `address` as the bus sees it with the A20 gate off: bit 20 forced to 0. The A20M#
 * signal masks physical address bit 20 of every memory access, page-table reads included, after
 * translation (the 8086's 1 MiB wrap; SDM vol. 3A §20.1.1, the 486's A20M# "masks physical address
 * bit 20 before performing a lookup to the internal cache or driving a memory transaction").
 */
export function a20Masked(address: number): number {
  return Math.floor(address / 0x20_0000) * 0x20_0000 + (address % 0x10_0000);
}

/** The port of a CPU that reads its tables in physical memory with the A20 gate off: each entry where `a20Masked` puts it. */
export const a20Port: TablePort = {
  locate: (address) => a20Masked(address),
  locateForUpdate: (address) => a20Masked(address),
};
