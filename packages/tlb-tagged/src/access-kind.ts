/**
 * The kind of a memory access and its names: cpu-core's vocabulary (Intel SDM vol. 3A §4.6; AMD APM
 * vol. 2 §5.6), so an MMU passes its own value straight through. An `Execute` access is looked up in
 * the instruction path of a hierarchy.
 */
export { AccessKind, accessKindName } from '@hvsim/cpu-core';
