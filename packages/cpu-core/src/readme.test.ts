import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it, vi } from 'vitest';
import * as api from './index.js';
import {
  AccessKind,
  accessKindName,
  CpuState,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  formatHex,
  linearFromBigInt,
  linearToBigInt,
  PageSize,
  PageTableBuilder,
  PageWalker,
  PagingMode,
  PhysicalMemory,
  Privilege,
  PteFlag,
  privilegeOfCpl,
  type TablePort,
  WalkResult,
  WalkStatus,
  WalkTrace,
} from './index.js';

/*
 * The README's code blocks, verbatim (between the README markers), run here so that they stay
 * correct. The printed values are worked out by hand from Intel SDM vol. 3A: the linear-address
 * split of Figure 4-8, the entry formats of Tables 4-14 to 4-20, the A/D rules of §4.8 and the
 * error code of §4.7.
 */

function readmeExamples(): void {
  // README example 1 begin
  // Physical memory with a 46-bit MAXPHYADDR; page tables are allocated from [1 MiB, 2 MiB).
  const memory = new PhysicalMemory({ maxPhysicalAddressBits: 46 });
  const frames = new FrameAllocator(0x10_0000, 0x20_0000);
  const tables = new PageTableBuilder(memory, PagingMode.Level4, () => frames.allocate());

  // A user page, and a 2 MiB kernel page that user mode may not touch (U/S = 0).
  tables.map(0x7f00_dead_b000n, 0x1_2345_6000);
  tables.map(0xffff_8000_0000_0000n, 0x20_0000, { size: PageSize.Size2M, flags: PteFlag.P | PteFlag.RW });

  // A CPU in 4-level paging (CR0.PG, CR4.PAE, EFER.LME) running user code (CPL 3).
  const cpu = new CpuState();
  cpu.setControlRegisters({
    cr0: Cr0.PE | Cr0.PG | Cr0.WP,
    cr3: tables.root,
    cr4: Cr4.PAE,
    efer: Efer.LME | Efer.NXE,
  });
  cpu.cpl = 3;

  // The MMU: one walker, and one caller-owned result that every walk writes into.
  const walker = new PageWalker(memory, cpu);
  const result = new WalkResult();

  function access(linear: bigint, kind: AccessKind): string {
    const { lo, hi } = linearFromBigInt(linear);
    const status = walker.walk(lo, hi, kind, privilegeOfCpl(cpu.effectiveCpl), result);
    const what = `${accessKindName[kind]} ${formatHex(linear)}`;
    if (status !== WalkStatus.Ok) return `${what} -> #PF, error code ${formatHex(result.errorCode)}`;
    return `${what} -> ${formatHex(result.physical)} (${result.references} references)`;
  }

  console.log(access(0x7f00_dead_beefn, AccessKind.Write));
  console.log(access(0xffff_8000_0000_1000n, AccessKind.Read));
  // README example 1 end

  // README example 2 begin
  // Record the memory references of a walk: level, entry address and entry (after A/D updates).
  const trace = new WalkTrace();
  walker.trace = trace;
  walker.walk(0xdead_beef, 0x7f00, AccessKind.Read, Privilege.User, result);
  for (let i = 0; i < trace.count; i++) {
    const entry = linearToBigInt(trace.entryLo[i], trace.entryHi[i]);
    console.log(`level ${trace.level[i]}: ${formatHex(trace.address[i])} = ${formatHex(entry)}`);
  }

  // The walker asks a TablePort where each entry is before reading it: a nested MMU translates
  // the address through a second stage there. This one moves nothing and counts.
  let located = 0;
  const counting: TablePort = {
    locate(address) {
      located++;
      return address;
    },
    locateForUpdate: (address) => address,
  };
  walker.port = counting;
  walker.walk(0xdead_beef, 0x7f00, AccessKind.Read, Privilege.User, result);
  console.log(`${located} entries located`);
  // README example 2 end
}

it('runs the README examples and prints what the manual says', () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    readmeExamples();
    expect(log.mock.calls.map((args) => args.join(' '))).toEqual([
      // PTE: frame 0x1_2345_6000 + offset 0xeef; 4 levels, 4 references (SDM §4.5.4).
      'write 0x7f00deadbeef -> 0x123456eef (4 references)',
      // Present but supervisor-only: P=1 (protection), W=0, U/S=1 (user-mode access): 0x5 (SDM §4.7).
      'read 0xffff800000001000 -> #PF, error code 0x5',
      // Tables from 0x100000: PML4 0x100000, PDPT 0x101000, PD 0x102000, PT 0x103000. Indices of
      // 0x7f00_dead_beef: PML4 0xfe, PDPT 3, PD 0xf5, PT 0xdb. Non-leaf entries: address | P, R/W,
      // U/S, A = 0x27; the leaf has D too after the write (0x67).
      'level 4: 0x1007f0 = 0x101027',
      'level 3: 0x101018 = 0x102027',
      'level 2: 0x1027a8 = 0x103027',
      'level 1: 0x1036d8 = 0x123456067',
      '4 entries located',
    ]);
  } finally {
    log.mockRestore();
  }
});

it('README.md shows exactly the code that runs here', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const source = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  const region = (n: number): string => {
    const begin = source.indexOf(`// README example ${n} begin\n`);
    const end = source.indexOf(`  // README example ${n} end`);
    return source
      .slice(source.indexOf('\n', begin) + 1, end)
      .split('\n')
      .map((line) => line.replace(/^ {2}/, ''))
      .join('\n');
  };
  expect(blocks).toHaveLength(2);
  // The first block opens with its imports; every name it imports is part of the public surface.
  const imports = /^import \{([^}]*)\} from '@hvsim\/cpu-core';\n\n/.exec(blocks[0]);
  expect(imports).not.toBeNull();
  const names = imports![1].split(',').map((n) => n.trim());
  // Values must exist at run time; `type` imports are checked by the type check of this file.
  const exported = new Set(Object.keys(api));
  for (const name of names.filter((n) => n !== '' && !n.startsWith('type '))) {
    expect(exported.has(name), name).toBe(true);
  }
  // …and they are the names this file imports to run the same code.
  const own = /\nimport \{([^}]*)\} from '\.\/index\.js';/.exec(source);
  expect(names.filter((n) => n !== '')).toEqual(
    own![1]
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== ''),
  );
  expect(blocks[0].slice(imports![0].length)).toBe(region(1));
  expect(blocks[1]).toBe(region(2));
});
