import type { Scenario } from '@hvsim/scenario';
import type { DecodedValue } from './decoded.js';
import {
  cachesOfMask,
  type DecodedTable,
  explainAccess,
  type WalkExplanation,
  walkShapeOf,
} from './explain-walk.js';

/** The format tag of a walk-view document. */
export const WALK_VIEW_FORMAT = 'hvsim.walk-view/1';

/** One access of a variant: its label and its walk under every combination of the cache toggles. */
export interface AccessWalks {
  /** `#1 write 0x1008 at CPL 3: nested-page-fault`. */
  readonly label: string;
  /** Indexed by `cacheMask`: 8 combinations with a second stage, 2 (guest walk cache) without. */
  readonly walks: readonly WalkExplanation[];
}

/** A scenario to show, with a label; several make a document whose variants the reader switches between. */
export interface ScenarioVariant {
  /** `4 KiB guest pages, 2 MiB nested pages`. */
  readonly label: string;
  readonly scenario: Scenario;
}

/** One scenario's walks in a document. */
export interface VariantWalks {
  readonly label: string;
  /** The scenario's `name`, or ''. */
  readonly name: string;
  readonly vendor: 'amd' | 'intel';
  readonly guestMode: string;
  readonly nestedMode: string | null;
  readonly accesses: readonly AccessWalks[];
}

/**
 * Everything the view shows, computed ahead: plain JSON, so it can be embedded in a page
 * (`renderWalkHtml`) or handed to `mountWalkView` directly. Entry decodings are stored once, keyed.
 */
export interface WalkViewDocument {
  readonly format: typeof WALK_VIEW_FORMAT;
  readonly title: string;
  /** Where the scenario came from (a file name, an example's name), or null. */
  readonly source: string | null;
  readonly variants: readonly VariantWalks[];
  /** Decoded entries by the key each `ReferenceView.decoded` names. */
  readonly decoded: Readonly<Record<string, DecodedValue>>;
  /** What the view shows first. */
  readonly initial: { readonly variant: number; readonly access: number; readonly caches: number };
}

/** Options of `explainScenario`. */
export interface ExplainOptions {
  /** The access shown first (default 0). */
  readonly access?: number;
  /** The variant shown first (default 0). */
  readonly variant?: number;
  /** The page title (default: the source, else a generic title; the scenario's name is shown below it). */
  readonly title?: string;
  /** Where the scenario came from, shown under the title. */
  readonly source?: string;
}

/**
 * Explains every access of a scenario (or of each of several variants of one) under every
 * combination of the walk-cache toggles, ready for `mountWalkView` or `renderWalkHtml`.
 * Throws a RangeError when `options.access` is not an access of the (first) scenario.
 */
export function explainScenario(
  scenario: Scenario | readonly ScenarioVariant[],
  options: ExplainOptions = {},
): WalkViewDocument {
  const variants: readonly ScenarioVariant[] = Array.isArray(scenario)
    ? scenario
    : [{ label: 'as in the scenario', scenario: scenario as Scenario }];
  if (variants.length === 0) throw new RangeError('nothing to explain: no scenario');
  const first = variants[0].scenario;
  const access = options.access ?? 0;
  if (!Number.isInteger(access) || access < 0 || access >= first.accesses.length) {
    throw new RangeError(
      `access ${access} does not exist: the scenario has ${first.accesses.length} access${first.accesses.length === 1 ? '' : 'es'} (0 to ${first.accesses.length - 1})`,
    );
  }
  const decoded: DecodedTable = new Map();
  const views = variants.map(({ label, scenario: s }): VariantWalks => {
    const shape = walkShapeOf(s);
    const masks = s.nested.enabled ? 8 : 2;
    return {
      label,
      name: s.name ?? '',
      vendor: s.vendor,
      guestMode: shape.guestMode,
      nestedMode: shape.nestedMode,
      accesses: s.accesses.map((a, i) => {
        const walks = Array.from({ length: masks }, (_, mask) =>
          explainAccess(s, i, cachesOfMask(mask), decoded),
        );
        return {
          label: `#${i} ${a.access} 0x${a.address.toString(16)} at CPL ${a.cpl}: ${walks[0].outcome.outcome}`,
          walks,
        };
      }),
    };
  });
  return {
    format: WALK_VIEW_FORMAT,
    title: options.title ?? options.source ?? (variants.length > 1 ? 'Page walk' : 'Page walk, step by step'),
    source: options.source ?? null,
    variants: views,
    decoded: Object.fromEntries(decoded),
    initial: { variant: Math.min(Math.max(0, options.variant ?? 0), variants.length - 1), access, caches: 0 },
  };
}
