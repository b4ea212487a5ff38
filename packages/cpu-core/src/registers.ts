/**
 * Bit positions of the control registers, EFER and RFLAGS that paging depends on.
 * Intel SDM vol. 3A §2.5 (control registers), §2.2.1 (EFER); AMD APM vol. 2 §3.1 and §3.1.7.
 * Flags are `const` objects (no enums: erasableSyntaxOnly).
 */
export const Cr0 = {
  /** Protection enable. */
  PE: 1 << 0,
  /** Write protect: supervisor writes honour R/W (SDM §4.6, APM §5.6.4). */
  WP: 1 << 16,
  /** Not write-through (bit 29). */
  NW: 1 << 29,
  /** Cache disable. */
  CD: 1 << 30,
  /** Paging (bit 31; written as a positive number). */
  PG: 0x8000_0000,
} as const;

/** CR4 bits (Intel SDM vol. 3A §2.5; AMD APM vol. 2 §3.1.3). */
export const Cr4 = {
  VME: 1 << 0,
  PSE: 1 << 4,
  PAE: 1 << 5,
  PGE: 1 << 7,
  LA57: 1 << 12,
  VMXE: 1 << 13,
  PCIDE: 1 << 17,
  SMEP: 1 << 20,
  SMAP: 1 << 21,
  PKE: 1 << 22,
} as const;

/** IA32_EFER bits (Intel SDM vol. 3A §2.2.1; AMD APM vol. 2 §3.1.7). */
export const Efer = {
  SCE: 1 << 0,
  LME: 1 << 8,
  LMA: 1 << 10,
  NXE: 1 << 11,
  SVME: 1 << 12,
} as const;

/** RFLAGS bits that paging and the legacy modes depend on (Intel SDM vol. 1 §3.4.3). */
export const Rflags = {
  /** Bit 1 always reads as 1. */
  FIXED: 1 << 1,
  /** Virtual-8086 mode. */
  VM: 1 << 17,
  /** Alignment check / access control: lets explicit supervisor accesses reach user pages under SMAP. */
  AC: 1 << 18,
} as const;
