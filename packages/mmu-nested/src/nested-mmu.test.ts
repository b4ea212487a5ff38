import {
  AccessKind,
  CpuState,
  Cr0,
  Cr4,
  Efer,
  Perm,
  PhysicalMemory,
  Privilege,
  Stage,
  WalkTrace,
} from '@hvsim/cpu-core';
import { describe, expect, it } from 'vitest';
import { NativeMmu } from './native-mmu.js';
import { combinePerms, NestedMmu } from './nested-mmu.js';
import { NestedAccess, NestedFault, NestedFaultKind, type NestedStage } from './nested-stage.js';
import { TranslateStatus, Translation } from './translation.js';

/*
 * The vendor-neutral composition of the two-dimensional walk (AMD APM vol. 2 §15.25.5-15.25.9),
 * checked with a minimal second stage that adds a fixed offset and can refuse chosen guest-physical
 * pages. The real NPT and EPT stages are tested in their vendor packages.
 */

class OffsetStage implements NestedStage {
  trace: WalkTrace | null = null;
  readonly fault = new NestedFault();
  readonly guestPdptesOnDemand = true;
  readonly tableUpdateChecksWrite = false;
  pageShift = 21;
  perms = Perm.Write | Perm.Execute | Perm.Dirty;
  references = 1;
  readonly refused = new Set<number>();
  readonly calls: string[] = [];
  readonly offset: number;
  constructor(offset: number) {
    this.offset = offset;
  }
  begin(): void {}
  translate(gpa: number, why: NestedAccess, access: AccessKind): number {
    this.calls.push(`${why === NestedAccess.Final ? 'final' : 'table'}:${access}:0x${gpa.toString(16)}`);
    this.trace?.push(Stage.Nested, 1, gpa + this.offset, 0, 0);
    if (this.refused.has(gpa - (gpa % 4096))) {
      this.fault.kind = NestedFaultKind.NestedPageFault;
      this.fault.guestPhysical = gpa;
      this.fault.access = why;
      return -1;
    }
    return gpa + this.offset;
  }
  translateForUpdate(gpa: number): number {
    return gpa + this.offset;
  }
}

const OFFSET = 0x1_0000_0000;

function setUp() {
  const memory = new PhysicalMemory();
  // Guest tables (4-level) at guest-physical 0x1000..0x4000, stored at host-physical + OFFSET.
  memory.writeEntry(OFFSET + 0x1000, 0x2007, 0);
  memory.writeEntry(OFFSET + 0x2000, 0x3007, 0);
  memory.writeEntry(OFFSET + 0x3000, 0x4007, 0);
  memory.writeEntry(OFFSET + 0x4000, 0x9005, 0); // user, read-only page at guest-physical 0x9000
  const guest = new CpuState();
  guest.setControlRegisters({ cr0: Cr0.PE | Cr0.PG | Cr0.WP, cr3: 0x1000, cr4: Cr4.PAE, efer: Efer.LME });
  const stage = new OffsetStage(OFFSET);
  const mmu = new NestedMmu(memory, guest, stage);
  return { memory, guest, stage, mmu, out: new Translation() };
}

describe('NestedMmu: the vendor-neutral two-dimensional walk', () => {
  it('translates every guest entry address, then the final address, counting both stages', () => {
    const s = setUp();
    const trace = new WalkTrace();
    s.mmu.trace = trace;
    expect(s.mmu.translate(0x123, 0, AccessKind.Read, Privilege.User, s.out)).toBe(TranslateStatus.Ok);
    expect(s.out.guestPhysical).toBe(0x9123);
    expect(s.out.hostPhysical).toBe(OFFSET + 0x9123);
    expect(s.stage.calls).toEqual([
      'table:0:0x1000',
      'table:0:0x2000',
      'table:0:0x3000',
      'table:0:0x4000',
      'final:0:0x9123',
    ]);
    expect(s.out.references).toBe(4 + 5);
    expect(Array.from(trace.stage.subarray(0, trace.count)).join('')).toBe('101010101');
    // Guest A bits were written at host-physical addresses.
    expect(s.memory.readWord(OFFSET + 0x4000)).toBe(0x9025);
  });

  it('uses the smaller page size of the two stages (AMD APM vol. 2 §15.25.9)', () => {
    const s = setUp();
    s.mmu.translate(0x123, 0, AccessKind.Read, Privilege.User, s.out);
    expect(s.out.pageShift).toBe(12);
  });

  it('a guest #PF wins over a nested fault on the final address (APM vol. 2 §15.25.6)', () => {
    const s = setUp();
    s.stage.refused.add(0x9000);
    expect(s.mmu.translate(0x123, 0, AccessKind.Write, Privilege.User, s.out)).toBe(
      TranslateStatus.PageFault,
    );
    expect(s.out.errorCode).toBe(0x7);
    expect(s.stage.calls.at(-1)).toBe('table:0:0x4000');
    expect(s.mmu.translate(0x123, 0, AccessKind.Read, Privilege.User, s.out)).toBe(
      TranslateStatus.NestedFault,
    );
    expect(s.out.nestedFault.access).toBe(NestedAccess.Final);
    expect(s.out.nestedFault.guestPhysical).toBe(0x9123);
  });

  it('a nested fault on a guest entry address stops the walk at that level', () => {
    const s = setUp();
    s.stage.refused.add(0x3000);
    expect(s.mmu.translate(0x123, 0, AccessKind.Read, Privilege.User, s.out)).toBe(
      TranslateStatus.NestedFault,
    );
    expect(s.out.nestedFault.access).toBe(NestedAccess.GuestTable);
    expect(s.out.nestedFault.guestPhysical).toBe(0x3000);
    expect(s.out.guest.level).toBe(2);
    // The entries above were used and keep their accessed bits.
    expect(s.memory.readWord(OFFSET + 0x2000) & 0x20).toBe(0x20);
    expect(s.memory.readWord(OFFSET + 0x3000) & 0x20).toBe(0);
  });

  it('combines permissions: W, X and D need both stages; U and G come from the guest (APM §15.25.7-8)', () => {
    const all = Perm.Write | Perm.User | Perm.Execute | Perm.Dirty | Perm.Global;
    expect(combinePerms(all, Perm.Execute)).toBe(Perm.Execute | Perm.User | Perm.Global);
    expect(combinePerms(Perm.User, Perm.Write | Perm.Execute | Perm.Dirty)).toBe(Perm.User);
  });
});

describe('NativeMmu', () => {
  it('is the one-stage walk: guest-physical equals host-physical', () => {
    const memory = new PhysicalMemory();
    memory.writeEntry(0x1000, 0x2007, 0);
    memory.writeEntry(0x2000, 0x3007, 0);
    memory.writeEntry(0x3000, 0x4007, 0);
    memory.writeEntry(0x4000, 0x9007, 0);
    const state = new CpuState();
    state.setControlRegisters({ cr0: Cr0.PE | Cr0.PG, cr3: 0x1000, cr4: Cr4.PAE, efer: Efer.LME });
    const mmu = new NativeMmu(memory, state);
    const out = new Translation();
    expect(mmu.translate(0x456, 0, AccessKind.Write, Privilege.User, out)).toBe(TranslateStatus.Ok);
    expect([out.guestPhysical, out.hostPhysical, out.references]).toEqual([0x9456, 0x9456, 4]);
    expect(mmu.translate(0x456, 0x8000, AccessKind.Read, Privilege.User, out)).toBe(
      TranslateStatus.GeneralProtection,
    );
  });
});
