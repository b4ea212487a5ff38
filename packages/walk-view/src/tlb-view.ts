/*
 * What an access leaves in the TLB levels, walk caches and nested TLB: the view of @hvsim/scenario,
 * where `hvsim translate --explain` shows the same contents step by step.
 */
export { type TlbEntryView, type TlbStructureView, tlbConfigFor, viewTlb } from '@hvsim/scenario';
