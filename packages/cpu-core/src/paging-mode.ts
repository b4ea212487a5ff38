import { Cr0, Cr4, Efer } from './registers.js';

/**
 * The paging modes of an x86 CPU (Intel SDM vol. 3A §4.1.1, Table 4-1; AMD APM vol. 2 §5.1).
 * `PagedReal` is AMD's CR0.PE=0, PG=1 mode (APM §15.19); it walks the tables of the mode that CR4.PAE
 * selects, so `pagingModeOf` reports `Legacy32` or `Pae` for it and `isPagedRealMode` tells it apart.
 */
export const PagingMode = {
  /** CR0.PG=0: linear addresses are physical addresses. */
  None: 0,
  /** 32-bit paging: two levels of 4-byte entries, 4 MiB pages with CR4.PSE (SDM §4.3). */
  Legacy32: 1,
  /** PAE paging: four PDPTE registers, then two levels of 8-byte entries (SDM §4.4). */
  Pae: 2,
  /** 4-level paging (IA-32e, long mode) (SDM §4.5). */
  Level4: 3,
  /** 5-level paging, CR4.LA57=1 (SDM §4.5). */
  Level5: 4,
} as const;
export type PagingMode = (typeof PagingMode)[keyof typeof PagingMode];

/** Human-readable names of the paging modes, for reports and errors. */
export const pagingModeName: Readonly<Record<PagingMode, string>> = {
  [PagingMode.None]: 'no paging',
  [PagingMode.Legacy32]: '32-bit paging',
  [PagingMode.Pae]: 'PAE paging',
  [PagingMode.Level4]: '4-level paging',
  [PagingMode.Level5]: '5-level paging',
};

/**
 * The paging mode that CR0, CR4 and EFER select, exactly as hardware derives it
 * (SDM vol. 3A §4.1.1; EFER.LMA = LME && PG, SDM §9.8.5, APM §14.6): PG=0 none; PAE=0 32-bit;
 * PAE=1 and LMA=0 PAE; LMA=1 4-level, or 5-level with CR4.LA57.
 */
export function pagingModeOf(cr0: number, cr4: number, efer: number): PagingMode {
  if ((cr0 & Cr0.PG) === 0) return PagingMode.None;
  if ((cr4 & Cr4.PAE) === 0) return PagingMode.Legacy32;
  if ((efer & Efer.LME) === 0) return PagingMode.Pae;
  return (cr4 & Cr4.LA57) !== 0 ? PagingMode.Level5 : PagingMode.Level4;
}

/** True for AMD's paged real mode: CR0.PE=0 with CR0.PG=1 (AMD APM vol. 2 §15.19). */
export function isPagedRealMode(cr0: number): boolean {
  return (cr0 & Cr0.PE) === 0 && (cr0 & Cr0.PG) !== 0;
}

/**
 * Why a combination of CR0, CR4 and EFER cannot be the state of a running CPU, or null when it can.
 * The checks are the ones the architecture enforces on the way into such a state:
 * - EFER.LME=1 with CR0.PG=1 requires CR4.PAE=1 (#GP on the MOV to CR0: SDM §9.8.5, APM §14.6.1);
 * - EFER.LME=1, CR0.PG=1 and CR0.PE=0 is an illegal guest state (VMRUN check, APM §15.5.1);
 * - CR0.PG=1 with CR0.PE=0 outside AMD's paged real mode raises #GP (SDM §2.5); `allowPagedReal`
 *   says whether the caller models a VMRUN into paged real mode (APM §15.19).
 * - CR4.LA57 can only change outside long mode, so LA57 without PAE paging cannot have been set with
 *   paging active in long mode (SDM §4.1.1); it is accepted here, as it only matters once LMA=1.
 */
export function controlRegisterProblem(
  cr0: number,
  cr4: number,
  efer: number,
  allowPagedReal: boolean,
): string | null {
  const pg = (cr0 & Cr0.PG) !== 0;
  const pe = (cr0 & Cr0.PE) !== 0;
  const lme = (efer & Efer.LME) !== 0;
  if (pg && lme && (cr4 & Cr4.PAE) === 0) return 'EFER.LME=1 with CR0.PG=1 requires CR4.PAE=1';
  if (pg && lme && !pe) return 'EFER.LME=1 with CR0.PG=1 and CR0.PE=0 is an illegal state';
  if (pg && !pe && !allowPagedReal) return 'CR0.PG=1 with CR0.PE=0 is only legal as AMD paged real mode';
  return null;
}
