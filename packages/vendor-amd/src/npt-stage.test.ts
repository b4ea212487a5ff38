import {
  AccessKind,
  CpuState,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  PageTableBuilder,
  PagingMode,
  PhysicalMemory,
  Privilege,
  PteFlag,
  WalkTrace,
} from '@hvsim/cpu-core';
import { NestedFaultKind, NestedMmu, TranslateStatus, Translation } from '@hvsim/mmu-nested';
import { describe, expect, it } from 'vitest';
import { NptStage } from './npt-stage.js';

/*
 * Golden values: the EXITINFO1/EXITINFO2 that kvm-unit-tests x86/svm_npt.c expects of real hardware
 * (../shared/reference §1.4), and the rules of AMD APM vol. 2 §15.25.5-15.25.6.
 */

const USER_RW = PteFlag.P | PteFlag.RW | PteFlag.US;
const GUEST_TABLES = 0x10_0000; // guest-physical region for guest page tables
const DATA = 0x40_0000; // guest-physical data page
const CODE = 0x50_0000; // guest-physical code page
const LINEAR_DATA = 0x7000_0000;
const LINEAR_CODE = 0x7000_1000;

interface Setup {
  memory: PhysicalMemory;
  guest: CpuState;
  npt: PageTableBuilder;
  gpt: PageTableBuilder;
  stage: NptStage;
  mmu: NestedMmu;
  out: Translation;
}

/**
 * A 4-level guest over 4-level NPT, as kvm-unit-tests builds it: the nested tables map guest-physical
 * memory 1:1 with user, writable pages, so guest tables sit at host-physical = guest-physical.
 */
function setUp(
  options: { hostEfer?: number; hostCr4?: number; guestEfer?: number; guestCr4?: number } = {},
): Setup {
  const memory = new PhysicalMemory();
  const hostFrames = new FrameAllocator(0x1000_0000, 0x1100_0000);
  const npt = new PageTableBuilder(memory, PagingMode.Level4, () => hostFrames.allocate());
  const guestFrames = new FrameAllocator(GUEST_TABLES, GUEST_TABLES + 0x10_0000);
  const gpt = new PageTableBuilder(memory, PagingMode.Level4, () => guestFrames.allocate());
  gpt.map(LINEAR_DATA, DATA);
  gpt.map(LINEAR_CODE, CODE);
  for (let gpa = GUEST_TABLES; gpa < guestFrames.watermark; gpa += 0x1000)
    npt.map(gpa, gpa, { flags: USER_RW });
  npt.map(DATA, DATA, { flags: USER_RW });
  npt.map(CODE, CODE, { flags: USER_RW });
  const guest = new CpuState();
  guest.setControlRegisters({
    cr0: Cr0.PE | Cr0.PG | Cr0.WP,
    cr3: gpt.root,
    cr4: Cr4.PAE | (options.guestCr4 ?? 0),
    efer: Efer.LME | (options.guestEfer ?? Efer.NXE),
  });
  const stage = new NptStage(memory, {
    nestedCr3: npt.root,
    host: { cr0: 0x8000_0011, cr4: Cr4.PAE | (options.hostCr4 ?? 0), efer: options.hostEfer ?? 0xd00 },
  });
  const mmu = new NestedMmu(memory, guest, stage);
  return { memory, guest, npt, gpt, stage, mmu, out: new Translation() };
}

function exitInfo1(t: Translation): bigint {
  return (BigInt(t.nestedFault.infoHi) << 32n) | BigInt(t.nestedFault.infoLo);
}

function setNestedLeaf(s: Setup, gpa: number, lo: number, hi = 0): void {
  const address = s.npt.entryAddress(gpa, 1);
  if (address === null) throw new Error('no nested PTE');
  s.memory.writeEntry(address, lo, hi);
}

describe('#VMEXIT(NPF) golden values (kvm-unit-tests svm_npt)', () => {
  it('npt_np: a read of a page whose nested PTE is not present gives 0x1_0000_0004', () => {
    const s = setUp();
    setNestedLeaf(s, DATA, 0);
    expect(s.mmu.translate(LINEAR_DATA, 0, AccessKind.Read, Privilege.Supervisor, s.out)).toBe(
      TranslateStatus.NestedFault,
    );
    expect(s.out.nestedFault.kind).toBe(NestedFaultKind.NestedPageFault);
    expect(exitInfo1(s.out)).toBe(0x1_0000_0004n);
    expect(s.out.nestedFault.guestPhysical).toBe(DATA);
  });

  it('npt_nx: a fetch from a nested NX page with host EFER.NX=1 gives 0x1_0000_0015', () => {
    const s = setUp();
    setNestedLeaf(s, CODE, CODE | USER_RW, 0x8000_0000);
    s.mmu.translate(LINEAR_CODE, 0, AccessKind.Execute, Privilege.Supervisor, s.out);
    expect(exitInfo1(s.out)).toBe(0x1_0000_0015n);
    expect(s.out.nestedFault.guestPhysical).toBe(CODE);
  });

  it('npt_us: an access to a nested supervisor page gives 0x1_0000_0005', () => {
    const s = setUp();
    setNestedLeaf(s, DATA, DATA | PteFlag.P | PteFlag.RW);
    s.mmu.translate(LINEAR_DATA, 0, AccessKind.Read, Privilege.Supervisor, s.out);
    expect(exitInfo1(s.out)).toBe(0x1_0000_0005n);
  });

  it('npt_rw: a write to a nested read-only page gives 0x1_0000_0007', () => {
    const s = setUp();
    setNestedLeaf(s, DATA, DATA | PteFlag.P | PteFlag.US);
    s.mmu.translate(LINEAR_DATA, 0, AccessKind.Write, Privilege.Supervisor, s.out);
    expect(exitInfo1(s.out)).toBe(0x1_0000_0007n);
    // Reads of the same page are fine.
    expect(s.mmu.translate(LINEAR_DATA, 0, AccessKind.Read, Privilege.Supervisor, s.out)).toBe(
      TranslateStatus.Ok,
    );
  });

  it('npt_rw_pfwalk: a guest CR3 page read-only in the nested tables gives 0x2_0000_0007 for any access, EXITINFO2 = gCR3', () => {
    for (const access of [AccessKind.Read, AccessKind.Write, AccessKind.Execute]) {
      const s = setUp();
      setNestedLeaf(s, s.gpt.root, s.gpt.root | PteFlag.P | PteFlag.US);
      // LINEAR_DATA has PML4 index 0, so the faulting entry is at gCR3 itself.
      s.mmu.translate(LINEAR_DATA, 0, access, Privilege.Supervisor, s.out);
      expect(exitInfo1(s.out)).toBe(0x2_0000_0007n);
      expect(s.out.nestedFault.guestPhysical).toBe(s.gpt.root);
    }
  });

  it('a reserved bit in a nested PML4E faults first on a guest table walk: 0x2_0000_000F', () => {
    const s = setUp();
    const lo = s.memory.readWord(s.npt.root);
    s.memory.writeEntry(s.npt.root, lo, 0x0004_0000); // bit 50: reserved with MAXPHYADDR 48
    s.mmu.translate(LINEAR_DATA, 0, AccessKind.Read, Privilege.Supervisor, s.out);
    expect(exitInfo1(s.out)).toBe(0x2_0000_000fn);
    expect(s.out.nestedFault.guestPhysical).toBe(s.gpt.root);
  });

  it('a reserved bit in the nested PTE of the code page: 0x1_0000_000D, plus 0x10 iff host EFER.NX or CR4.SMEP', () => {
    for (const hostNx of [false, true]) {
      for (const hostSmep of [false, true]) {
        for (const guestNx of [false, true]) {
          for (const guestSmep of [false, true]) {
            const s = setUp({
              hostEfer: 0x500 | (hostNx ? Efer.NXE : 0),
              hostCr4: hostSmep ? Cr4.SMEP : 0,
              guestEfer: guestNx ? Efer.NXE : 0,
              guestCr4: guestSmep ? Cr4.SMEP : 0,
            });
            setNestedLeaf(s, CODE, CODE | USER_RW, 0x0004_0000);
            // A guest supervisor code page, so guest SMEP lets the supervisor fetch through to the nested stage.
            s.memory.writeEntry(s.gpt.entryAddress(LINEAR_CODE, 1)!, CODE | PteFlag.P | PteFlag.RW, 0);
            s.mmu.translate(LINEAR_CODE, 0, AccessKind.Execute, Privilege.Supervisor, s.out);
            const expected = 0x1_0000_000dn | (hostNx || hostSmep ? 0x10n : 0n);
            expect({ hostNx, hostSmep, guestNx, guestSmep, info: exitInfo1(s.out) }).toEqual({
              hostNx,
              hostSmep,
              guestNx,
              guestSmep,
              info: expected,
            });
          }
        }
      }
    }
  });

  it('with host EFER.NXE=0, NX in a nested entry is a reserved bit (APM §15.25.7; kvm-unit-tests)', () => {
    const s = setUp({ hostEfer: 0x500 });
    setNestedLeaf(s, DATA, DATA | USER_RW, 0x8000_0000);
    s.mmu.translate(LINEAR_DATA, 0, AccessKind.Read, Privilege.Supervisor, s.out);
    expect(exitInfo1(s.out)).toBe(0x1_0000_000dn);
  });
});

describe('NPT walk rules (AMD APM vol. 2 §15.25.5)', () => {
  it('sets A and D in the nested leaves that map guest table pages, and A only for a data read', () => {
    const s = setUp();
    expect(s.mmu.translate(LINEAR_DATA, 0, AccessKind.Read, Privilege.Supervisor, s.out)).toBe(
      TranslateStatus.Ok,
    );
    expect(s.out.hostPhysical).toBe(DATA);
    const tableLeaf = s.npt.entryAddress(s.gpt.root, 1)!;
    expect(s.memory.readWord(tableLeaf) & 0x60).toBe(0x60);
    const dataLeaf = s.npt.entryAddress(DATA, 1)!;
    expect(s.memory.readWord(dataLeaf) & 0x60).toBe(0x20);
  });

  it('makes (4+1)(4+1)-1 = 24 references for 4-level guest and nested tables, in 2-D order', () => {
    const s = setUp();
    const trace = new WalkTrace();
    s.mmu.trace = trace;
    s.mmu.translate(LINEAR_DATA, 0, AccessKind.Read, Privilege.Supervisor, s.out);
    expect(s.out.references).toBe(24);
    expect(trace.count).toBe(24);
    const stages = Array.from(trace.stage.subarray(0, 24)).join('');
    // Stage 1 = nested, 0 = guest: four nested references before each guest entry, then the final walk.
    expect(stages).toBe(`${'11110'.repeat(4)}1111`);
  });

  it('guest accessed bits are set before the final nested translation faults', () => {
    const s = setUp();
    setNestedLeaf(s, DATA, 0);
    s.mmu.translate(LINEAR_DATA, 0, AccessKind.Write, Privilege.Supervisor, s.out);
    expect(s.out.status).toBe(TranslateStatus.NestedFault);
    const guestLeaf = s.gpt.entryAddress(LINEAR_DATA, 1)!;
    expect(s.memory.readWord(guestLeaf) & 0x60).toBe(0x60);
  });

  it('a guest #PF comes before the nested translation of the final address', () => {
    const s = setUp();
    setNestedLeaf(s, DATA, 0);
    const guestLeaf = s.gpt.entryAddress(LINEAR_DATA, 1)!;
    s.memory.writeEntry(guestLeaf, DATA | PteFlag.P | PteFlag.RW, 0); // guest supervisor page
    expect(s.mmu.translate(LINEAR_DATA, 0, AccessKind.Read, Privilege.User, s.out)).toBe(
      TranslateStatus.PageFault,
    );
    expect(s.out.errorCode).toBe(0x5);
  });

  it('rejects nested paging with host paging off (VMRUN gives VMEXIT_INVALID)', () => {
    const memory = new PhysicalMemory();
    expect(() => new NptStage(memory, { nestedCr3: 0x1000, host: { cr0: 0x11, cr4: 0, efer: 0 } })).toThrow(
      /host CR0.PG is 0/,
    );
  });
});
