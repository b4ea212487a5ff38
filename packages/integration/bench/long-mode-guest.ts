/**
 * The guest both GuestCpu benchmarks run: a 4-level guest whose tables map `pages` pages, `stride`
 * pages apart, from `base`, and a loop that touches each once. One call of the loop makes `pages`
 * accesses; the loop runs once before it is returned, so the pages are backed and the shadow entries
 * filled.
 */
import {
  type AccessKind,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  PageTableBuilder,
  PagingMode,
} from '@hvsim/cpu-core';
import { HostMachine, type VirtualizationExtension } from '@hvsim/hypervisor';
import { GuestAccess, type GuestCpu } from '@hvsim/platform';
import type { CpuCacheConfig } from '@hvsim/tlb-tagged';

export interface GuestLoop {
  readonly pages: number;
  readonly stride: number;
  readonly base: number;
  readonly access: AccessKind;
  /** Offset of each access inside its page. */
  readonly offset?: number;
  readonly efer?: number;
}

/** Sets up the guest on `cpu`; returns the loop and the access record it writes. */
export function longModeGuest(cpu: GuestCpu, g: GuestLoop): { run: () => void; out: GuestAccess } {
  const memory = {
    readWord: (a: number) => cpu.readPhysical(a),
    writeWord: (a: number, v: number) => cpu.writePhysical(a, v),
  };
  const frames = new FrameAllocator(0x10_0000, 0x80_0000);
  const tables = new PageTableBuilder(memory, PagingMode.Level4, () => frames.allocate());
  const step = g.stride * 0x1000;
  for (let i = 0; i < g.pages; i++) tables.map(g.base + i * step, 0x100_0000 + i * 0x1000);
  cpu.setControlRegisters({
    cr0: Cr0.PE | Cr0.PG,
    cr3: tables.root,
    cr4: Cr4.PAE,
    efer: g.efer ?? Efer.LME,
  });
  const out = new GuestAccess();
  const first = g.base + (g.offset ?? 0);
  // Each guest's loop is compiled from its own source text (a unique comment defeats V8's compilation
  // cache), as lookup.bench.ts in tlb-tagged does, so no two benchmark cases share the type feedback
  // of the `cpu.access` call site: a simulator runs one platform, whose calls stay monomorphic.
  const run = new Function(
    'cpu',
    'out',
    'first',
    'step',
    'pages',
    'access',
    `// guest loop ${loopId++}
    return function guestLoop() {
      for (let i = 0; i < pages; i++) cpu.access(first + i * step, access, out);
    };`,
  )(cpu, out, first, step, g.pages, g.access) as () => void;
  run();
  return { run, out };
}

let loopId = 0;

/** A vCPU of a fresh VM of `paging` on a one-CPU host, running on that CPU. */
export function hostedVcpu(
  extension: VirtualizationExtension,
  paging: 'nested' | 'shadow',
  caches?: CpuCacheConfig,
): GuestCpu {
  const host = new HostMachine({ extension, ...(caches === undefined ? {} : { caches }) });
  const vcpu = host.createVm({ memorySize: 0x200_0000, paging }).createVcpu();
  vcpu.run(host.cpus[0]);
  return vcpu;
}
