import {
  AccessKind,
  Cr0,
  Cr4,
  Efer,
  FrameAllocator,
  PageTableBuilder,
  PagingMode,
  PteFlag,
} from '@hvsim/cpu-core';
import {
  HostMachine,
  type VirtualCpu,
  type VirtualizationExtension,
  type VirtualMachine,
} from '@hvsim/hypervisor';
import { TranslateStatus } from '@hvsim/mmu-nested';
import { GuestAccess } from '@hvsim/platform';
import type { CpuCacheConfig } from '@hvsim/tlb-tagged';
import { PageSize, skylakeTlb, WalkEntry } from '@hvsim/tlb-tagged';
import { SvmExtension } from '@hvsim/vendor-amd';
import { VmxExtension } from '@hvsim/vendor-intel';
import { describe, expect, it } from 'vitest';

/*
 * The hypervisor with the real vendor extensions. World switches: with ASIDs/VPIDs a guest's
 * translations survive a switch to another guest and back (AMD APM vol. 2 §15.16; Intel SDM vol. 3C
 * §29.4); without tags every switch flushes them. Isolation: in random runs of several VMs with
 * remaps, unmaps, id rollovers and migrations, every completed guest access lands exactly where the
 * VM's guest-physical page is mapped now, so no TLB hit crosses VMs or outlives an unmapping.
 */

const caches: CpuCacheConfig = {
  tlb: skylakeTlb.config,
  walkCache: {
    levels: [
      { kind: WalkEntry.Pde, entries: 32, ways: 4 },
      { kind: WalkEntry.Pdpte, entries: 4, ways: 4 },
      { kind: WalkEntry.Pml4e, entries: 2, ways: 2 },
    ],
  },
  nestedTlb: { name: 'nested TLB', entries: 32, ways: 4, pageSizes: [PageSize.Size4K, PageSize.Size2M] },
};

const vendors: Array<[string, (tagged: boolean) => VirtualizationExtension]> = [
  ['AMD SVM', (tagged) => new SvmExtension({ capabilities: { asidTagging: tagged } })],
  ['Intel VMX', (tagged) => new VmxExtension({ capabilities: { vpid: tagged } })],
];

function firstAccessAfterSwitch(extension: VirtualizationExtension): {
  hit: boolean;
  stats: HostMachine['stats'];
} {
  const host = new HostMachine({ extension, caches });
  const a = host.createVm({ memorySize: 0x40_0000 }).createVcpu();
  const b = host.createVm({ memorySize: 0x40_0000 }).createVcpu();
  const out = new GuestAccess();
  a.run(host.cpus[0]);
  expect(a.access(0x1234, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
  a.stop();
  b.run(host.cpus[0]);
  b.access(0x1234, AccessKind.Read, out);
  b.stop();
  a.run(host.cpus[0]);
  a.access(0x1234, AccessKind.Read, out);
  return { hit: out.translation.tlbHit, stats: host.stats };
}

describe('world switches and tags', () => {
  for (const [name, make] of vendors) {
    it(`${name}: with tags a guest's translation survives a switch to another VM and back`, () => {
      const { hit, stats } = firstAccessAfterSwitch(make(true));
      expect(hit).toBe(true);
      expect(stats.entryFlushes).toBe(0);
    });

    it(`${name}: without tags every world switch flushes it`, () => {
      const { hit, stats } = firstAccessAfterSwitch(make(false));
      expect(hit).toBe(false);
      expect(stats.entryFlushes).toBeGreaterThanOrEqual(3);
    });
  }
});

describe('shootdowns reach running vCPUs', () => {
  for (const [name, make] of vendors) {
    for (const tagged of [true, false]) {
      it(`${name}, ${tagged ? 'tagged' : 'untagged'}: a vCPU running on another CPU sees the new mapping after the shootdown`, () => {
        // Two vCPUs of one guest on two CPUs, one address space. vCPU B caches the page; A remaps it
        // and shoots it down: B's INVLPG in the IPI handler (or INVLPGA / INVVPID on its behalf)
        // removes the translation (SDM vol. 3A §4.10.5, §4.10.4.1; vol. 3C §29.4.3.1; APM vol. 2 §15.16).
        const host = new HostMachine({ extension: make(tagged), caches, cpus: 2 });
        const vm = host.createVm({ memorySize: 0x40_0000 });
        const a = vm.createVcpu();
        const b = vm.createVcpu();
        a.run(host.cpus[0]);
        b.run(host.cpus[1]);
        const memory = {
          readWord: (address: number) => a.readPhysical(address),
          writeWord: (address: number, value: number) => a.writePhysical(address, value),
        };
        const frames = new FrameAllocator(0x10_0000, 0x20_0000);
        const tables = new PageTableBuilder(memory, PagingMode.Level4, () => frames.allocate());
        const page = 0x40_0000;
        tables.map(page, 0x30_0000);
        const regs = { cr0: (Cr0.PE | Cr0.PG) >>> 0, cr3: tables.root, cr4: Cr4.PAE, efer: Efer.LME };
        expect(a.setControlRegisters(regs)).toBe(TranslateStatus.Ok);
        expect(b.setControlRegisters(regs)).toBe(TranslateStatus.Ok);
        const out = new GuestAccess();
        expect(b.access(page + 8, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
        expect(b.access(page + 8, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
        expect([out.translation.tlbHit, out.translation.guestPhysical]).toEqual([true, 0x30_0008]);
        // A points the page elsewhere and shoots the old translation down.
        a.writePhysical(tables.entryAddress(page, 1)!, 0x31_0000 | PteFlag.P | PteFlag.RW | PteFlag.US);
        a.shootdown(page);
        expect(b.access(page + 8, AccessKind.Read, out)).toBe(TranslateStatus.Ok);
        expect(out.translation.guestPhysical).toBe(0x31_0008);
      });
    }
  }
});

/** A small deterministic generator (mulberry32) for the long runs. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Run {
  operations: number;
  accesses: number;
  violations: string[];
  host: HostMachine;
}

function isolationRun(extension: VirtualizationExtension, seed: number, operations: number): Run {
  const host = new HostMachine({ extension, caches, cpus: 2, idPoolSize: 3 });
  const vms: VirtualMachine[] = [
    host.createVm({ memorySize: 0x20_0000 }),
    host.createVm({ memorySize: 0x20_0000 }),
    host.createVm({ memorySize: 0x80_0000, backing: 0x20_0000 }),
  ];
  const vcpus: VirtualCpu[] = vms.flatMap((vm) => [vm.createVcpu(), vm.createVcpu()]);
  const next = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
  const out = new GuestAccess();
  const violations: string[] = [];
  let accesses = 0;
  // A small working set per VM so translations are cached and reused.
  const pages = (vm: VirtualMachine) => Math.min(32, vm.memorySize / 0x1000);
  for (let op = 0; op < operations && violations.length === 0; op++) {
    const r = next();
    if (r < 0.04) {
      const vcpu = pick(vcpus);
      if (vcpu.cpu === null) {
        const cpu = pick(host.cpus);
        if (cpu.current !== null) cpu.current.stop();
        vcpu.run(cpu);
      } else {
        vcpu.stop();
      }
    } else if (r < 0.05) {
      const vm = pick(vms);
      vm.unmap(Math.floor(next() * pages(vm)) * 0x1000);
    } else if (r < 0.06) {
      const vm = pick(vms);
      vm.remap(Math.floor(next() * pages(vm)) * 0x1000);
    } else {
      const cpu = pick(host.cpus);
      const vcpu = cpu.current;
      if (vcpu === null) continue;
      const vm = vcpu.vm;
      const gpa = Math.floor(next() * pages(vm)) * 0x1000 + Math.floor(next() * 0x1000);
      const kind = next() < 0.3 ? AccessKind.Write : AccessKind.Read;
      const status = vcpu.access(gpa, kind, out);
      accesses++;
      if (status !== TranslateStatus.Ok) {
        violations.push(`op ${op}: VM ${vm.id} access to 0x${gpa.toString(16)} ended with status ${status}`);
        continue;
      }
      const hpa = out.translation.hostPhysical;
      const expected = vm.hostAddressOf(gpa);
      const owner = host.frameOwner.get(Math.floor(hpa / 0x1000));
      if (hpa !== expected || owner !== vm.id) {
        violations.push(
          `op ${op}: VM ${vm.id} gpa 0x${gpa.toString(16)} -> host 0x${hpa.toString(16)} (mapped: 0x${expected.toString(16)}, frame owner ${owner}, TLB hit ${out.translation.tlbHit})`,
        );
      }
    }
  }
  return { operations, accesses, violations, host };
}

describe('isolation: random runs of several VMs on two CPUs with remaps, unmaps, rollovers and migrations', () => {
  for (const [name, make] of vendors) {
    it(`${name}: no access lands outside the guest's current mapping in 1,000,000 operations`, () => {
      const run = isolationRun(make(true), name.length * 7919, 1_000_000);
      expect(run.violations).toEqual([]);
      // The run exercised what it claims to: hits, rollovers, migrations, remaps.
      const stats = run.host.stats;
      expect(run.accesses).toBeGreaterThan(600_000);
      expect(stats.tlbHits).toBeGreaterThan(100_000);
      expect(stats.idRollovers).toBeGreaterThan(100);
      expect(stats.migrations).toBeGreaterThan(100);
      expect(stats.pagesPopulated).toBeGreaterThan(1000);
    });

    it(`${name}: and the same without tags`, () => {
      const run = isolationRun(make(false), 17, 50_000);
      expect(run.violations).toEqual([]);
    });
  }
});
