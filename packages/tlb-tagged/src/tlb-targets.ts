import type { PagingStructureCache } from './paging-structure-cache.js';
import type { TlbOrganization } from './tlb-organization.js';

/**
 * The translation structures of one CPU that a control operation (TLB_CONTROL, INVLPGA, INVEPT, INVVPID, a world switch) acts on: the TLB (one
 * `TranslationCache` or a whole `TlbHierarchy`), the guest walk cache, and a nested TLB of
 * guest-physical translations. Each is optional; `null` is accepted too, so the `MmuCaches` of
 * `@hvsim/mmu-nested` and the hypervisor's per-CPU caches can be passed as they are.
 */
export interface TlbTargets {
  readonly tlb?: TlbOrganization | null;
  readonly walkCache?: PagingStructureCache | null;
  readonly nestedTlb?: TlbOrganization | null;
}

/** The flush operations a TLB and a paging-structure cache share. */
export type Flushable = Pick<
  TlbOrganization,
  | 'flushAll'
  | 'flushAddressSpace'
  | 'flushAddressSpaceNonGlobal'
  | 'flushGuests'
  | 'flushAddress'
  | 'flushNestedRoot'
  | 'flushAllNestedRoots'
>;

/**
 * Runs `flush` on the TLB and the walk cache, and on the nested TLB when `nested` is set; returns the
 * number of entries removed in all.
 */
export function flushTargets(targets: TlbTargets, nested: boolean, flush: (t: Flushable) => number): number {
  let n = 0;
  if (targets.tlb) n += flush(targets.tlb);
  if (targets.walkCache) n += flush(targets.walkCache);
  if (nested && targets.nestedTlb) n += flush(targets.nestedTlb);
  return n;
}
