/**
 * Guest accesses per second through the `GuestCpu` seam, one warm working set of 1024 pages of a
 * 4-level guest, every access a TLB miss (no TLB): bare metal (a 4-reference walk), shadow paging (a
 * 4-reference walk of the shadow tables, every shadow entry filled beforehand) and nested paging (a
 * 24-reference two-dimensional walk), AMD and Intel. The ratios show what the seam and each strategy
 * cost per access once the exits are behind; the exits themselves are counted, not timed (see the
 * hypervisor README).
 */
import { AccessKind, Efer } from '@hvsim/cpu-core';
import type { VirtualizationExtension } from '@hvsim/hypervisor';
import { type GuestCpu, NativeMachine } from '@hvsim/platform';
import { compareToBaseline } from '@hvsim/test-utils';
import { SvmExtension } from '@hvsim/vendor-amd';
import { VmxExtension } from '@hvsim/vendor-intel';
import { hostedVcpu, longModeGuest } from './long-mode-guest.js';

const PAGES = 1024;

/** Writes to 1024 pages 17 pages apart (the first call backs every page, sets every dirty bit, fills every shadow entry). */
function guest(cpu: GuestCpu): () => void {
  return longModeGuest(cpu, {
    pages: PAGES,
    stride: 17,
    base: 0x10_0000_0000,
    access: AccessKind.Write,
    efer: Efer.LME | Efer.NXE,
  }).run;
}

function hosted(extension: VirtualizationExtension, paging: 'nested' | 'shadow'): () => void {
  return guest(hostedVcpu(extension, paging));
}

await compareToBaseline(
  `GuestCpu.access, ${PAGES} warm pages, no TLB (a walk per access)`,
  { name: 'native (4 references)', ops: PAGES, fn: guest(new NativeMachine().cpus[0]) },
  [
    { name: 'AMD shadow (4 references)', ops: PAGES, fn: hosted(new SvmExtension(), 'shadow') },
    { name: 'Intel shadow (4 references)', ops: PAGES, fn: hosted(new VmxExtension(), 'shadow') },
    { name: 'AMD NPT (24 references)', ops: PAGES, fn: hosted(new SvmExtension(), 'nested') },
    { name: 'Intel EPT (24 references)', ops: PAGES, fn: hosted(new VmxExtension(), 'nested') },
  ],
);
