/**
 * The free-form attribute word a TLB entry keeps for the MMU beside its permissions: this package never
 * reads it. The helpers pack the two attributes x86 MMUs usually keep, a protection key (4 bits,
 * SDM vol. 3A §4.6.2) and a memory type (a byte, e.g. the PAT/EPT memory type; SDM vol. 3A §11.12,
 * APM vol. 2 §15.25.8); bits 12-31 stay free for the MMU's own use.
 */
export function packAttributes(protectionKey: number, memoryType: number): number {
  return (protectionKey & 0xf) | ((memoryType & 0xff) << 4);
}

/** The protection key of an attribute word packed by `packAttributes`. */
export function protectionKeyOf(attributes: number): number {
  return attributes & 0xf;
}

/** The memory-type byte of an attribute word packed by `packAttributes`. */
export function memoryTypeOf(attributes: number): number {
  return (attributes >>> 4) & 0xff;
}
