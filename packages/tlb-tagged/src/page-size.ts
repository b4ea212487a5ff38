import { PageSize } from '@hvsim/cpu-core';

/** Page sizes in bytes: cpu-core's `PageSize`, so an MMU passes a walk's page size straight through. */
export { PageSize };

/** Small integer codes of the page sizes, which key entries and index statistics (internal). */
export const SizeCode = { Size4K: 0, Size2M: 1, Size4M: 2, Size1G: 3 } as const;

/** Number of page-size codes. */
export const SIZE_CODE_COUNT = 4;

/** Number of 4 KiB pages in each page size, indexed by code. */
export const spanOfCode: readonly number[] = [1, 512, 1024, 262144];

/** The page size of each code. */
export const pageSizeOfCode: readonly PageSize[] = [
  PageSize.Size4K,
  PageSize.Size2M,
  PageSize.Size4M,
  PageSize.Size1G,
];

/** log2 of each page size, indexed by code. */
export const shiftOfCode: readonly number[] = [12, 21, 22, 30];

/** Names of the page sizes, indexed by code, as statistics snapshots spell them. */
export const sizeCodeName: readonly string[] = ['4K', '2M', '4M', '1G'];

/** The code of a page size, or -1 when `size` is not one. */
export function sizeCode(size: number): number {
  switch (size) {
    case PageSize.Size4K:
      return SizeCode.Size4K;
    case PageSize.Size2M:
      return SizeCode.Size2M;
    case PageSize.Size4M:
      return SizeCode.Size4M;
    case PageSize.Size1G:
      return SizeCode.Size1G;
    default:
      return -1;
  }
}

/** Whether `size` is an x86 page size in bytes. */
export function isPageSize(size: number): size is PageSize {
  return sizeCode(size) >= 0;
}

/** The page size with log2 `shift` (12, 21, 22 or 30), as a cpu-core walk reports it in `pageShift`. */
export function pageSizeFromShift(shift: number): PageSize {
  const size = 2 ** shift;
  if (!isPageSize(size)) throw new RangeError(`no x86 page size has shift ${shift}`);
  return size;
}

/** A page size's short name: "4K", "2M", "4M" or "1G". */
export function pageSizeName(size: PageSize): string {
  return sizeCodeName[sizeCode(size)] ?? `${size}`;
}
