/*
 * Where each memory reference of a walk sits in the two-dimensional picture (Bhargava et al., ASPLOS
 * 2008, Figure 2): one row per guest level, top level first, and a last row for the final
 * guest-physical address; one column per nested level, top level first, and a last column for the
 * guest entry itself. In a row the CPU first walks the nested tables to find where the guest entry
 * lives in host memory, then reads the guest entry (AMD APM vol. 2 §15.25.5; Intel SDM vol. 3C
 * §29.3.2); the final row is the nested walk of the address the guest walk produced. With 4 guest
 * and 4 nested levels that is 4 x (4 + 1) + 4 = 24 references. Without a second stage the grid is
 * one column of guest entries.
 */

/** One memory reference as the grid needs it. */
export interface GridReference {
  readonly stage: 'guest' | 'nested';
  /** 1 (PTE) to 5; 0 for a whole nested walk that a nested TLB saved. */
  readonly level: number;
  /** Whether a cache saved the reference (it was not made). */
  readonly saved: boolean;
}

/** What a cell shows. */
export type CellState =
  /** A reference the CPU made. */
  | 'made'
  /** A reference a cache saved. */
  | 'saved'
  /** Not needed: a large page ended that walk above this level. */
  | 'large-page'
  /** Not reached: the walk ended with a fault before it. */
  | 'not-reached'
  /** No reference belongs here (the corner of the final row and the guest column). */
  | 'none';

/** A cell: its state and, where one belongs there, the index of its reference. */
export interface GridCell {
  readonly state: CellState;
  /** Index into the walk's references, or null. */
  readonly reference: number | null;
}

/** The shape of a two-dimensional walk. */
export interface GridShape {
  /** The guest levels the guest walk reads from memory, top first (`[4, 3, 2, 1]`; `[]` without guest paging). */
  readonly guestLevels: readonly number[];
  /** The nested levels, top first (`[4, 3, 2, 1]`); empty without a second stage. */
  readonly nestedLevels: readonly number[];
}

/** How the walk ended, as far as the grid cares. */
export interface GridEnd {
  /** The guest walk finished and the final address was (or would be) translated. */
  readonly reachedFinal: boolean;
}

/** A walk laid out as rows (guest levels, then the final address) by columns (nested levels, then the guest entry). */
export interface WalkGridLayout {
  /** Per row: the guest level, or null for the final row. */
  readonly rows: readonly (number | null)[];
  /** Per column: the nested level, or null for the guest-entry column. */
  readonly columns: readonly (number | null)[];
  readonly cells: readonly (readonly GridCell[])[];
  /** The row of each reference. */
  readonly rowOf: readonly number[];
}

/**
 * Lays out a walk's references (in the order the CPU made them) on the grid. Nested references
 * belong to the row of the guest entry they locate; those after the last guest entry belong to the
 * final row when the guest walk finished (`end.reachedFinal`), else to the next guest level's row,
 * whose nested walk faulted.
 */
export function layoutWalk(
  references: readonly GridReference[],
  shape: GridShape,
  end: GridEnd,
): WalkGridLayout {
  const nested = shape.nestedLevels.length > 0;
  const rows: (number | null)[] = [...shape.guestLevels];
  if (nested) rows.push(null);
  const columns: (number | null)[] = [...shape.nestedLevels, null];
  const guestRow = (level: number) => shape.guestLevels.indexOf(level);
  const finalRow = nested ? rows.length - 1 : -1;

  let lastGuest = -1;
  references.forEach((r, i) => {
    if (r.stage === 'guest') lastGuest = i;
  });
  const rowOf: number[] = [];
  let next = 0;
  references.forEach((r, i) => {
    if (r.stage === 'guest') {
      const row = guestRow(r.level);
      rowOf.push(row);
      next = row + 1;
    } else if (i > lastGuest && end.reachedFinal) {
      rowOf.push(finalRow);
    } else {
      rowOf.push(next);
    }
  });

  const cells: GridCell[][] = rows.map((guestLevel, row) => {
    const mine = references.map((r, i) => ({ r, i })).filter(({ i }) => rowOf[i] === row);
    const guestRef = mine.find(({ r }) => r.stage === 'guest');
    const nestedRefs = mine.filter(({ r }) => r.stage === 'nested');
    const wholeWalkSaved = nestedRefs.find(({ r }) => r.level === 0);
    const lowestNested = Math.min(...nestedRefs.filter(({ r }) => r.level > 0).map(({ r }) => r.level));
    // The row's nested walk completed when its guest entry was read, or, in the final row, when the
    // walk did not end there with a fault (the final row's refs are the last ones).
    const nestedDone = guestRef !== undefined || (row === finalRow && mine.length > 0 && end.reachedFinal);
    return columns.map((nestedLevel): GridCell => {
      if (nestedLevel === null) {
        if (guestLevel === null) return { state: 'none', reference: null };
        if (guestRef !== undefined) {
          return { state: guestRef.r.saved ? 'saved' : 'made', reference: guestRef.i };
        }
        return { state: rowState(row), reference: null };
      }
      const ref = nestedRefs.find(({ r }) => r.level === nestedLevel);
      if (ref !== undefined) return { state: ref.r.saved ? 'saved' : 'made', reference: ref.i };
      if (wholeWalkSaved !== undefined) return { state: 'saved', reference: wholeWalkSaved.i };
      // A guest entry a walk cache saved: its nested walk was saved with it.
      if (guestRef?.r.saved) return { state: 'saved', reference: guestRef.i };
      if (mine.length === 0) return { state: rowState(row), reference: null };
      if (nestedLevel < lowestNested && nestedDone) return { state: 'large-page', reference: null };
      return { state: 'not-reached', reference: null };
    });
  });

  /** A row with no reference: below a large guest page (the guest walk finished above it), or past the fault. */
  function rowState(row: number): CellState {
    return end.reachedFinal && row !== finalRow ? 'large-page' : 'not-reached';
  }

  return { rows, columns, cells, rowOf };
}
