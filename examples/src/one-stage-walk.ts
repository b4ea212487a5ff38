/**
 * A one-stage MMU: a 4-level page table built in sparse physical memory, and the page walker
 * translating three accesses, one of which faults. Run: pnpm --filter @hvsim/examples exec
 * node --conditions=@hvsim/source --import tsx src/one-stage-walk.ts
 */
import {
  AccessKind,
  CpuState,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  PageTableBuilder,
  PageWalker,
  PagingMode,
  PhysicalMemory,
  Privilege,
  PteFlag,
  WalkResult,
  WalkStatus,
} from '@hvsim/cpu-core';

export function oneStageWalk(): string[] {
  const memory = new PhysicalMemory({ maxPhysicalAddressBits: 48 });
  const frames = new FrameAllocator(0x10_0000, 0x20_0000);
  const tables = new PageTableBuilder(memory, PagingMode.Level4, () => frames.allocate());
  tables.map(0x7fff_0000_0000, 0x4_0000_0000); // user, writable
  tables.map(0x7fff_0000_1000, 0x4_0000_1000, { flags: PteFlag.P | PteFlag.US }); // user, read-only

  const cpu = new CpuState();
  cpu.setControlRegisters({
    cr0: Cr0.PE | Cr0.PG | Cr0.WP,
    cr3: tables.root,
    cr4: Cr4.PAE,
    efer: Efer.LME | Efer.NXE,
  });
  const walker = new PageWalker(memory, cpu);
  const out = new WalkResult();

  const lines: string[] = [];
  const run = (linear: number, access: AccessKind, label: string) => {
    const lo = linear % 2 ** 32;
    const hi = Math.floor(linear / 2 ** 32);
    const status = walker.walk(lo, hi, access, Privilege.User, out);
    lines.push(
      status === WalkStatus.Ok
        ? `${label}: 0x${linear.toString(16)} -> 0x${out.physical.toString(16)} (${out.references} references)`
        : `${label}: 0x${linear.toString(16)} -> #PF, error code 0x${out.errorCode.toString(16)}`,
    );
  };
  run(0x7fff_0000_0123, AccessKind.Read, 'user read');
  run(0x7fff_0000_1456, AccessKind.Read, 'user read of a read-only page');
  run(0x7fff_0000_1456, AccessKind.Write, 'user write to a read-only page');
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(oneStageWalk().join('\n'));
