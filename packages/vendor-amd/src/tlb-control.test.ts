import { makeCaches, type Planted, plant, survivors } from '@hvsim/test-utils';
import { AccessKind, Need, PageSize, TagTable, TLB_MISS, TlbHierarchy, zenTlb } from '@hvsim/tlb-tagged';
import { describe, expect, it } from 'vitest';
import { applyTlbControl, TlbControl, TlbControlAction, tlbControlAction } from './tlb-control.js';

/*
 * What survives VMRUN with each TLB_CONTROL value (AMD APM vol. 2 §15.16.1, Table 15-9):
 * 00h nothing flushed; 01h everything, every ASID, global and non-global; 03h every entry of the
 * guest's ASID; 07h the guest's non-global entries. "Global page table entries are global only within
 * an ASID" (§15.16), so other ASIDs' globals always survive 03h and 07h. Under nested paging an ASID
 * tags the guest-physical space (§15.25.1): 03h also removes the guest's nested translations.
 */

const GUEST = 1;
const OTHER = 2;

const plan: readonly Planted[] = [
  { name: 'host page', where: 'tlb', asid: 0, vpn: 0x100 },
  { name: 'host global', where: 'tlb', asid: 0, vpn: 0x101, global: true },
  { name: 'guest page', where: 'tlb', asid: GUEST, vpn: 0x100 },
  { name: 'guest page, PCID 5', where: 'tlb', asid: GUEST, pcid: 5, vpn: 0x102 },
  { name: 'guest 2M page', where: 'tlb', asid: GUEST, vpn: 0x40_0000 / 4096, size: PageSize.Size2M },
  { name: 'guest global', where: 'tlb', asid: GUEST, vpn: 0x103, global: true },
  { name: 'guest walk-cache PDE', where: 'walk', asid: GUEST, vpn: 0x100 },
  { name: 'guest nested translation', where: 'nested', asid: GUEST, vpn: 0x200 },
  { name: 'other page', where: 'tlb', asid: OTHER, vpn: 0x100 },
  { name: 'other global', where: 'tlb', asid: OTHER, vpn: 0x103, global: true },
  { name: 'other walk-cache PDE', where: 'walk', asid: OTHER, vpn: 0x100 },
  { name: 'other nested translation', where: 'nested', asid: OTHER, vpn: 0x200 },
];

const everything = plan.map((p) => p.name);
const exceptGuest = (names: readonly string[]) => everything.filter((n) => !names.includes(n));

function run(value: number, caps = {}) {
  const caches = makeCaches();
  plant(caches, plan);
  const outcome = applyTlbControl(value, GUEST, caches, caps);
  return { outcome, left: survivors(caches, plan) };
}

describe('TLB_CONTROL on VMRUN (APM vol. 2 §15.16.1, Table 15-9)', () => {
  it('00h flushes nothing', () => {
    const { outcome, left } = run(TlbControl.DoNotFlush);
    expect(outcome).toEqual({ action: TlbControlAction.None, defined: true, removed: 0 });
    expect(left).toEqual(everything);
  });

  it('01h flushes the entire TLB: every ASID, global and non-global', () => {
    const { outcome, left } = run(TlbControl.FlushAll);
    expect(outcome.action).toBe(TlbControlAction.FlushAll);
    expect(outcome.defined).toBe(true);
    expect(outcome.removed).toBe(plan.length);
    expect(left).toEqual([]);
  });

  it("03h flushes this guest's entries: all of its ASID, globals and nested translations too", () => {
    const { outcome, left } = run(TlbControl.FlushGuest);
    expect(outcome.action).toBe(TlbControlAction.FlushAsid);
    expect(left).toEqual(
      exceptGuest([
        'guest page',
        'guest page, PCID 5',
        'guest 2M page',
        'guest global',
        'guest walk-cache PDE',
        'guest nested translation',
      ]),
    );
  });

  it("07h flushes this guest's non-global entries; its globals stay, and no other ASID is touched", () => {
    const { outcome, left } = run(TlbControl.FlushGuestNonGlobal);
    expect(outcome.action).toBe(TlbControlAction.FlushAsidNonGlobal);
    // Walk-cache entries are never global; nested translations are kept (they are not linear entries).
    expect(left).toEqual(
      exceptGuest(['guest page', 'guest page, PCID 5', 'guest 2M page', 'guest walk-cache PDE']),
    );
  });

  it('03h and 07h need FlushByAsid: without it they are not defined and flush everything', () => {
    for (const value of [TlbControl.FlushGuest, TlbControl.FlushGuestNonGlobal]) {
      const { outcome, left } = run(value, { features: { FlushByAsid: false } });
      expect(outcome).toMatchObject({ action: TlbControlAction.FlushAll, defined: false });
      expect(left).toEqual([]);
    }
  });

  it('reserved encodings are not VMRUN failures; they are reported undefined and flush everything', () => {
    for (const value of [0x02, 0x04, 0x05, 0x06, 0x08, 0xff]) {
      expect(tlbControlAction(value)).toEqual({ action: TlbControlAction.FlushAll, defined: false });
    }
    expect(run(0x02).left).toEqual([]);
    expect(() => tlbControlAction(0x100)).toThrow(RangeError);
  });

  it('acts on a whole hierarchy (Zen preset) through the same interface', () => {
    const tags = new TagTable();
    const tlb = new TlbHierarchy(zenTlb.config, tags);
    const guest = tags.context(GUEST, 0);
    const other = tags.context(OTHER, 0);
    tlb.fill(guest, 0x100, AccessKind.Read, PageSize.Size4K, 0x5000, 0);
    tlb.fill(other, 0x100, AccessKind.Read, PageSize.Size4K, 0x6000, 0);
    applyTlbControl(TlbControl.FlushGuest, GUEST, { tlb });
    expect(tlb.lookup(guest, 0x100, AccessKind.Read, Need.Read)).toBe(TLB_MISS);
    expect(tlb.lookup(other, 0x100, AccessKind.Read, Need.Read)).toBe(0x6000);
  });
});
