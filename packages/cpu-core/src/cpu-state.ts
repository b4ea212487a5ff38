import { explicitPrivilegeOf, type Privilege } from './access.js';
import { TWO_32 } from './linear-address.js';
import { isPagedRealMode, PagingMode, pagingModeOf } from './paging-mode.js';
import { Cr0, Cr4, Efer, Rflags } from './registers.js';

/** The six segment registers that real mode and virtual-8086 mode address through. */
export const Segment = { ES: 0, CS: 1, SS: 2, DS: 3, FS: 4, GS: 5 } as const;
export type Segment = (typeof Segment)[keyof typeof Segment];

/** The registers a CPU state is built from; each 64-bit register is a number (at most 52 significant bits) or a BigInt. */
export interface ControlRegisters {
  readonly cr0: number | bigint;
  readonly cr3: number | bigint;
  readonly cr4: number | bigint;
  readonly efer: number | bigint;
  readonly rflags?: number | bigint;
}

function toNumber(name: string, value: number | bigint, maxBits: number): number {
  // A 32-bit register may arrive as the signed result of a bitwise OR (Cr0.PE | Cr0.PG < 0).
  const n =
    typeof value === 'number' && maxBits === 32 && value < 0 && value >= -0x8000_0000 ? value >>> 0 : value;
  if (typeof n === 'number' && !Number.isInteger(n)) throw new RangeError(`${name} = ${n} is not an integer`);
  const v = typeof n === 'bigint' ? n : BigInt(n);
  if (v < 0n || v >= 1n << BigInt(maxBits)) {
    throw new RangeError(`${name} = 0x${v.toString(16)} does not fit in ${maxBits} bits`);
  }
  return Number(v);
}

/**
 * The architectural state that address translation depends on: CR0, CR2, CR3, CR4, EFER, RFLAGS,
 * the CPL, PKRU, the PAE PDPTE registers, and the segment bases of real and virtual-8086 mode with
 * the A20 gate. Derived flags (the paging mode and the bits the walker tests) are recomputed whenever
 * a register is set through `setControlRegisters`, so the walker reads plain fields.
 */
export class CpuState {
  cr0 = Cr0.PE;
  cr3 = 0;
  cr4 = 0;
  /** EFER as loaded; LMA is derived (LME && PG). */
  efer = 0;
  rflags: number = Rflags.FIXED;
  /** Current privilege level of explicit accesses (3 in virtual-8086 mode: `effectiveCpl`). */
  cpl = 0;
  /** The protection-key rights register (AD = bit 2k, WD = bit 2k+1 for key k; SDM vol. 3A §4.6.2). */
  pkru = 0;
  /** Low and high halves of CR2 (the last page-fault linear address). */
  cr2Lo = 0;
  cr2Hi = 0;
  /** The four PDPTE registers of PAE paging (SDM vol. 3A §4.4.1), loaded by `loadPdptes`. */
  readonly pdpteLo = new Uint32Array(4);
  readonly pdpteHi = new Uint32Array(4);
  /** Selector and base of each segment register (real and virtual-8086 mode: base = selector × 16). */
  readonly selector = new Uint16Array(6);
  readonly segmentBase = new Float64Array(6);
  /**
   * The A20 gate: when false, physical address bit 20 of every memory access is forced to 0 after
   * translation (`a20Masked`; the 8086 wrap-around). The linear address is not changed: with paging
   * (virtual-8086 mode under EMM386) the page tables decide where linear 0x100000 goes.
   */
  a20Enabled = true;

  // Derived, for the walker's hot path.
  mode: PagingMode = PagingMode.None;
  wp = false;
  pse = false;
  pge = false;
  smep = false;
  smap = false;
  pke = false;
  nxe = false;
  lma = false;
  pcide = false;

  /** Sets CR0, CR3, CR4, EFER (and RFLAGS) together and recomputes the derived state. */
  setControlRegisters(regs: ControlRegisters): void {
    this.cr0 = toNumber('cr0', regs.cr0, 32);
    this.cr3 = toNumber('cr3', regs.cr3, 52);
    this.cr4 = toNumber('cr4', regs.cr4, 32);
    this.efer = toNumber('efer', regs.efer, 32);
    if (regs.rflags !== undefined) this.rflags = toNumber('rflags', regs.rflags, 32);
    this.refresh();
  }

  /** Recomputes the derived flags after fields were assigned directly. */
  refresh(): void {
    this.cr0 >>>= 0;
    this.cr4 >>>= 0;
    this.rflags >>>= 0;
    const { cr0, cr4, efer } = this;
    this.mode = pagingModeOf(cr0, cr4, efer);
    this.lma = this.mode === PagingMode.Level4 || this.mode === PagingMode.Level5;
    this.efer = (this.lma ? efer | Efer.LMA : efer & ~Efer.LMA) >>> 0;
    this.wp = (cr0 & Cr0.WP) !== 0;
    this.pse = (cr4 & Cr4.PSE) !== 0;
    this.pge = (cr4 & Cr4.PGE) !== 0;
    this.smep = (cr4 & Cr4.SMEP) !== 0;
    this.smap = (cr4 & Cr4.SMAP) !== 0;
    // Protection keys apply only to 4- and 5-level paging (SDM vol. 3A §4.6.2).
    this.pke = (cr4 & Cr4.PKE) !== 0 && this.lma;
    // EFER.NXE matters only for PAE and long paging; 32-bit entries have no XD bit (SDM §4.3, §4.6).
    this.nxe = (efer & Efer.NXE) !== 0;
    this.pcide = (cr4 & Cr4.PCIDE) !== 0 && this.lma;
  }

  /** True when the CPU is in AMD's paged real mode (CR0.PE=0, PG=1; APM vol. 2 §15.19). */
  get pagedRealMode(): boolean {
    return isPagedRealMode(this.cr0);
  }

  /** True in virtual-8086 mode (RFLAGS.VM=1 in protected mode). */
  get virtual8086(): boolean {
    return (this.cr0 & Cr0.PE) !== 0 && (this.rflags & Rflags.VM) !== 0;
  }

  /** True in real mode (CR0.PE=0), paged or not. */
  get realMode(): boolean {
    return (this.cr0 & Cr0.PE) === 0;
  }

  /** RFLAGS.AC. */
  get alignmentCheck(): boolean {
    return (this.rflags & Rflags.AC) !== 0;
  }

  /**
   * The privilege level explicit accesses are made at: 3 in virtual-8086 mode (SDM vol. 3A §20.2),
   * 0 in real mode (paged or not), else `cpl`.
   */
  get effectiveCpl(): number {
    if (this.realMode) return 0;
    if (this.virtual8086) return 3;
    return this.cpl;
  }

  /** The privilege of an explicit access (`explicitPrivilegeOf`). */
  get explicitPrivilege(): Privilege {
    return explicitPrivilegeOf(this);
  }

  /** The PCID of the current address space (CR3 bits 11:0 when CR4.PCIDE=1, else 0; SDM §4.10.1). */
  get pcid(): number {
    return this.pcide ? this.cr3 % 4096 : 0;
  }

  /** Loads a segment register the real-mode and virtual-8086 way: base = selector × 16 (SDM vol. 3A §20.1.1). */
  loadSegmentReal(segment: Segment, selector: number): void {
    if (!Number.isInteger(selector) || selector < 0 || selector > 0xffff) {
      throw new RangeError(`segment selector ${selector} is not a 16-bit value`);
    }
    this.selector[segment] = selector;
    this.segmentBase[segment] = selector * 16;
  }

  /**
   * The linear address of `offset` in `segment`: base + offset, truncated to 32 bits outside long
   * mode. Real-mode FFFF:0010 is linear 0x100000 whatever the A20 gate: the gate masks the physical
   * address (`a20Enabled`), so with paging off it reaches 0 with A20 off.
   */
  linearAddress(segment: Segment, offset: number): number {
    const linear = this.segmentBase[segment] + offset;
    return this.lma ? linear : linear % TWO_32;
  }
}
