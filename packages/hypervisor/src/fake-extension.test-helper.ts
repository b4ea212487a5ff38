import { linearToBigInt, Perm, type WalkTrace } from '@hvsim/cpu-core';
import { NestedAccess, NestedFault, NestedFaultKind, type NestedStage } from '@hvsim/mmu-nested';
import type {
  BackingPageSize,
  CpuTranslationCaches,
  EntryFlush,
  ExitEvent,
  ExitReport,
  NestedTables,
  VirtualizationExtension,
} from './extension.js';

/*
 * The hypervisor's own policy, with a fake extension whose "nested tables" are a map and whose stage
 * looks it up (one reference a translation). It records what the hypervisor asks of the vendor.
 */

export class MapTables implements NestedTables {
  readonly pointer = 0x1000n;
  readonly root = 0x1000;
  readonly map_ = new Map<number, number>();
  map(gpa: number, hpa: number, size: BackingPageSize): void {
    for (let o = 0; o < size; o += 0x1000) this.map_.set(gpa + o, hpa + o);
  }
  unmap(gpa: number, size: BackingPageSize): boolean {
    const had = this.map_.has(gpa);
    for (let o = 0; o < size; o += 0x1000) this.map_.delete(gpa + o);
    return had;
  }
}

export class MapStage implements NestedStage {
  trace: WalkTrace | null = null;
  readonly fault = new NestedFault();
  readonly guestPdptesOnDemand = true;
  readonly tableUpdateChecksWrite = false;
  pageShift = 12;
  perms = Perm.Write | Perm.Execute | Perm.Dirty;
  references = 1;
  readonly tables: MapTables;
  constructor(tables: MapTables) {
    this.tables = tables;
  }
  begin(): void {}
  translate(gpa: number, why: NestedAccess): number {
    const page = this.tables.map_.get(gpa - (gpa % 0x1000));
    if (page === undefined) {
      this.fault.kind = NestedFaultKind.NestedPageFault;
      this.fault.guestPhysical = gpa;
      this.fault.access = why;
      return -1;
    }
    return page + (gpa % 0x1000);
  }
  translateForUpdate(gpa: number): number {
    return this.translate(gpa, NestedAccess.GuestTable);
  }
}

export class FakeExtension implements VirtualizationExtension {
  readonly vendor = 'fake';
  readonly tagged: boolean;
  readonly idsPerCpu = 8;
  readonly log: string[] = [];
  constructor(tagged = true) {
    this.tagged = tagged;
  }
  createNestedTables(): NestedTables {
    return new MapTables();
  }
  createStage(_memory: unknown, tables: NestedTables): NestedStage {
    return new MapStage(tables as MapTables);
  }
  guestContext(caches: CpuTranslationCaches, id: number, pcid: number): number {
    return caches.tlb?.tags.context(id, pcid) ?? 0;
  }
  nestedContext(caches: CpuTranslationCaches, id: number): number {
    return caches.tlb?.tags.nestedContext(id) ?? 0;
  }
  enterGuest(
    _caches: CpuTranslationCaches,
    id: number,
    _tables: NestedTables | null,
    flush: EntryFlush,
  ): void {
    this.log.push(`enter ${id} flush ${flush}`);
  }
  exitGuest(_caches: CpuTranslationCaches, id: number): void {
    this.log.push(`exit ${id}`);
  }
  invalidateNested(): boolean {
    this.log.push('invalidate nested');
    return false;
  }
  invalidatePage(_caches: CpuTranslationCaches, id: number, linear: number | bigint): void {
    this.log.push(`invalidate ${id} 0x${linear.toString(16)}`);
  }
  exitOf(fault: NestedFault): ExitReport {
    return { code: 0x400, name: 'NPF', info1: 0n, info2: BigInt(fault.guestPhysical), missingMapping: true };
  }
  describeExit(event: ExitEvent): ExitReport {
    if (event.kind === 'nested-fault') return this.exitOf(event.fault);
    const info1 =
      event.kind === 'exception'
        ? BigInt(event.errorCode)
        : event.kind === 'invlpg'
          ? linearToBigInt(event.linearLo, event.linearHi)
          : 0n;
    const info2 = event.kind === 'exception' ? linearToBigInt(event.addressLo, event.addressHi) : 0n;
    return { code: 0, name: event.kind, info1, info2, missingMapping: false };
  }
}
