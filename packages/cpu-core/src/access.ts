import { Cr0, Rflags } from './registers.js';

/** The kind of a memory access (Intel SDM vol. 3A §4.6; AMD APM vol. 2 §5.6). */
export const AccessKind = {
  Read: 0,
  Write: 1,
  /** An instruction fetch. */
  Execute: 2,
} as const;
export type AccessKind = (typeof AccessKind)[keyof typeof AccessKind];

/** Names of the access kinds as the scenario format spells them. */
export const accessKindName: Readonly<Record<AccessKind, 'read' | 'write' | 'execute'>> = {
  [AccessKind.Read]: 'read',
  [AccessKind.Write]: 'write',
  [AccessKind.Execute]: 'execute',
};

/**
 * Who makes an access. A user-mode access is one made at CPL 3 that is not an implicit supervisor
 * access; implicit supervisor accesses (to the GDT, IDT, TSS…) are supervisor-mode at any CPL and
 * are denied user pages by SMAP regardless of RFLAGS.AC (SDM vol. 3A §4.6).
 */
export const Privilege = {
  /** An explicit access at CPL 0, 1 or 2. */
  Supervisor: 0,
  /** An explicit access at CPL 3. */
  User: 1,
  /** An implicit supervisor-mode access (at any CPL). */
  ImplicitSupervisor: 2,
} as const;
export type Privilege = (typeof Privilege)[keyof typeof Privilege];

/**
 * The privilege of an explicit access in CPU state `s`: `privilegeOfCpl(s.effectiveCpl)` in one
 * expression, a plain function so the access hot path inlines it (V8 calls a getter it does not
 * inline generically). CR0.PE=0 is real mode, CPL 0; RFLAGS.VM=1 virtual-8086 mode, CPL 3 (SDM
 * vol. 3A §20.1, §20.2).
 */
export function explicitPrivilegeOf(s: {
  readonly cr0: number;
  readonly cpl: number;
  readonly rflags: number;
}): Privilege {
  return (s.cr0 & Cr0.PE) !== 0 && (s.cpl === 3 || (s.rflags & Rflags.VM) !== 0)
    ? Privilege.User
    : Privilege.Supervisor;
}

/** The privilege of an explicit access made at `cpl`. */
export function privilegeOfCpl(cpl: number): Privilege {
  return cpl === 3 ? Privilege.User : Privilege.Supervisor;
}

/** Bits of the #PF error code (Intel SDM vol. 3A §4.7, Figure 4-12; AMD APM vol. 2 §8.4.2). */
export const PfError = {
  /** 0: not present; 1: protection violation (or reserved bit). */
  P: 1 << 0,
  /** The access was a write. */
  W: 1 << 1,
  /** The access was a user-mode access. */
  U: 1 << 2,
  /** A reserved bit was set in a paging-structure entry. */
  RSVD: 1 << 3,
  /** The access was an instruction fetch (reported only with SMEP, or PAE/long paging with NXE). */
  ID: 1 << 4,
  /** A protection-key violation. */
  PK: 1 << 5,
} as const;
