import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AccessKind } from '@hvsim/cpu-core';
import { NativeMachine } from '@hvsim/platform';
import { skylakeTlb } from '@hvsim/tlb-tagged';
import { expect, it, vi } from 'vitest';
import * as api from './index.js';
import { formatDigest, GuestOs, guestDigest, Prot, runTrace, TraceKind, workloads } from './index.js';

/*
 * The README's example, verbatim (between the markers), run here so that it stays correct. The
 * printed values follow from the rules by hand: one demand-zero fault for the first store; the
 * child's first store to a page shared by fork copies it (the shell still holds the original, so
 * the two translate apart); two records with no boundary crossing are two accesses, both inside the
 * trace process's user-range VMA (no segfault).
 */
async function readmeExample(): Promise<void> {
  // README example begin
  // A two-CPU machine with Skylake TLBs, and a guest kernel on it: 256 MiB, 4-level paging, PCIDs.
  const machine = new NativeMachine({ cpus: 2, caches: { tlb: skylakeTlb.config } });
  const os = new GuestOs({ cpus: machine.cpus, memoryBytes: 256 * 2 ** 20, pcid: true });

  // A process with 64 KiB of anonymous memory, running on CPU 0.
  const shell = os.createProcess();
  os.switchTo(shell, 0);
  const heap = os.mmap(shell, 64 * 1024, Prot.Read | Prot.Write);

  // The first store faults (#PF, not present); the kernel maps a zero frame and retries the store.
  os.touch(0, heap + 0x10, AccessKind.Write);
  console.log(os.counters.demandZeroFaults, os.translate(shell, heap + 0x10) === os.lastGuestPhysical); // 1 true

  // fork shares the page copy-on-write; the child's first store (on CPU 1) copies it.
  const child = os.fork(shell);
  os.switchTo(child, 1);
  os.touch(1, heap + 0x10, AccessKind.Write);
  console.log(os.counters.cowCopies, os.translate(child, heap) !== os.translate(shell, heap)); // 1 true
  os.exit(child);

  // A seeded workload, then a trace of two records (64-bit addresses as two 32-bit halves).
  workloads.zipf.run(os, { seed: 42, accesses: 10_000 });
  const trace = {
    length: 2,
    kind: Uint8Array.of(TraceKind.Store, TraceKind.Load),
    addressLo: Uint32Array.of(0x1234_5678, 0x1234_5678),
    addressHi: Uint32Array.of(0x7ffd, 0x7ffd),
    size: Uint8Array.of(8, 8),
  };
  const result = await runTrace(os, os.createProcess(), [trace]);
  console.log(result.accesses, os.counters.segfaults); // 2 0

  // Everything the guest saw, as one number: the same natively and under NPT, EPT or shadow paging.
  console.log(formatDigest(guestDigest(os)));
  // README example end
}

async function printed(): Promise<string[]> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await readmeExample();
    return log.mock.calls.map((call) => call.join(' '));
  } finally {
    log.mockRestore();
  }
}

it('runs the README example and prints what the rules say', async () => {
  const lines = await printed();
  expect(lines.slice(0, 3)).toEqual(['1 true', '1 true', '2 0']);
  expect(lines[3]).toMatch(/^[0-9a-f]{8}$/);
  // Deterministic: a second run digests the same.
  expect((await printed())[3]).toBe(lines[3]);
});

it('README.md shows exactly the code that runs here, importing only public names', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const source = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  const begin = source.indexOf('// README example begin\n');
  const end = source.indexOf('  // README example end');
  const region = source
    .slice(source.indexOf('\n', begin) + 1, end)
    .split('\n')
    .map((line) => line.replace(/^ {2}/, ''))
    .join('\n');
  const imports = /^(import [^\n]*\n)+\n/.exec(block);
  expect(imports).not.toBeNull();
  expect(block.slice(imports?.[0].length)).toBe(region);
  const own = /import \{([^}]*)\} from '@hvsim\/workloads';/.exec(block)?.[1] ?? '';
  const names = own.split(',').map((n) => n.trim());
  expect(names.length).toBeGreaterThan(3);
  for (const name of names) expect(Object.keys(api), name).toContain(name);
});
