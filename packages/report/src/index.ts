/**
 * @hvsim/report: what an hvsim run reports, and its renderings. A report is an `hvsim.report/1`
 * document (one workload on one or more machine configurations, each run's figures counted by the
 * simulator); every renderer is a pure function of it, so the same report always gives the same
 * bytes.
 */

/** CSV (RFC 4180) and JSON. */
export { type CsvColumns, columnName, renderCsv, renderJson } from './csv.js';
/** What a comparison of the default configurations shows, in sentences. */
export { highlights } from './highlights.js';
/** A self-contained HTML page with Chart.js charts. */
export { chartLibrarySource, type HtmlOptions, renderHtml } from './html.js';
/** The report document, its schema and reader. */
export {
  CYCLE_COMPONENTS,
  type CycleComponent,
  type CyclesBy,
  componentCycles,
  parseReport,
  REPORT_FORMAT,
  type ReportDocument,
  ReportFormatError,
  type RunCosts,
  type RunReport,
  reportSchema,
  sumCyclesBy,
  type TlbLevelReport,
} from './report-document.js';
/** Terminal tables. */
export { renderTable, type TableOptions } from './table.js';
