/**
 * The MMU contract: what every MMU strategy must do for the guest that runs on it, whatever it does
 * underneath (a one-stage walk, a two-dimensional walk over AMD NPT or Intel EPT, shadow tables the
 * hypervisor fills on hidden page faults, a design of your own). The suite drives a CPU as a guest
 * kernel does (`GuestCpu` of @hvsim/platform, structurally): it builds 4-level tables in
 * guest-physical memory through `writePhysical`, loads the control registers, and checks what the
 * guest sees: the guest-physical address of each access, its accessed and dirty bits, the #PF error
 * code and faulting address, #GP for a non-canonical address, and that INVLPG and MOV to CR3 make a
 * changed mapping visible.
 *
 * Expected values come from Intel SDM vol. 3A chapter 4, worked out by hand in the comments (the AMD
 * APM vol. 2 chapter 5 rules are the same for these cases), never from running the code.
 */
import {
  AccessKind,
  type ControlRegisters,
  type CpuState,
  FrameAllocator,
  PageSize,
  PageTableBuilder,
  PagingMode,
  PfError,
  Privilege,
  PteFlag,
} from '@hvsim/cpu-core';
import { TranslateStatus, type Translation } from '@hvsim/mmu-nested';
import { beforeEach, describe, expect, it } from 'vitest';

/** What the suite needs of an access's outcome (`GuestAccess` of @hvsim/platform has it). */
export interface ContractAccess {
  status: TranslateStatus;
  readonly translation: Translation;
}

/** What the suite needs of a CPU (`GuestCpu` of @hvsim/platform has it). */
export interface ContractCpu {
  readonly state: CpuState;
  access(
    linear: number,
    access: AccessKind,
    out: ContractAccess,
    privilege?: Privilege,
    linearHi?: number,
  ): TranslateStatus;
  readPhysical(gpa: number): number;
  writePhysical(gpa: number, value: number): void;
  writeCr3(value: number, noFlush?: boolean): TranslateStatus;
  setControlRegisters(regs: ControlRegisters): TranslateStatus;
  invlpg(linear: number, linearHi?: number): void;
}

/** A strategy the contract runs against. */
export interface MmuUnderTest {
  readonly name: string;
  /**
   * A fresh CPU, paging off, whose guest has at least 16 MiB of guest-physical memory from 0, and a
   * fresh outcome object for its accesses.
   */
  readonly make: () => { readonly cpu: ContractCpu; readonly out: ContractAccess };
}

/** Guest-physical frames the suite's tables come from, and the pages it maps. */
const TABLES = 0x10_0000;
const TABLES_END = 0x20_0000;
const USER_RW = 0x40_0000; // linear 0x40_0000 -> guest-physical 0x80_0000
const USER_RO = 0x40_1000; // -> 0x80_1000, read-only
const SUPERVISOR = 0x40_2000; // -> 0x80_2000, supervisor only
const NO_EXEC = 0x40_3000; // -> 0x80_3000, XD=1
const ABSENT = 0x40_4000; // not mapped
const LARGE = 0x60_0000; // a 2 MiB page -> guest-physical 0xa0_0000
// The first page of the upper canonical half, 0xffff_8000_0000_0000 (halves lo 0, hi 0xffff_8000)
// -> guest-physical 0x80_6000, supervisor.
const HIGH_HI = 0xffff_8000;
const FRAME = 0x80_0000;

// CR0.PE | CR0.WP | CR0.PG, CR4.PAE, EFER.LME | EFER.LMA | EFER.NXE: 4-level paging with
// write protection for supervisor writes and execute-disable (SDM vol. 3A §4.1, §4.6).
const CR0 = 0x8001_0001;
const CR4 = 0x20;
const EFER = 0xd00;

const P = PfError.P;
const W = PfError.W;
const U = PfError.U;
const ID = PfError.ID;

/**
 * Runs the MMU contract against `under`. Each case starts from a fresh CPU with the suite's tables
 * built and 4-level paging on.
 */
export function describeMmuContract(under: MmuUnderTest): void {
  describe(`MMU contract: ${under.name}`, () => {
    let cpu: ContractCpu;
    let out: ContractAccess;
    let tables: PageTableBuilder;
    let frames: FrameAllocator;

    const access = (linear: number, kind: AccessKind, privilege: Privilege, linearHi?: number) =>
      cpu.access(linear, kind, out, privilege, linearHi);

    beforeEach(() => {
      ({ cpu, out } = under.make());
      const memory = {
        readWord: (address: number) => cpu.readPhysical(address),
        writeWord: (address: number, value: number) => cpu.writePhysical(address, value),
      };
      frames = new FrameAllocator(TABLES, TABLES_END);
      tables = new PageTableBuilder(memory, PagingMode.Level4, () => frames.allocate());
      const { P: present, RW, US } = PteFlag;
      tables.map(USER_RW, FRAME, { flags: present | RW | US });
      tables.map(USER_RO, FRAME + 0x1000, { flags: present | US });
      tables.map(SUPERVISOR, FRAME + 0x2000, { flags: present | RW });
      tables.map(NO_EXEC, FRAME + 0x3000, { flags: present | RW | US, noExecute: true });
      tables.map(LARGE, 0xa0_0000, { size: PageSize.Size2M });
      tables.map(0xffff_8000_0000_0000n, FRAME + 0x6000, { flags: present | RW });
      expect(cpu.setControlRegisters({ cr0: CR0, cr3: tables.root, cr4: CR4, efer: EFER })).toBe(
        TranslateStatus.Ok,
      );
    });

    it('translates a mapped page to its guest-physical address, a TLB hit the second time too', () => {
      for (let i = 0; i < 2; i++) {
        expect(access(USER_RW + 0x123, AccessKind.Read, Privilege.User)).toBe(TranslateStatus.Ok);
        expect(out.translation.guestPhysical).toBe(FRAME + 0x123);
      }
      // A 2 MiB page: the low 21 bits of the address are the offset (SDM vol. 3A §4.5.4, Figure 4-9).
      expect(access(LARGE + 0x1_2345, AccessKind.Write, Privilege.Supervisor)).toBe(TranslateStatus.Ok);
      expect(out.translation.guestPhysical).toBe(0xa0_0000 + 0x1_2345);
    });

    it("sets the guest's accessed bits on a walk and the dirty bit on a write (SDM vol. 3A §4.8)", () => {
      const pte = tables.entryAddress(USER_RW, 1)!;
      expect(cpu.readPhysical(pte) & (PteFlag.A | PteFlag.D)).toBe(0);
      access(USER_RW, AccessKind.Read, Privilege.User);
      expect(cpu.readPhysical(pte) & (PteFlag.A | PteFlag.D)).toBe(PteFlag.A);
      for (let level = 2; level <= 4; level++) {
        expect(cpu.readPhysical(tables.entryAddress(USER_RW, level)!) & PteFlag.A).toBe(PteFlag.A);
      }
      // A write to a page cached clean goes back to the walk, which sets D (§4.8).
      access(USER_RW + 8, AccessKind.Write, Privilege.User);
      expect(cpu.readPhysical(pte) & (PteFlag.A | PteFlag.D)).toBe(PteFlag.A | PteFlag.D);
    });

    it('gives #PF with the error code of SDM vol. 3A §4.7 and the faulting address in CR2', () => {
      const cases: [string, number, AccessKind, Privilege, number][] = [
        // Not present: P=0; W for a write; U for a user-mode access.
        ['user read of an absent page', ABSENT + 0x10, AccessKind.Read, Privilege.User, U],
        ['supervisor write of an absent page', ABSENT, AccessKind.Write, Privilege.Supervisor, W],
        // Present but forbidden: P=1.
        ['user write of a read-only page', USER_RO + 4, AccessKind.Write, Privilege.User, P | W | U],
        [
          'supervisor write of a read-only page with CR0.WP=1',
          USER_RO,
          AccessKind.Write,
          Privilege.Supervisor,
          P | W,
        ],
        ['user read of a supervisor page', SUPERVISOR, AccessKind.Read, Privilege.User, P | U],
        // A fetch reports I/D when NXE=1 (§4.7); XD=1 forbids it at any CPL (§4.6).
        ['user fetch from an XD page', NO_EXEC, AccessKind.Execute, Privilege.User, P | U | ID],
        ['supervisor fetch of an absent page', ABSENT, AccessKind.Execute, Privilege.Supervisor, ID],
      ];
      for (const [what, linear, kind, privilege, errorCode] of cases) {
        expect(access(linear, kind, privilege), what).toBe(TranslateStatus.PageFault);
        expect(out.translation.errorCode, what).toBe(errorCode);
        expect([out.translation.faultLo, out.translation.faultHi], what).toEqual([linear, 0]);
      }
      // A supervisor write to a read-only page succeeds with CR0.WP=0 (§4.6.1).
      expect(cpu.setControlRegisters({ cr0: CR0 & ~0x1_0000, cr3: tables.root, cr4: CR4, efer: EFER })).toBe(
        TranslateStatus.Ok,
      );
      expect(access(USER_RO, AccessKind.Write, Privilege.Supervisor)).toBe(TranslateStatus.Ok);
      expect(out.translation.guestPhysical).toBe(FRAME + 0x1000);
    });

    it('gives #GP(0) for a non-canonical address, before any table is read (SDM vol. 3A §3.3.7.1)', () => {
      // 0x0000_8000_0000_0000: bits 63:47 not all equal.
      expect(access(0, AccessKind.Read, Privilege.Supervisor, 0x8000)).toBe(
        TranslateStatus.GeneralProtection,
      );
      expect(out.translation.errorCode).toBe(0);
    });

    it('never serves a non-canonical address from a TLB entry of the canonical one (SDM vol. 1 §3.3.7.1)', () => {
      // 0xffff_8000_0000_0000 is canonical and mapped; 0x01ff_8000_0000_0000 has the same bits 56:12
      // (what a TLB keys by) but bits 63:47 differ: #GP(0) whatever the TLB holds.
      expect(access(0, AccessKind.Read, Privilege.Supervisor, HIGH_HI)).toBe(TranslateStatus.Ok);
      expect(out.translation.guestPhysical).toBe(FRAME + 0x6000);
      expect(access(0, AccessKind.Read, Privilege.Supervisor, 0x01ff_8000)).toBe(
        TranslateStatus.GeneralProtection,
      );
      expect(out.translation.errorCode).toBe(0);
      // The canonical address still translates.
      expect(access(0x10, AccessKind.Read, Privilege.Supervisor, HIGH_HI)).toBe(TranslateStatus.Ok);
      expect(out.translation.guestPhysical).toBe(FRAME + 0x6010);
    });

    it('does not repeat a #PF the tables in memory no longer cause: the fault invalidated the caches (SDM vol. 3A §4.10.4.1)', () => {
      // 0x80_0000's PDE points to a table whose PTE 1 maps a page and PTE 0 is not present.
      tables.map(0x80_1000, FRAME + 0x7000);
      expect(access(0x80_1000, AccessKind.Read, Privilege.User)).toBe(TranslateStatus.Ok);
      expect(access(0x80_0000, AccessKind.Read, Privilege.User)).toBe(TranslateStatus.PageFault);
      expect(out.translation.errorCode).toBe(U);
      // The kernel repairs the PDE, without INVLPG: it now points to a new table whose PTE 0 maps a page.
      const table = frames.allocate();
      cpu.writePhysical(table, (FRAME + 0x8000) | PteFlag.P | PteFlag.RW | PteFlag.US);
      const pde = tables.entryAddress(0x80_0000, 2)!;
      cpu.writePhysical(pde, table | PteFlag.P | PteFlag.RW | PteFlag.US);
      // Cached or not, the access reads the repaired tables.
      expect(access(0x80_0000, AccessKind.Read, Privilege.User)).toBe(TranslateStatus.Ok);
      expect(out.translation.guestPhysical).toBe(FRAME + 0x8000);
    });

    it('sees a changed mapping after INVLPG and after MOV to CR3 (SDM vol. 3A §4.10.4.1)', () => {
      const pte = tables.entryAddress(USER_RW, 1)!;
      expect(access(USER_RW, AccessKind.Read, Privilege.User)).toBe(TranslateStatus.Ok);
      // The kernel points the page at another frame, then invalidates it.
      cpu.writePhysical(pte, (FRAME + 0x5000) | PteFlag.P | PteFlag.RW | PteFlag.US);
      cpu.invlpg(USER_RW);
      expect(access(USER_RW + 0x40, AccessKind.Read, Privilege.User)).toBe(TranslateStatus.Ok);
      expect(out.translation.guestPhysical).toBe(FRAME + 0x5040);
      // Unmapped, then CR3 reloaded (CR4.PCIDE=0: every non-global translation goes).
      cpu.writePhysical(pte, 0);
      expect(cpu.writeCr3(tables.root)).toBe(TranslateStatus.Ok);
      expect(access(USER_RW, AccessKind.Read, Privilege.User)).toBe(TranslateStatus.PageFault);
      expect(out.translation.errorCode).toBe(U);
    });
  });
}
