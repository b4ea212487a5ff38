import { PagingMode } from '@hvsim/cpu-core';
import { NativeMachine } from '@hvsim/platform';
import { skylakeTlb } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { guestDigest } from './guest-digest.js';
import { GuestOs } from './guest-os.js';
import { runTrace, type TraceBatch, TraceKind } from './trace.js';

/** A batch whose records carry ASIDs: [kind, address, size, asid]. */
function asidBatch(records: Array<[TraceKind, number, number, number]>): TraceBatch {
  const asid = new Uint8Array(records.map((r) => r[3]));
  return { ...batch(records.map(([kind, address, size]) => [kind, address, size])), asid };
}

function batch(records: Array<[TraceKind, number, number]>): TraceBatch {
  const n = records.length;
  const b = {
    length: n,
    kind: new Uint8Array(n),
    addressLo: new Uint32Array(n),
    addressHi: new Uint32Array(n),
    size: new Uint8Array(n),
  };
  records.forEach(([kind, address, size], i) => {
    b.kind[i] = kind;
    b.addressHi[i] = Math.floor(address / 2 ** 32);
    b.addressLo[i] = address % 2 ** 32;
    b.size[i] = size;
  });
  return b;
}

async function* twoBatches(): AsyncGenerator<TraceBatch> {
  yield batch([
    [TraceKind.Fetch, 0x40_1000, 4],
    [TraceKind.Load, 0x7ffd_1234_5678, 8],
    [TraceKind.Store, 0x7ffd_1234_5680, 8],
  ]);
  yield batch([
    // Straddles 0x7ffd_1234_6000: two pages.
    [TraceKind.Modify, 0x7ffd_1234_5ffc, 8],
    [TraceKind.Load, 0x7ffd_1234_6000, 4],
  ]);
}

function setup(pagingMode: PagingMode = PagingMode.Level4, pcid = false) {
  const machine = new NativeMachine({ cpus: 1, caches: { tlb: skylakeTlb.config } });
  return new GuestOs({ cpus: machine.cpus, memoryBytes: 64 * 2 ** 20, pagingMode, pcid });
}

describe('runTrace', () => {
  it('demand-pages the user range on first touch, splits straddling records and counts Modify as two accesses', async () => {
    const os = setup();
    const p = os.createProcess();
    const progress: number[] = [];
    const result = await runTrace(os, p, twoBatches(), { onProgress: (done) => progress.push(done) });
    expect(result.records).toBe(5);
    // 3 + (modify across a page boundary: 2 x 2) + 1.
    expect(result.accesses).toBe(8);
    expect(os.counters.accesses).toBe(8);
    expect(progress).toEqual([3, 5]);
    // Pages touched: 0x401000, 0x7ffd12345000, 0x7ffd12346000.
    expect(os.counters.demandZeroFaults).toBe(3);
    expect(os.counters.segfaults).toBe(0);
    expect(os.translate(p, 0x7ffd_1234_6000)).toBeGreaterThan(0);
  });

  it('is deterministic: the same trace gives the same digest', async () => {
    const a = setup();
    const b = setup();
    await runTrace(a, a.createProcess(), twoBatches());
    await runTrace(b, b.createProcess(), twoBatches());
    expect(guestDigest(a)).toBe(guestDigest(b));
  });

  it('faults kernel addresses (segfault) and non-canonical ones (#GP, SDM vol. 3A §3.3.7.1)', async () => {
    const os = setup();
    await runTrace(os, os.createProcess(), [
      batch([
        [TraceKind.Load, 0xffff_8000_0000_1000, 8],
        [TraceKind.Load, 0x8000_0000_0000, 8],
      ]),
    ]);
    expect(os.counters.segfaults).toBe(1);
    expect(os.counters.generalProtections).toBe(1);
  });

  it('runs under 32-bit paging too (addresses below 3 GiB)', async () => {
    const os = setup(PagingMode.Legacy32);
    const result = await runTrace(os, os.createProcess(), [batch([[TraceKind.Store, 0x0804_8000, 4]])]);
    expect(result.accesses).toBe(1);
    expect(os.counters.demandZeroFaults).toBe(1);
  });

  it('rejects an unknown record kind, and addresses beyond 4 GiB outside long mode, naming the record', async () => {
    const os = setup();
    const records: Array<[TraceKind, number, number]> = [
      [TraceKind.Load, 0x1000, 4],
      [7 as TraceKind, 0x1000, 4],
    ];
    await expect(runTrace(os, os.createProcess(), [batch(records)])).rejects.toThrow(/record 1: kind 7/);
    const legacy = setup(PagingMode.Pae);
    await expect(
      runTrace(legacy, legacy.createProcess(), [batch([[TraceKind.Load, 2 ** 33, 4]])]),
    ).rejects.toThrow(/record 0: address 0x200000000 is beyond the 4 GiB linear space of PAE paging/);
  });

  it('runs each ASID of a trace as its own process, switching where the ASID changes', async () => {
    // ASIDs 5 5 9 9 5 | 5 9: ASID 5 claims the given process, 9 gets a new one; switches: the
    // first (to the given process), then 5->9, 9->5 and (in the second batch) 5->9.
    const batches = () => [
      asidBatch([
        [TraceKind.Fetch, 0x40_1000, 4, 5],
        [TraceKind.Load, 0x7000_0000, 8, 5],
        [TraceKind.Fetch, 0x40_1000, 4, 9],
        [TraceKind.Store, 0x7000_0000, 8, 9],
        [TraceKind.Load, 0x7000_0008, 8, 5],
      ]),
      asidBatch([
        [TraceKind.Fetch, 0x40_1004, 4, 5],
        [TraceKind.Load, 0x7000_0010, 8, 9],
      ]),
    ];
    for (const pcid of [false, true]) {
      const os = setup(PagingMode.Level4, pcid);
      const p = os.createProcess();
      const result = await runTrace(os, p, batches());
      expect(result).toEqual({ records: 7, accesses: 7, addressSpaces: 2 });
      expect(os.counters.processesCreated).toBe(2);
      expect(os.counters.contextSwitches).toBe(4);
      // With PCIDs, returning to a process whose PCID this CPU still holds keeps its translations
      // (SDM vol. 3A §4.10.4.1): 9->5 and the second 5->9. Without, every switch flushes.
      expect(os.counters.noFlushSwitches).toBe(pcid ? 2 : 0);
      // Two address spaces, each faulting in its own code and data pages.
      expect(os.counters.demandZeroFaults).toBe(4);
      const q = os.currentProcess(0);
      expect(q).not.toBe(p);
      expect(q).not.toBeNull();
      expect(os.translate(p, 0x7000_0000)).not.toBe(os.translate(q!, 0x7000_0000));
    }
  });

  it('a trace without ASIDs runs in one address space', async () => {
    const os = setup();
    const result = await runTrace(os, os.createProcess(), twoBatches());
    expect(result.addressSpaces).toBe(1);
    expect(os.counters.contextSwitches).toBe(1);
  });
});
