import { ExitKind } from '@hvsim/hypervisor';
import type { CsvColumns } from '@hvsim/report';
import { tlbPresets } from '@hvsim/tlb-tagged';
import { NPT_EXIT_KINDS } from '@hvsim/vendor-amd';
import { EPT_EXIT_KINDS } from '@hvsim/vendor-intel';

function levelNamesOfPresets(): string[] {
  const names: string[] = [];
  for (const preset of Object.values(tlbPresets))
    for (const level of preset.config.levels) if (!names.includes(level.name)) names.push(level.name);
  return names;
}

/**
 * The per-level and per-exit-kind columns every CSV of hvsim's runs has (`renderCsv(report,
 * REPORT_CSV_COLUMNS)`): the levels of the TLB presets and every exit kind the hypervisor and the
 * two vendors count, so that a `run`, a `compare` and a sweep write the same header whatever their
 * configurations. A custom hierarchy's own level names come after these.
 */
export const REPORT_CSV_COLUMNS: CsvColumns = {
  tlbLevels: levelNamesOfPresets(),
  exitKinds: [...Object.values(ExitKind), ...Object.values(NPT_EXIT_KINDS), ...Object.values(EPT_EXIT_KINDS)],
};
