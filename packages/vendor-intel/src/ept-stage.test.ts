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
import { EptBuilder, EptFlag } from './ept-builder.js';
import { decodeEptp, type EptCapabilities, EptStage, EptQualification as Q } from './ept-stage.js';

/*
 * Golden values: the exit qualifications kvm-unit-tests x86/vmx_tests.c (ept_access_test_*) expects
 * of real hardware (../shared/reference §2.4), with bits 7 and 8 as the SDM defines them (vol. 3C
 * Table 28-7), and the misconfiguration rules of SDM vol. 3C §29.3.3.1.
 */

const R = AccessKind.Read;
const W = AccessKind.Write;
const X = AccessKind.Execute;
const SUP = Privilege.Supervisor;
const RWX_WB = EptFlag.R | EptFlag.W | EptFlag.X | EptFlag.MEMORY_TYPE_WB;
const GUEST_TABLES = 0x10_0000;
const DATA = 0x40_0000;
const LINEAR = 0x7000_0000;
const FINAL = Q.LINEAR_VALID | Q.TRANSLATION;
const WALK = Q.LINEAR_VALID;

interface Setup {
  memory: PhysicalMemory;
  ept: EptBuilder;
  gpt: PageTableBuilder;
  guest: CpuState;
  mmu: NestedMmu;
  stage: EptStage;
  out: Translation;
}

/** A 4-level guest over 4-level EPT mapping guest-physical memory 1:1, as kvm-unit-tests does. */
function setUp(
  options: { accessedDirty?: boolean; capabilities?: EptCapabilities; guestMode?: PagingMode } = {},
): Setup {
  const memory = new PhysicalMemory();
  const hostFrames = new FrameAllocator(0x1000_0000, 0x1100_0000);
  const ept = new EptBuilder(memory, () => hostFrames.allocate());
  const guestFrames = new FrameAllocator(GUEST_TABLES, GUEST_TABLES + 0x10_0000);
  const mode = options.guestMode ?? PagingMode.Level4;
  const gpt = new PageTableBuilder(memory, mode, () => guestFrames.allocate());
  gpt.map(LINEAR, DATA);
  for (let gpa = GUEST_TABLES; gpa < guestFrames.watermark; gpa += 0x1000) ept.map(gpa, gpa);
  ept.map(DATA, DATA);
  const guest = new CpuState();
  guest.setControlRegisters({
    cr0: Cr0.PE | Cr0.PG | Cr0.WP,
    cr3: gpt.root,
    cr4: Cr4.PAE,
    efer: mode === PagingMode.Level4 ? Efer.LME | Efer.NXE : Efer.NXE,
  });
  const stage = new EptStage(memory, {
    eptp: ept.eptp(options.accessedDirty ?? false),
    ...(options.capabilities ? { capabilities: options.capabilities } : {}),
  });
  const mmu = new NestedMmu(memory, guest, stage);
  return { memory, ept, gpt, guest, mmu, stage, out: new Translation() };
}

function setEptLeaf(s: Setup, gpa: number, flags: number): void {
  const address = s.ept.entryAddress(gpa, 1)!;
  s.memory.writeEntry(address, (gpa + flags) >>> 0, 0);
}

/** Guest-physical page of the guest PTE that maps LINEAR. */
function guestPtePage(s: Setup): number {
  const address = s.gpt.entryAddress(LINEAR, 1)!;
  return address - (address % 0x1000);
}

function translate(s: Setup, access: AccessKind): TranslateStatus {
  return s.mmu.translate(LINEAR, 0, access, SUP, s.out);
}

describe('EPT violations: golden qualifications (kvm-unit-tests ept_access)', () => {
  it('not present: a read reports RD only', () => {
    const s = setUp();
    setEptLeaf(s, DATA, 0);
    expect(translate(s, R)).toBe(TranslateStatus.NestedFault);
    expect(s.out.nestedFault.kind).toBe(NestedFaultKind.EptViolation);
    expect(s.out.nestedFault.infoLo).toBe(Q.READ | FINAL);
    expect(s.out.nestedFault.guestPhysical).toBe(DATA);
    expect(s.out.nestedFault.linearValid).toBe(true);
    expect(s.out.nestedFault.linearLo).toBe(LINEAR);
  });

  it('read-only: a write reports WR|PERM_RD, a fetch FETCH|PERM_RD', () => {
    const s = setUp();
    setEptLeaf(s, DATA, EptFlag.R | EptFlag.MEMORY_TYPE_WB);
    translate(s, W);
    expect(s.out.nestedFault.infoLo).toBe(Q.WRITE | Q.READABLE | FINAL);
    translate(s, X);
    expect(s.out.nestedFault.infoLo).toBe(Q.FETCH | Q.READABLE | FINAL);
    expect(translate(s, R)).toBe(TranslateStatus.Ok);
  });

  it('write-only and write-execute entries are misconfigurations', () => {
    for (const flags of [EptFlag.W, EptFlag.W | EptFlag.X]) {
      const s = setUp();
      setEptLeaf(s, DATA, flags | EptFlag.MEMORY_TYPE_WB);
      expect(translate(s, R)).toBe(TranslateStatus.NestedFault);
      expect(s.out.nestedFault.kind).toBe(NestedFaultKind.EptMisconfiguration);
      expect(s.out.nestedFault.guestPhysical).toBe(DATA);
    }
  });

  it('execute-only: allowed with the capability (reads violate), a misconfiguration without it', () => {
    const s = setUp();
    setEptLeaf(s, DATA, EptFlag.X | EptFlag.MEMORY_TYPE_WB);
    expect(translate(s, X)).toBe(TranslateStatus.Ok);
    translate(s, R);
    expect(s.out.nestedFault.infoLo).toBe(Q.READ | Q.EXECUTABLE | FINAL);
    const n = setUp({ capabilities: { executeOnly: false } });
    setEptLeaf(n, DATA, EptFlag.X | EptFlag.MEMORY_TYPE_WB);
    translate(n, X);
    expect(n.out.nestedFault.kind).toBe(NestedFaultKind.EptMisconfiguration);
  });

  it('a guest table page not present in EPT: RD with A/D off, RD|WR with A/D on; bit 8 clear', () => {
    const off = setUp();
    setEptLeaf(off, off.gpt.root, 0);
    translate(off, R);
    expect(off.out.nestedFault.infoLo).toBe(Q.READ | WALK);
    expect(off.out.nestedFault.guestPhysical).toBe(off.gpt.root);
    const on = setUp({ accessedDirty: true });
    setEptLeaf(on, on.gpt.root, 0);
    translate(on, R);
    expect(on.out.nestedFault.infoLo).toBe(Q.READ | Q.WRITE | WALK);
  });

  it('a read-only guest table page with the guest A bit clear: WR|RD|PERM_RD for every access', () => {
    for (const access of [R, W, X]) {
      const s = setUp();
      const page = guestPtePage(s);
      setEptLeaf(s, page, EptFlag.R | EptFlag.MEMORY_TYPE_WB);
      translate(s, access);
      expect(s.out.nestedFault.infoLo).toBe(Q.READ | Q.WRITE | Q.READABLE | WALK);
      expect(s.out.nestedFault.guestPhysical).toBe(s.gpt.entryAddress(LINEAR, 1));
    }
  });

  it('a read-only guest table page with A/D off and the guest A bit set: reads and fetches pass, writes violate (D update)', () => {
    const s = setUp();
    const pte = s.gpt.entryAddress(LINEAR, 1)!;
    s.memory.writeWord(pte, s.memory.readWord(pte) | PteFlag.A);
    setEptLeaf(s, guestPtePage(s), EptFlag.R | EptFlag.MEMORY_TYPE_WB);
    expect(translate(s, R)).toBe(TranslateStatus.Ok);
    expect(translate(s, X)).toBe(TranslateStatus.Ok);
    expect(translate(s, W)).toBe(TranslateStatus.NestedFault);
    expect(s.out.nestedFault.infoLo).toBe(Q.READ | Q.WRITE | Q.READABLE | WALK);
    // With A and D both set nothing needs writing: every access passes.
    s.memory.writeWord(pte, s.memory.readWord(pte) | PteFlag.D);
    expect(translate(s, W)).toBe(TranslateStatus.Ok);
  });

  it('with A/D on, any access through a read-only guest table page violates, even with guest A/D set', () => {
    const s = setUp({ accessedDirty: true });
    const pte = s.gpt.entryAddress(LINEAR, 1)!;
    s.memory.writeWord(pte, s.memory.readWord(pte) | PteFlag.A | PteFlag.D);
    setEptLeaf(s, guestPtePage(s), EptFlag.R | EptFlag.MEMORY_TYPE_WB);
    for (const access of [R, W, X]) {
      expect(translate(s, access)).toBe(TranslateStatus.NestedFault);
      expect(s.out.nestedFault.infoLo).toBe(Q.READ | Q.WRITE | Q.READABLE | WALK);
    }
  });

  it('with A/D on, after a read every EPT level mapping a guest table page has A, the leaf also D; the data leaf has A only', () => {
    const s = setUp({ accessedDirty: true });
    expect(translate(s, R)).toBe(TranslateStatus.Ok);
    const page = guestPtePage(s);
    for (let level = 4; level >= 2; level--) {
      const lo = s.memory.readWord(s.ept.entryAddress(page, level)!);
      expect({ level, a: lo & EptFlag.ACCESSED, d: lo & EptFlag.DIRTY }).toEqual({
        level,
        a: EptFlag.ACCESSED,
        d: 0,
      });
    }
    expect(s.memory.readWord(s.ept.entryAddress(page, 1)!) & 0x300).toBe(0x300);
    expect(s.memory.readWord(s.ept.entryAddress(DATA, 1)!) & 0x300).toBe(0x100);
    translate(s, W);
    expect(s.memory.readWord(s.ept.entryAddress(DATA, 1)!) & 0x300).toBe(0x300);
  });
});

describe('EPT misconfigurations (SDM vol. 3C §29.3.3.1) and their priority over violations', () => {
  it('leaf memory types 2, 3 and 7 are misconfigurations; 0, 1, 4, 5, 6 are not', () => {
    for (let type = 0; type < 8; type++) {
      const s = setUp();
      setEptLeaf(s, DATA, EptFlag.R | EptFlag.W | EptFlag.X | (type << 3));
      const status = translate(s, R);
      const misconfig = type === 2 || type === 3 || type === 7;
      expect({ type, misconfig: status === TranslateStatus.NestedFault }).toEqual({ type, misconfig });
    }
  });

  it('reserved bits: PS in a PML4E, bits 6:3 of a non-leaf PDE, address bits at or above MAXPHYADDR', () => {
    const pml4 = setUp();
    pml4.memory.writeWord(pml4.ept.root, pml4.memory.readWord(pml4.ept.root) | EptFlag.PS);
    translate(pml4, R);
    expect(pml4.out.nestedFault.kind).toBe(NestedFaultKind.EptMisconfiguration);
    const pde = setUp();
    const pdeAddress = pde.ept.entryAddress(DATA, 2)!;
    pde.memory.writeWord(pdeAddress, pde.memory.readWord(pdeAddress) | (1 << 3));
    translate(pde, R);
    expect(pde.out.nestedFault.kind).toBe(NestedFaultKind.EptMisconfiguration);
    const high = setUp();
    high.memory.writeWord(high.ept.entryAddress(DATA, 1)! + 4, 0x1_0000); // bit 48
    translate(high, R);
    expect(high.out.nestedFault.kind).toBe(NestedFaultKind.EptMisconfiguration);
  });

  it('a misconfiguration below a level that would deny the access wins over the violation', () => {
    const s = setUp();
    const pdeAddress = s.ept.entryAddress(DATA, 2)!;
    s.memory.writeWord(pdeAddress, (s.memory.readWord(pdeAddress) & ~EptFlag.W) >>> 0); // not writable
    setEptLeaf(s, DATA, EptFlag.R | EptFlag.W | (7 << 3)); // invalid memory type
    translate(s, W);
    expect(s.out.nestedFault.kind).toBe(NestedFaultKind.EptMisconfiguration);
  });

  it('2 MiB pages: bits 20:12 are reserved', () => {
    const s = setUp();
    const pdeAddress = s.ept.entryAddress(DATA, 2)!;
    s.memory.writeEntry(pdeAddress, (DATA | RWX_WB | EptFlag.PS) >>> 0, 0);
    expect(translate(s, R)).toBe(TranslateStatus.Ok);
    expect(s.out.pageShift).toBe(12); // the guest page is 4 KiB: the smaller size wins
    s.memory.writeEntry(pdeAddress, (DATA | 0x1000 | RWX_WB | EptFlag.PS) >>> 0, 0);
    translate(s, R);
    expect(s.out.nestedFault.kind).toBe(NestedFaultKind.EptMisconfiguration);
  });

  it('a 2 MiB leaf where the processor reports no 2 MiB pages is a misconfiguration (capability bit 16)', () => {
    for (const largePages of [true, false]) {
      const s = setUp({ capabilities: { largePages } });
      const pdeAddress = s.ept.entryAddress(DATA, 2)!;
      s.memory.writeEntry(pdeAddress, (DATA | RWX_WB | EptFlag.PS) >>> 0, 0);
      const status = translate(s, R);
      expect({ largePages, status }).toEqual({
        largePages,
        status: largePages ? TranslateStatus.Ok : TranslateStatus.NestedFault,
      });
      if (!largePages) expect(s.out.nestedFault.kind).toBe(NestedFaultKind.EptMisconfiguration);
    }
  });
});

describe('EPT walk shape and guest modes', () => {
  it('a 4-level guest over 4-level EPT makes 24 references', () => {
    const s = setUp();
    const trace = new WalkTrace();
    s.mmu.trace = trace;
    translate(s, R);
    expect(s.out.references).toBe(24);
    expect(trace.count).toBe(24);
  });

  it('a PAE guest loads its PDPTEs through EPT and then walks 2 guest levels: 14 references', () => {
    const s = setUp({ guestMode: PagingMode.Pae });
    expect(s.mmu.loadGuestPdptes(s.out)).toBe(TranslateStatus.Ok);
    expect(translate(s, R)).toBe(TranslateStatus.Ok);
    expect(s.out.hostPhysical).toBe(DATA);
    expect(s.out.references).toBe(14);
  });

  it('an EPT violation on the PDPTE load has bit 7 (linear address valid) clear', () => {
    const s = setUp({ guestMode: PagingMode.Pae });
    setEptLeaf(s, s.gpt.root, 0);
    expect(s.mmu.loadGuestPdptes(s.out)).toBe(TranslateStatus.NestedFault);
    expect(s.out.nestedFault.infoLo).toBe(Q.READ);
    expect(s.out.nestedFault.linearValid).toBe(false);
  });

  it('advanced information reports the guest page as user, writable, execute-disable (bits 9-11)', () => {
    const s = setUp({ capabilities: { advancedViolationInfo: true } });
    setEptLeaf(s, DATA, 0);
    translate(s, R);
    // The guest maps LINEAR user and writable, executable: bits 9 and 10.
    expect(s.out.nestedFault.infoLo).toBe(Q.READ | FINAL | Q.USER_LINEAR | Q.WRITABLE_LINEAR);
  });

  it('mode-based execute: user-mode fetches need bit 10, supervisor fetches bit 2', () => {
    const s = setUp({ capabilities: { modeBasedExecute: true } });
    setEptLeaf(s, DATA, EptFlag.R | EptFlag.X | EptFlag.MEMORY_TYPE_WB);
    expect(s.mmu.translate(LINEAR, 0, X, SUP, s.out)).toBe(TranslateStatus.NestedFault);
    // The guest page is a user page (U/S=1 at every level), so bit 10 decides even at CPL 0.
    expect(s.out.nestedFault.infoLo).toBe(Q.FETCH | Q.READABLE | Q.EXECUTABLE | FINAL);
    setEptLeaf(s, DATA, EptFlag.R | EptFlag.USER_X | EptFlag.MEMORY_TYPE_WB);
    // Still denied: the AND over every level needs bit 10 in the non-leaf entries too.
    expect(s.mmu.translate(LINEAR, 0, X, Privilege.User, s.out)).toBe(TranslateStatus.NestedFault);
    expect(s.out.nestedFault.infoLo).toBe(Q.FETCH | Q.READABLE | FINAL);
    for (let level = 4; level >= 2; level--) {
      const address = s.ept.entryAddress(DATA, level)!;
      s.memory.writeWord(address, s.memory.readWord(address) | EptFlag.USER_X);
    }
    expect(s.mmu.translate(LINEAR, 0, X, Privilege.User, s.out)).toBe(TranslateStatus.Ok);
  });
});

describe('EPTP checks (SDM vol. 3C §26.2.1.1)', () => {
  it('accepts WB or UC with a 4- or 5-level walk and rejects everything else with a reason', () => {
    expect(decodeEptp(0x1000_001en, 48)).toMatchObject({ root: 0x1000_0000, levels: 4, memoryType: 6 });
    expect(decodeEptp(0x1000_0026n, 48)).toMatchObject({ levels: 5 });
    expect(decodeEptp(0x1000_0018n, 48)).toMatchObject({ memoryType: 0 });
    expect(decodeEptp(0x1000_001dn, 48)).toMatch(/memory type 5/);
    expect(decodeEptp(0x1000_0016n, 48)).toMatch(/page-walk length 3/);
    expect(decodeEptp(0x1000_005en, 48, { accessedDirty: false })).toMatch(/accessed\/dirty/);
    expect(decodeEptp(0x1000_011en, 48)).toMatch(/11:8/);
    expect(decodeEptp(0x1_0000_1000_001en, 48)).toMatch(/63:48/);
    expect(() => new EptStage(new PhysicalMemory(), { eptp: 0x1000_001dn })).toThrow(/invalid EPTP/);
  });
});
