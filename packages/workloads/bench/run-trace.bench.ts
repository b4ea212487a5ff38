/**
 * runTrace records per second, end to end: each record goes through GuestOs.access and the CPU's
 * translation (TLB, walk cache, walk), against a bare loop that reads the same batches' columns and
 * does nothing with them. The ratio is what the guest model plus the platform cost per record.
 *
 * The trace: 1,048,576 records in 16 batches of 65,536, shaped like a program's: 20% instruction
 * fetches from a 64 KiB code region, and loads (60%) and stores (20%) of 8 bytes, 3/4 of them to a
 * 256 KiB hot stack-and-heap region and 1/4 anywhere in a 16 MiB heap, from a seeded generator. A
 * warm-up pass demand-pages every touched page, so the timed runs fault nothing.
 *
 * Configurations: native with the Skylake TLB and a paging-structure cache, native with the TLB
 * only, the same records sent straight to NativeCpu.access (what the platform alone costs, so the
 * guest model's share is the difference), and the guest under AMD NPT (4 KiB nested pages).
 *
 * Run: pnpm --filter @hvsim/workloads bench
 */
import { type AccessKind, Privilege } from '@hvsim/cpu-core';
import { HostMachine } from '@hvsim/hypervisor';
import { GuestAccess, type NativeCpu, NativeMachine } from '@hvsim/platform';
import { compareToBaseline } from '@hvsim/test-utils';
import { PageSize, type PagingStructureCacheConfig, skylakeTlb, WalkEntry } from '@hvsim/tlb-tagged';
import { SvmExtension } from '@hvsim/vendor-amd';
import { GuestOs, Rng, runTraceSync, type TraceBatch, TraceKind } from '../src/index.js';

const BATCHES = 16;
const BATCH = 65_536;
const RECORDS = BATCHES * BATCH;

function makeBatches(): TraceBatch[] {
  const rng = new Rng(2024);
  const code = 0x40_0000;
  const hot = 0x7ffd_0000_0000;
  const heap = 0x5555_0000_0000;
  const batches: TraceBatch[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const kind = new Uint8Array(BATCH);
    const addressLo = new Uint32Array(BATCH);
    const addressHi = new Uint32Array(BATCH);
    const size = new Uint8Array(BATCH);
    for (let i = 0; i < BATCH; i++) {
      const r = rng.below(10);
      let address: number;
      if (r < 2) {
        kind[i] = TraceKind.Fetch;
        address = code + rng.below((64 * 1024) / 4) * 4;
        size[i] = 4;
      } else {
        kind[i] = r < 8 ? TraceKind.Load : TraceKind.Store;
        address =
          rng.below(4) < 3 ? hot + rng.below((256 * 1024) / 8) * 8 : heap + rng.below((16 * 2 ** 20) / 8) * 8;
        size[i] = 8;
      }
      addressHi[i] = Math.floor(address / 2 ** 32);
      addressLo[i] = address % 2 ** 32;
    }
    batches.push({ length: BATCH, kind, addressLo, addressHi, size });
  }
  return batches;
}

const walkCache: PagingStructureCacheConfig = {
  name: 'PSC (assumed geometry)',
  levels: [
    { kind: WalkEntry.Pde, entries: 32, ways: 4 },
    { kind: WalkEntry.Pdpte, entries: 4, ways: 4 },
    { kind: WalkEntry.Pml4e, entries: 2, ways: 2 },
  ],
};

function nativeCase(name: string, withWalkCache: boolean, batches: TraceBatch[]) {
  const machine = new NativeMachine({
    caches: { tlb: skylakeTlb.config, ...(withWalkCache ? { walkCache } : {}) },
  });
  const os = new GuestOs({ cpus: machine.cpus, memoryBytes: 256 * 2 ** 20 });
  const process = os.createProcess();
  runTraceSync(os, process, batches); // warm-up: demand-pages every page the trace touches
  return { name, ops: RECORDS, fn: () => void runTraceSync(os, process, batches) };
}

const batches = makeBatches();
let sink = 0;
const bare = {
  name: 'bare loop over the batches',
  ops: RECORDS,
  fn: () => {
    let s = 0;
    for (const b of batches) {
      const { kind, addressLo, addressHi, size } = b;
      for (let i = 0; i < b.length; i++) {
        s =
          (s +
            (kind[i] as number) +
            (addressLo[i] as number) +
            (addressHi[i] as number) +
            (size[i] as number)) |
          0;
      }
    }
    sink ^= s;
  },
};

/** The same under AMD NPT: a VM with its guest memory backed on demand by 4 KiB nested pages. */
function nptCase(batches: TraceBatch[]) {
  const host = new HostMachine({
    extension: new SvmExtension(),
    caches: {
      tlb: skylakeTlb.config,
      walkCache,
      nestedTlb: {
        name: 'nested TLB (assumed)',
        entries: 32,
        ways: 4,
        pageSizes: [PageSize.Size4K, PageSize.Size2M],
      },
    },
  });
  const vm = host.createVm({ memorySize: 256 * 2 ** 20 });
  const vcpu = vm.createVcpu();
  vcpu.run(host.cpus[0]);
  const os = new GuestOs({ cpus: [vcpu], memoryBytes: 256 * 2 ** 20 });
  const process = os.createProcess();
  runTraceSync(os, process, batches);
  return {
    name: 'AMD NPT, Skylake TLB + walk cache + nested TLB',
    ops: RECORDS,
    fn: () => void runTraceSync(os, process, batches),
  };
}

/** The platform alone: the same records straight to NativeCpu.access (no guest OS, no digest, no splits). */
function directCase(batches: TraceBatch[]) {
  const machine = new NativeMachine({ caches: { tlb: skylakeTlb.config, walkCache } });
  const os = new GuestOs({ cpus: machine.cpus, memoryBytes: 256 * 2 ** 20 });
  runTraceSync(os, os.createProcess(), batches);
  const cpu = machine.cpus[0] as NativeCpu;
  const out = new GuestAccess();
  return {
    name: 'NativeCpu.access directly (TLB + walk cache, no guest OS)',
    ops: RECORDS,
    fn: () => {
      for (const b of batches) {
        const { kind, addressLo, addressHi } = b;
        for (let i = 0; i < b.length; i++) {
          const k = kind[i] as number;
          cpu.access(
            addressLo[i] as number,
            (k === TraceKind.Fetch ? 2 : k) as AccessKind,
            out,
            Privilege.User,
            addressHi[i],
          );
        }
      }
    },
  };
}

await compareToBaseline('runTrace: trace records per second (1 CPU, 4-level paging, 4 KiB pages)', bare, [
  nativeCase('native, Skylake TLB + walk cache', true, batches),
  nativeCase('native, Skylake TLB only', false, batches),
  directCase(batches),
  nptCase(batches),
]);
if (sink === 0x1234_5678) console.log('');
