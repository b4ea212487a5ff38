/**
 * The view's style sheet (scoped to `.hv-walk`). Colours are chosen for WCAG AA contrast: body text
 * #1b1b1f on white is 16.9:1, the current reference white on #0b4f9c 8.2:1, muted notes #4d4d57 on
 * #f4f4f6 7.4:1, fault marks #a3001b on white 7.9:1.
 */
export const WALK_VIEW_CSS = `
.hv-walk { --hv-text: #1b1b1f; --hv-bg: #ffffff; --hv-muted: #4d4d57; --hv-line: #8a8a96; --hv-accent: #0b4f9c;
  --hv-done: #dce8f7; --hv-soft: #f4f4f6; --hv-fault: #a3001b; --hv-focus: #c2410c;
  color: var(--hv-text); background: var(--hv-bg); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  max-width: 1440px; margin: 0 auto; padding: 12px 16px; }
.hv-walk *, .hv-walk *::before, .hv-walk *::after { box-sizing: border-box; }
.hv-walk h2 { font-size: 1.35rem; margin: 0 0 4px; }
.hv-walk h3 { font-size: 1.05rem; margin: 0 0 6px; }
.hv-about { margin: 0 0 2px; max-width: 110ch; }
.hv-modes, .hv-keys, .hv-source, .hv-geometry, .hv-gpa { color: var(--hv-muted); }
.hv-modes { margin: 0 0 8px; font-weight: 600; }
.hv-keys { margin: 4px 0 8px; font-size: 0.9rem; }
.hv-controls { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: flex-end; margin-bottom: 8px; }
.hv-controls fieldset { border: 1px solid var(--hv-line); border-radius: 6px; padding: 4px 10px 6px; margin: 0; }
.hv-controls legend { padding: 0 4px; font-size: 0.9rem; color: var(--hv-muted); }
.hv-field { display: flex; flex-direction: column; gap: 2px; }
.hv-field label { font-size: 0.9rem; color: var(--hv-muted); }
.hv-choice { margin-right: 12px; white-space: nowrap; }
.hv-walk select, .hv-walk button, .hv-walk input { font: inherit; color: var(--hv-text); }
.hv-walk select { padding: 4px 6px; border: 1px solid var(--hv-line); border-radius: 4px; background: var(--hv-bg); max-width: 100%; }
.hv-stepper { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; }
.hv-button { padding: 5px 12px; border: 1px solid var(--hv-accent); border-radius: 4px; background: var(--hv-bg); color: var(--hv-accent); cursor: pointer; font-weight: 600; }
.hv-button:hover:not(:disabled) { background: var(--hv-done); }
.hv-button:disabled { color: var(--hv-muted); border-color: var(--hv-line); cursor: default; }
.hv-position { margin: 0 0 0 8px; font-weight: 600; }
.hv-walk :focus-visible { outline: 3px solid var(--hv-focus); outline-offset: 2px; }
.hv-main { display: grid; grid-template-columns: minmax(0, 1fr); gap: 16px; }
@media (min-width: 960px) {
  .hv-main { grid-template-columns: minmax(0, 7fr) minmax(0, 5fr); }
  /* The decoded entry stays in view beside the grid while the page scrolls (a 1024x768 projector). */
  .hv-side { position: sticky; top: 8px; align-self: start; max-height: calc(100vh - 16px); overflow-y: auto; }
}
.hv-grid-wrap { overflow-x: auto; border-radius: 6px; }
.hv-grid { border-collapse: separate; border-spacing: 3px; width: 100%; }
.hv-grid caption { text-align: left; color: var(--hv-muted); padding-bottom: 4px; font-size: 0.9rem; }
.hv-grid th { font-size: 0.85rem; font-weight: 600; text-align: left; padding: 2px 4px; vertical-align: bottom; }
.hv-grid th[scope="row"] { white-space: nowrap; vertical-align: middle; }
.hv-gpa { display: block; font-weight: 400; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.8rem; }
.hv-cell { min-width: 82px; height: 52px; padding: 3px 6px; border: 2px solid var(--hv-line); border-radius: 5px; vertical-align: top; background: var(--hv-bg); }
.hv-num { display: block; font-weight: 700; font-size: 1.05rem; }
.hv-addr { display: block; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.78rem; }
.hv-note { font-size: 0.8rem; }
.hv-flag { display: inline-block; margin-top: 1px; font-size: 0.75rem; font-weight: 700; color: var(--hv-fault); text-transform: uppercase; }
.hv-done { background: var(--hv-done); border-color: var(--hv-accent); }
.hv-cur { background: var(--hv-accent); border-color: var(--hv-accent); color: #ffffff; box-shadow: 0 0 0 3px #9ec1ea; }
.hv-cur .hv-flag { color: #ffffff; }
.hv-fault { border-color: var(--hv-fault); border-width: 3px; }
.hv-saved { background: var(--hv-soft); color: var(--hv-muted); border-style: dashed; }
.hv-saved .hv-note { text-decoration: line-through; }
.hv-large { background: var(--hv-soft); color: var(--hv-muted); border-style: dotted; }
.hv-unreached { background: var(--hv-bg); color: var(--hv-muted); border-style: dotted; }
.hv-none { border: none; background: transparent; }
.hv-legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 14px; padding: 0; margin: 6px 0 0; font-size: 0.85rem; }
.hv-swatch { display: inline-block; width: 14px; height: 14px; border: 2px solid var(--hv-line); border-radius: 3px; vertical-align: -2px; }
.hv-swatch.hv-made { background: var(--hv-bg); }
.hv-swatch.hv-fault { border-color: var(--hv-fault); border-width: 3px; }
.hv-side section, .hv-tlb { border: 1px solid var(--hv-line); border-radius: 6px; padding: 8px 10px; margin-bottom: 12px; }
.hv-what { margin: 0 0 6px; }
.hv-summary { font-weight: 700; margin: 0 0 6px; }
.hv-outcome-ok { color: #17602b; }
.hv-outcome-page-fault, .hv-outcome-nested-page-fault, .hv-outcome-ept-violation, .hv-outcome-ept-misconfiguration, .hv-outcome-general-protection { color: var(--hv-fault); }
.hv-fields { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 6px; }
.hv-fields dt { color: var(--hv-muted); }
.hv-fields dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.hv-bits, .hv-tlb-table { border-collapse: collapse; width: 100%; font-size: 0.86rem; margin-top: 4px; }
.hv-bits caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
.hv-bits th, .hv-bits td, .hv-tlb-table th, .hv-tlb-table td { border-bottom: 1px solid #d4d4da; padding: 2px 6px; text-align: left; vertical-align: top; }
.hv-bits td:nth-child(1), .hv-bits td:nth-child(3), .hv-tlb-table td { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.hv-bits td:nth-child(1), .hv-bits td:nth-child(2), .hv-bits td:nth-child(3) { white-space: nowrap; }
.hv-bits tr.hv-set td { font-weight: 700; background: #fff6d6; }
.hv-tlb-table th[scope="row"] { white-space: nowrap; }
.hv-geometry { display: block; font-weight: 400; font-size: 0.78rem; }
.hv-empty td { color: var(--hv-muted); }
/* Between a projector's 1024 pixels and 1180, the grid and the decoded entry side by side: smaller cells (after the rules they override). */
@media (min-width: 960px) and (max-width: 1179px) {
  .hv-cell { min-width: 58px; height: 46px; padding: 2px 4px; }
  .hv-addr { font-size: 0.7rem; }
  .hv-grid th[scope="row"] { white-space: normal; width: 8rem; }
}
.hv-seq-steps { margin: 8px 0; padding-left: 2.2em; columns: 2 28ch; }
.hv-seq-step { font: inherit; text-align: left; border: 0; background: none; color: var(--hv-text); padding: 1px 4px; cursor: pointer; }
.hv-seq-step[aria-current="step"] { background: var(--hv-accent); color: #ffffff; border-radius: 3px; }
.hv-seq-now table { border-collapse: collapse; margin: 0 0 10px; font-size: 0.9rem; }
.hv-seq-now th, .hv-seq-now td { border: 1px solid var(--hv-line); padding: 2px 8px; text-align: left; }
.hv-seq-now th { background: var(--hv-soft); }
.hv-seq-removed td { color: var(--hv-fault); }
.hv-seq-outcome { font-weight: 600; }
.hv-seq-cached, .hv-seq-empty { color: var(--hv-muted); font-weight: normal; }
`;
