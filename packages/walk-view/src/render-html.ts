import type { Scenario } from '@hvsim/scenario';
import {
  type ExplainOptions,
  explainScenario,
  type ScenarioVariant,
  type WalkViewDocument,
} from './document.js';
import { mountWalkView } from './mount.js';
import { explainSequence, mountSequenceView, type SequenceViewDocument } from './sequence-view.js';
import { WALK_VIEW_CSS } from './styles.js';

/** Options of `renderWalkHtml`: those of `explainScenario`. */
export type RenderOptions = ExplainOptions;

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ESCAPES[c]);
}

/** JSON that is safe inside a <script> element (no `</script>`, no `<!--`, no line separators). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * A self-contained HTML page of a walk-view document: inline style sheet, inline script (the source
 * of `mountWalkView`, the code the web app runs) and the document as JSON. It makes no request.
 */
export function renderDocumentHtml(doc: WalkViewDocument): string {
  return page(doc.title, mountWalkView, doc, 'a page walk');
}

/**
 * A self-contained HTML page of a sequence with caches (`explainSequence`): each step, what it
 * removed and what the TLBs and walk caches hold after it, stepped through with `mountSequenceView`.
 * `title` defaults to the scenario's name.
 */
export function renderSequenceHtml(scenario: Scenario, options: { readonly title?: string } = {}): string {
  const doc: SequenceViewDocument = explainSequence(scenario, options.title);
  return page(doc.title, mountSequenceView, doc, 'a sequence of steps');
}

/** The page: `mount`, a self-contained function, inlined as source and called on the document. */
function page(title: string, mount: (...args: never[]) => unknown, doc: unknown, what: string): string {
  // Transpilers may wrap nested functions in a `__name` helper defined outside the function's
  // source (esbuild's keepNames, as tsx uses): give the inlined copy a harmless one.
  const script = `var __name = function (f) { return f; };\n(${mount.toString()})(document.getElementById('walk-view'), ${scriptJson(doc)}, { pageKeys: true });`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hvsim">
<title>${escapeHtml(title)}</title>
<style>
html { background: #ffffff; }
body { margin: 0; background: #ffffff; color: #1b1b1f; }
noscript p { font: 15px/1.45 system-ui, sans-serif; margin: 16px; }
${WALK_VIEW_CSS}
</style>
</head>
<body>
<main id="walk-view"><noscript><p>This page steps through ${what} with JavaScript; turn it on to see it.</p></noscript></main>
<script>
${script.replace(/<\/script/gi, '<\\/script')}
</script>
</body>
</html>
`;
}

/**
 * Renders the interactive walk view of a scenario (or of variants of one) as a self-contained HTML
 * page: every access under every walk-cache combination, computed here, stepped through in the page.
 */
export function renderWalkHtml(
  scenario: Scenario | readonly ScenarioVariant[],
  options: RenderOptions = {},
): string {
  return renderDocumentHtml(explainScenario(scenario, options));
}
