/**
 * @hvsim/walk-view: what the CPU does on a TLB miss in a virtual machine, step by step. Turns a
 * scenario's accesses into the two-dimensional walk (guest levels by nested levels, each reference
 * numbered in the order the CPU makes it), decodes every entry and fault code bit by bit, shows what
 * the walk caches save and what the access leaves in the TLBs, and draws it as DOM or as a
 * self-contained HTML page. Browser-safe: no Node API.
 */

/** Decoded values: bit fields with names and meanings. */
export type { BitField, DecodedValue } from './decoded.js';
/** The whole view's data for a scenario (or variants of one), computed ahead as plain JSON. */
export {
  type AccessWalks,
  type ExplainOptions,
  explainScenario,
  type ScenarioVariant,
  type VariantWalks,
  WALK_VIEW_FORMAT,
  type WalkViewDocument,
} from './document.js';
/** EPT entries decoded bit by bit (Intel SDM vol. 3C §29.3.2). */
export { decodeEptEntry, eptLevelName } from './ept-entry.js';
/** One access's walk explained: references, grid, outcome, TLBs; with walk caches on or off. */
export {
  type CacheToggles,
  type CellView,
  type ColumnView,
  cacheMask,
  cachesOfMask,
  type DecodedTable,
  explainAccess,
  levelLabel,
  NO_CACHES,
  type OutcomeView,
  type ReferenceView,
  type RowView,
  type WalkExplanation,
  type WalkShape,
  walkShapeOf,
} from './explain-walk.js';
/**
 * Fault codes decoded bit by bit: the #PF error code (Intel SDM vol. 3A §4.7), EXITINFO1 of
 * #VMEXIT(NPF) (AMD APM vol. 2 §15.25.6), the EPT-violation exit qualification (SDM vol. 3C Table 28-7).
 */
export { decodeEptQualification, decodeNpfExitInfo1, decodePageFaultErrorCode } from './fault-codes.js';
/** The interactive view, built in the DOM. */
export {
  mountWalkView,
  type WalkViewHandle,
  type WalkViewOptions,
  type WalkViewPosition,
} from './mount.js';
/** The view (or a sequence's) as a self-contained HTML page. */
export { type RenderOptions, renderDocumentHtml, renderSequenceHtml, renderWalkHtml } from './render-html.js';
/** Scenarios built from a few choices (the web app's form), with large-page variants. */
export {
  type AccessSpec,
  buildScenario,
  buildScenarioVariants,
  type GuestModeName,
  type MappingSpec,
  type ScenarioSpec,
} from './scenario-builder.js';
/** A sequence with caches, step by step: each step's result, what it removed, what the caches hold. */
export {
  describeResult,
  describeStep,
  explainSequence,
  mountSequenceView,
  type SequenceStepView,
  type SequenceViewDocument,
  type SequenceViewHandle,
  type SequenceViewOptions,
} from './sequence-view.js';
/** The view's style sheet (the walk view's and the sequence view's). */
export { WALK_VIEW_CSS } from './styles.js';
/** What an access leaves in the TLB levels, walk caches and nested TLB. */
export { type TlbEntryView, type TlbStructureView, tlbConfigFor, viewTlb } from './tlb-view.js';
/** Where each reference sits in the grid of guest levels by nested levels. */
export {
  type CellState,
  type GridCell,
  type GridReference,
  type GridShape,
  layoutWalk,
  type WalkGridLayout,
} from './walk-grid.js';
/** x86 paging-structure entries (and AMD nested entries, the same format) decoded bit by bit (SDM vol. 3A §4.3-4.5). */
export { decodeX86Entry, type X86EntryFormat, type X86EntryOptions, x86LevelName } from './x86-entry.js';
