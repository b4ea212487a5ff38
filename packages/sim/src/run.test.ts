import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderJson } from '@hvsim/report';
import { HvsimEncoder, TraceKind } from '@hvsim/traces';
import { afterAll, describe, expect, it } from 'vitest';
import { compare, parseSweepAxis, sweep, sweepGrid } from './compare.js';
import { parseConfig } from './config.js';
import { MAX_LINE_CHARS } from './config-text.js';
import { listPresets, loadPreset } from './presets.js';
import { runConfig, type WorkloadSpec } from './run.js';

const small: WorkloadSpec = { kind: 'workload', name: 'zipf', accesses: 4000 };
const work = mkdtempSync(join(tmpdir(), 'hvsim-sim-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('every preset', () => {
  for (const preset of listPresets()) {
    it(`${preset.name} runs a small workload and counts what it should`, async () => {
      const config = loadPreset(preset.name);
      const run = await runConfig(config, small, { seed: 3 });
      expect(run.config).toBe(preset.name);
      // The workload's own accesses, each counted once by the platform (retries after a nested
      // fault are not new accesses), plus the guest kernel's.
      expect(run.accesses).toBeGreaterThanOrEqual(4000);
      expect(run.tlbHits + run.walks).toBeGreaterThanOrEqual(run.accesses);
      expect(run.cyclesPerAccess).toBeGreaterThan(0);
      // The levels add up: each access ends with at most one hit, at one level, so the levels' hits
      // are the run's hits, and over the same accesses their rates are the overall rate.
      expect(run.tlbLevels.reduce((sum, level) => sum + level.hits, 0)).toBe(run.tlbHits);
      for (const level of run.tlbLevels) expect(level.hitRate).toBe(level.hits / run.accesses);
      expect(run.tlbHitRate).toBe(run.tlbHits / run.accesses);
      expect(run.guest.pageFaults).toBeGreaterThan(0);
      if (config.mmu === 'native') {
        // Bare metal: no hypervisor, so no world switches or exits.
        expect(run.exits).toBe(0);
        expect(run.worldSwitches).toBe(0);
        // A 4-level walk makes at most 4 references.
        expect(run.referencesPerWalk).toBeLessThanOrEqual(4);
        // The guest OS loads its control registers once per CPU at boot, which flushes the TLB (SDM
        // vol. 3A §4.10.4.1): the only flush on bare metal.
        expect(run.tlbFlushes).toBe(config.cpus);
      } else {
        expect(run.worldSwitches).toBeGreaterThan(0);
        // Untagged, every VM entry flushes, not only the scheduling ones: every guest shares one id
        // (APM vol. 2 §15.16: TLB_CONTROL 1 on each VMRUN; SDM vol. 3C §29.4.3.1 without VPIDs).
        // Tagged, with one VM and a pool of thousands of ids, none does.
        const timerExits = run.exitsByKind['external interrupt'] ?? 0;
        expect(timerExits).toBe(Math.floor((run.accesses - 1) / config.timer.interval));
        if (config.tagging) expect(run.entryFlushes).toBe(0);
        else expect(run.entryFlushes).toBe(run.worldSwitches);
        // What the TLB saw: with tags it keeps its entries across world switches; only the guest's
        // boot-time loads of its control registers (and, under shadow paging, of its first CR3)
        // flush it, as they would on bare metal. Without VPIDs every VM entry
        // and every VM exit flushes VPID 0's mappings (SDM vol. 3C §29.4.3.1); without ASIDs the
        // hypervisor's TLB_CONTROL flushes at least on the entries it asks for (APM vol. 2 §15.16.1).
        if (config.tagging) expect(run.tlbFlushes).toBeLessThanOrEqual(2);
        else if (config.vendor === 'intel')
          expect(run.tlbFlushes).toBeGreaterThanOrEqual(run.worldSwitches + run.exits);
        else expect(run.tlbFlushes).toBeGreaterThanOrEqual(run.entryFlushes);
      }
      if (config.mmu === 'nested') {
        // A nested walk of a 4-level guest over 4-level nested tables makes at most 24 references
        // ((4 + 1) x (4 + 1) - 1), fewer with 2 MiB nested pages ((4 + 1) x (3 + 1) - 1 = 19).
        expect(run.referencesPerWalk).toBeLessThanOrEqual(config.backing === '4K' ? 24 : 19);
        expect(run.referencesPerWalk).toBeGreaterThan(4);
        expect(run.exitsByKind[config.vendor === 'amd' ? 'NPF' : 'EPT violation']).toBeGreaterThan(0);
      }
    });
  }
});

describe('runs', () => {
  it('are deterministic: the same configuration, workload and seed give the same report, byte for byte', async () => {
    const configs = [loadPreset('native'), loadPreset('npt-4k-untagged'), loadPreset('ept-2m')];
    const a = await compare(configs, small, { seed: 9, workers: 1 });
    const b = await compare(configs, small, { seed: 9, workers: 1 });
    expect(renderJson(a)).toBe(renderJson(b));
    const c = await compare(configs, small, { seed: 10, workers: 1 });
    expect(renderJson(c)).not.toBe(renderJson(a));
  });

  it('take a timer exit every interval, each a world switch', async () => {
    const every = (interval: number) =>
      parseConfig(`mmu: nested\nvendor: intel\ntimer: { interval: ${interval} }`, `t${interval}.yaml`);
    const off = await runConfig(every(0), small);
    const on = await runConfig(every(1000), small);
    expect(off.exitsByKind['external interrupt']).toBeUndefined();
    // The first access enters the guest; after it, every 1000th access is preceded by a timer exit.
    expect(on.exitsByKind['external interrupt']).toBe(Math.floor((on.accesses - 1) / 1000));
    expect(on.worldSwitches - off.worldSwitches).toBe(on.exitsByKind['external interrupt']);
  });

  it('put two VMs on one CPU and switch between them; untagged, each switch flushes', async () => {
    const two = (tagging: boolean) =>
      parseConfig(
        `mmu: nested\nvendor: amd\nvms: 2\ntagging: ${tagging}\ntimer: { interval: 0 }`,
        'two.yaml',
      );
    const tagged = await runConfig(two(true), small);
    const untagged = await runConfig(two(false), small);
    // Both guests boot first (each GuestOs loads its control registers on its vCPU), then VM 1 runs
    // the workload, then VM 2: VM 1 in, VM 2 in (VM 1 out), VM 1 in (VM 2 out), VM 2 in (VM 1 out).
    // Three descheduling exits; untagged, each of the four schedule-ins flushes, and so does every
    // other entry (after the nested faults that back guest memory).
    expect(tagged.exitsByKind['external interrupt']).toBe(3);
    expect(tagged.entryFlushes).toBe(0);
    expect(untagged.entryFlushes).toBe(untagged.worldSwitches);
    expect(untagged.entryFlushes).toBeGreaterThanOrEqual(4);
    expect(untagged.worldSwitches).toBe(tagged.worldSwitches);
    expect(tagged.guest.pageFaults).toBeGreaterThan(0);
  });

  it('compare fills in the overhead against native', async () => {
    const report = await compare([loadPreset('native'), loadPreset('npt-4k')], small, { workers: 1 });
    expect(report.runs[0].overheadVsNative).toBe(1);
    expect(report.runs[1].overheadVsNative).toBeCloseTo(
      report.runs[1].cyclesPerAccess / report.runs[0].cyclesPerAccess,
      12,
    );
    expect(report.workload).toMatchObject({ name: 'zipf', seed: 1 });
    expect(report.workload.description).toMatch(/ \(4,000 accesses asked for\)$/);
  });

  it('count the accesses a churn makes: the round it is in finished, up to 115 past those asked for', async () => {
    // A round: 16 child accesses, 4 of the shell's, 32 fetches of the new image, 64 heap writes.
    const churn: WorkloadSpec = { kind: 'workload', name: 'process-churn', accesses: 1000 };
    const run = await runConfig(loadPreset('native'), churn);
    expect(run.workloadAccesses).toBeGreaterThanOrEqual(1000);
    expect(run.workloadAccesses).toBeLessThanOrEqual(1000 + 115);
  });

  it('reject an unknown workload by naming the ones there are', async () => {
    await expect(runConfig(loadPreset('native'), { kind: 'workload', name: 'nope' })).rejects.toThrow(
      /^no workload named "nope"; there are: sequential, /,
    );
  });

  it('run a lackey trace', async () => {
    const path = join(work, 't.lackey');
    // Four records: a fetch, a load, a store and a modify, in lackey's format.
    writeFileSync(path, 'I  00401000,4\n L 01000000,8\n S 01000008,8\n M 01001000,4\n');
    const progress: number[] = [];
    const run = await runConfig(
      loadPreset('native'),
      { kind: 'trace', path },
      { onProgress: (n) => progress.push(n) },
    );
    // A modify is a load and a store: five guest accesses.
    expect(run.guest.accesses).toBe(5);
    // Progress on a trace is the bytes of the file read: all of them at the end.
    expect(progress.at(-1)).toBe(statSync(path).size);
    // Skip the fetch and keep two records (the load and the store): two accesses; the modify is cut.
    const window = await runConfig(loadPreset('native'), { kind: 'trace', path, skip: 1, records: 2 });
    expect(window.guest.accesses).toBe(2);
    // From the third record on: the store and the modify, three accesses.
    const tail = await runConfig(loadPreset('native'), { kind: 'trace', path, skip: 2 });
    expect(tail.guest.accesses).toBe(3);
  });

  it('measure progress on a compressed hvsim trace by its records, not by its bytes, all read at once', async () => {
    // 200,000 loads a cache line apart: four batches, in a file of a few kilobytes.
    const encoder = new HvsimEncoder();
    for (let i = 0; i < 200_000; i++) encoder.push(TraceKind.Load, 0x1000_0000 + 64 * i, 0, 8);
    encoder.finish();
    const path = join(work, 'loads.hvt');
    writeFileSync(path, encoder.takeBytes());
    const size = statSync(path).size;
    expect(size).toBeLessThan(1 << 20); // one read takes the whole file
    const progress: number[] = [];
    await runConfig(loadPreset('native'), { kind: 'trace', path }, { onProgress: (n) => progress.push(n) });
    expect(progress.length).toBeGreaterThan(2);
    expect(progress[0]).toBeLessThan(size / 2);
    expect(progress.at(-1)).toBe(size);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1]);
  });
});

describe('traces on several VMs', () => {
  it('take turns batch by batch, switching the CPU between the VMs, deterministically', async () => {
    const path = join(work, 'long.lackey');
    // 150,000 loads and stores over 64 pages: three batches of at most 65,536 records for each VM.
    const lines: string[] = [];
    for (let i = 0; i < 150_000; i++)
      lines.push(` ${i % 3 === 0 ? 'S' : 'L'} ${(0x0100_0000 + ((i * 72) % 0x4_0000)).toString(16)},8`);
    writeFileSync(path, `${lines.join('\n')}\n`);
    const two = (tagging: boolean) =>
      parseConfig(
        `mmu: nested\nvendor: amd\nvms: 2\ntagging: ${tagging}\ntimer: { interval: 0 }`,
        'two.yaml',
      );
    const one = await runConfig(parseConfig('mmu: nested\nvendor: amd\ntimer: { interval: 0 }'), {
      kind: 'trace',
      path,
    });
    const tagged = await runConfig(two(true), { kind: 'trace', path });
    const untagged = await runConfig(two(false), { kind: 'trace', path });
    expect(tagged.guest.accesses).toBe(2 * one.guest.accesses);
    // The VMs' batches alternate A1 B1 A2 B2 A3 B3: at least five switches from one VM to the other,
    // each descheduling the VM that ran (an external-interrupt exit), on top of the switches
    // while the two guests boot.
    const switches = tagged.exitsByKind['external interrupt'];
    expect(switches).toBeGreaterThanOrEqual(5);
    expect(one.exitsByKind['external interrupt']).toBeUndefined();
    // Untagged, every entry flushes (each schedule-in, one more than the schedule-outs, among
    // them); tagged, none.
    expect(untagged.exitsByKind['external interrupt']).toBe(switches);
    expect(untagged.entryFlushes).toBe(untagged.worldSwitches);
    expect(untagged.entryFlushes).toBeGreaterThanOrEqual(switches + 1);
    expect(tagged.entryFlushes).toBe(0);
    expect(untagged.walks).toBeGreaterThan(tagged.walks);
    const again = await runConfig(two(true), { kind: 'trace', path });
    expect(again).toEqual(tagged);
  });
});

describe('sweeps', () => {
  it('build the grid with the last axis varying fastest, named after its values', () => {
    const grid = sweepGrid(loadPreset('npt-4k'), [
      parseSweepAxis('tlb=skylake,zen'),
      parseSweepAxis('backing=4K,2M'),
    ]);
    expect(grid.map((c) => c.name)).toEqual([
      'npt-4k tlb=skylake backing=4K',
      'npt-4k tlb=skylake backing=2M',
      'npt-4k tlb=zen backing=4K',
      'npt-4k tlb=zen backing=2M',
    ]);
    expect(grid.map((c) => [c.tlb, c.backing])).toEqual([
      ['skylake', '4K'],
      ['skylake', '2M'],
      ['zen', '4K'],
      ['zen', '2M'],
    ]);
    expect(parseSweepAxis('guest.hugePages=false,true')).toEqual({
      path: 'guest.hugePages',
      values: [false, true],
    });
    expect(() => sweepGrid(loadPreset('npt-4k'), [parseSweepAxis('backing=3M')])).toThrow(
      /sweep point "npt-4k backing=3M": backing: expected a nested page size/,
    );
  });

  it('take structured values, split at the commas outside braces, brackets and quotes', () => {
    const axis = parseSweepAxis('nestedTlb=none,{entries: 32, ways: 4},{ entries: 64, ways: 8 }');
    expect(axis.values).toEqual(['none', { entries: 32, ways: 4 }, { entries: 64, ways: 8 }]);
    const grid = sweepGrid(loadPreset('npt-4k'), [axis]);
    expect(grid.map((c) => c.name)).toEqual([
      'npt-4k nestedTlb=none',
      'npt-4k nestedTlb={"entries":32,"ways":4}',
      'npt-4k nestedTlb={"entries":64,"ways":8}',
    ]);
    expect(parseSweepAxis("description='a, b',c").values).toEqual(['a, b', 'c']);
    expect(() => parseSweepAxis('nestedTlb={entries: 32')).toThrow(
      '--set nestedTlb={entries: 32: an unclosed bracket or brace',
    );
    expect(() => parseSweepAxis('tlb=zen,,skylake')).toThrow('--set tlb=zen,,skylake: value 2 is empty');
  });

  it('read each value with the configuration reader and its bounds (issue 18, item 3)', () => {
    // A tag outside YAML 1.2's core schema means nothing to a configuration: refused, not read as text.
    expect(() => parseSweepAxis('description=x,!!js/function f')).toThrow(
      /^--set description: value 2 \(!!js\/function f\) is refused: .*tag/,
    );
    // A line longer than a configuration's longest allowed line is refused before any parsing.
    const long = 'a'.repeat(MAX_LINE_CHARS + 1);
    expect(() => parseSweepAxis(`description=${long}`)).toThrow(
      /^--set description: value 1 \(a{60}\.\.\.\) is refused: /,
    );
    // Aliases need an anchor in the same value; one without is an error, never the library's ReferenceError.
    expect(() => parseSweepAxis('nestedTlb=*x')).toThrow(/^--set nestedTlb: value 1 \(\*x\) is refused: /);
  });

  it('merge results from worker threads in grid order, the same as on one thread', async () => {
    const axes = [parseSweepAxis('tagging=true,false'), parseSweepAxis('backing=4K,2M')];
    const threaded = await sweep(loadPreset('npt-4k'), axes, small, { workers: 2 });
    const single = await sweep(loadPreset('npt-4k'), axes, small, { workers: 1 });
    expect(threaded.runs.map((r) => r.config)).toEqual(
      sweepGrid(loadPreset('npt-4k'), axes).map((c) => c.name),
    );
    expect(renderJson(threaded)).toBe(renderJson(single));
  });
});

/**
 * ChampSim CloudSuite records (ChampSim's `cloudsuite_instr`, inc/trace_instruction.h, 96 bytes with
 * the x86-64 ABI's padding): ip u64 @0, source_memory[0] u64 @56, asid[0] and asid[1] @88 and @89;
 * the rest zero. Each record here is an instruction with one load, both accesses in one ASID.
 */
function cloudSuite(records: Array<{ ip: number; load: number; asid: number }>): Uint8Array {
  const bytes = new Uint8Array(records.length * 96);
  const view = new DataView(bytes.buffer);
  records.forEach(({ ip, load, asid }, r) => {
    view.setBigUint64(r * 96, BigInt(ip), true);
    view.setBigUint64(r * 96 + 56, BigInt(load), true);
    bytes[r * 96 + 88] = asid;
    bytes[r * 96 + 89] = asid;
  });
  return bytes;
}

describe('a trace with ASIDs', () => {
  it('runs each ASID as its own guest process, switching where the ASID changes, with PCIDs as configured', async () => {
    const path = join(work, 'two.cloudsuite');
    // ASIDs 1 1 2 2 1 2, the same addresses in both: two processes, and after the first switch
    // (to the trace's first process) one switch per change of ASID: 1 + 3.
    const asids = [1, 1, 2, 2, 1, 2];
    writeFileSync(
      path,
      cloudSuite(asids.map((asid, i) => ({ ip: 0x40_1000 + 4 * i, load: 0x7000_0000 + 8 * i, asid }))),
    );
    const spec: WorkloadSpec = { kind: 'trace', path, format: 'champsim-cloudsuite' };
    for (const pcid of [false, true]) {
      const config = parseConfig(`mmu: nested\nvendor: intel\nguest: { pcid: ${pcid} }`, 'pcid.yaml');
      const run = await runConfig(config, spec);
      expect(run.guest.accesses).toBe(12);
      expect(run.guest.processesCreated).toBe(2);
      expect(run.guest.contextSwitches).toBe(4);
      // Back to a process whose PCID the CPU still holds (2->1, then 1->2): no flush (SDM vol. 3A §4.10.4.1).
      expect(run.guest.noFlushSwitches ?? 0).toBe(pcid ? 2 : 0);
      // Each address space faults in its own code and data page.
      expect(run.guest.demandZeroFaults).toBe(4);
    }
    // Not named, the format is not guessed.
    await expect(runConfig(loadPreset('native'), { kind: 'trace', path })).rejects.toThrow(
      /the format must be named: .*--format champsim-cloudsuite/,
    );
  });
});
