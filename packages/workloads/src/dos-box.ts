import type { AccessKind, Segment } from '@hvsim/cpu-core';
import type { TranslateStatus } from '@hvsim/mmu-nested';
import type { GuestCpu } from '@hvsim/platform';
import { type GuestOs, type Process, Prot } from './guest-os.js';

/** The segment of the EMS page frame: 64 KiB at E000:0000 in upper memory, where EMM386 usually puts it. */
export const EMS_FRAME_SEGMENT = 0xe000;
/** LIM EMS pages are 16 KiB: four 4 KiB pages each. */
export const EMS_PAGE_BYTES = 0x4000;
/** Physical pages in the page frame (LIM EMS 3.2: four, at frame + 0, 16, 32 and 48 KiB). */
export const EMS_PHYSICAL_PAGES = 4;

const FRAME_LINEAR = EMS_FRAME_SEGMENT * 16;

/** Options of a DOS box. */
export interface DosBoxOptions {
  /** Logical 16 KiB EMS pages of expanded memory (default 32: 512 KiB). */
  readonly emsPages?: number;
}

/**
 * A DOS box: a virtual-8086 task of a 32-bit guest kernel (RFLAGS.VM=1, CPL 3), with its own page
 * tables as DESQview and Windows 386 enhanced mode gave each DOS program. Its first megabyte and the
 * HMA are mapped (conventional memory populated up front; upper memory and the HMA on first touch),
 * and an EMS page frame at E000:0000 is banked the way EMM386 does it: mapping a logical page into a
 * physical page of the frame rewrites the four page-table entries of that 16 KiB and INVLPGs each.
 * Addresses are segment:offset, linear = segment × 16 + offset (SDM vol. 3A §20.1.1), then paged.
 */
export class DosBox {
  readonly os: GuestOs;
  readonly process: Process;
  readonly emsPages: number;
  /** The logical page mapped in each physical page of the frame. */
  readonly mapping = new Int32Array(EMS_PHYSICAL_PAGES);
  /** The EMS pool: guest frames, four per logical page, held by the box. */
  readonly #pool: number[] = [];

  constructor(os: GuestOs, options: DosBoxOptions = {}) {
    if (os.format.long) {
      throw new RangeError(
        'a DOS box needs a 32-bit guest kernel (32-bit or PAE paging): virtual-8086 mode does not exist in long mode',
      );
    }
    const emsPages = options.emsPages ?? 32;
    if (!Number.isInteger(emsPages) || emsPages < EMS_PHYSICAL_PAGES || emsPages > 2048) {
      throw new RangeError(`emsPages must be an integer from 4 to 2048, got ${emsPages}`);
    }
    this.os = os;
    this.emsPages = emsPages;
    const p = os.createProcess({ v86: true });
    this.process = p;
    const rw = Prot.Read | Prot.Write | Prot.Exec;
    // Conventional memory (640 KiB), then upper memory up to the frame, the frame, the BIOS area
    // and the HMA (FFFF:0010-FFFF:FFFF is linear 0x100000-0x10FFEF).
    os.mmap(p, 0xa_0000, rw, { address: 0, populate: true, huge: false });
    os.mmap(p, FRAME_LINEAR - 0xa_0000, rw, { address: 0xa_0000, huge: false });
    os.mmap(p, EMS_PHYSICAL_PAGES * EMS_PAGE_BYTES, rw, { address: FRAME_LINEAR, huge: false });
    os.mmap(p, 0x11_0000 - 0xf_0000, rw, { address: 0xf_0000, huge: false });
    for (let i = 0; i < emsPages * 4; i++) this.#pool.push(os.frames.allocate());
    for (let physical = 0; physical < EMS_PHYSICAL_PAGES; physical++) this.mapPage(physical, physical);
  }

  /** Runs the box on CPU `cpu` (a MOV CR3 to its tables, and VM=1). */
  enter(cpu = 0): void {
    this.os.switchTo(this.process, cpu);
  }

  /**
   * LIM EMS function 44h (map handle page): logical page `logical` appears at physical page
   * `physical` of the frame. Four PTE rewrites, each followed by its INVLPG (a shootdown if the box
   * ran on several CPUs).
   */
  mapPage(physical: number, logical: number): void {
    if (!Number.isInteger(physical) || physical < 0 || physical >= EMS_PHYSICAL_PAGES) {
      throw new RangeError(`EMS physical page ${physical} is not 0 to ${EMS_PHYSICAL_PAGES - 1}`);
    }
    if (!Number.isInteger(logical) || logical < 0 || logical >= this.emsPages) {
      throw new RangeError(`EMS logical page ${logical} is not 0 to ${this.emsPages - 1}`);
    }
    for (let i = 0; i < 4; i++) {
      this.os.mapFrame(
        this.process,
        FRAME_LINEAR + physical * EMS_PAGE_BYTES + i * 4096,
        this.emsFrame(logical, i),
      );
    }
    this.mapping[physical] = logical;
  }

  /** The guest frame backing 4 KiB page `page` (0-3) of logical EMS page `logical`. */
  emsFrame(logical: number, page: number): number {
    return this.#pool[logical * 4 + page] as number;
  }

  /**
   * A virtual-8086 access at `selector`:`offset` through segment register `segment` on CPU `cpu`
   * (where the box runs): the segment is loaded the real-mode way and the linear address is
   * selector × 16 + offset; with the A20 gate off the physical address the task's tables give has bit
   * 20 cleared (SDM vol. 3A §20.1.1).
   */
  access(cpu: number, segment: Segment, selector: number, offset: number, kind: AccessKind): TranslateStatus {
    const state = (this.os.cpus[cpu] as GuestCpu).state;
    state.loadSegmentReal(segment, selector);
    return this.os.access(cpu, state.linearAddress(segment, offset & 0xffff), 0, kind);
  }

  /** Ends the box: its process exits and the EMS pool's frames are freed. */
  close(): void {
    this.os.exit(this.process);
    for (const frame of this.#pool) this.os.frames.release(frame);
    this.#pool.length = 0;
  }
}
