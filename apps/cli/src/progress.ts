import cliProgress from 'cli-progress';

/**
 * The time left as the bar shows it: cli-progress's own format (`45s`, `02m05s`, `01h30m`), and `?`
 * while it has no estimate: its `NULL` and `INF` would otherwise be cut to two characters (`LLs`).
 */
export function etaText(seconds: unknown, options: cliProgress.Options, roundTo: number): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '?';
  return cliProgress.Format.TimeFormat(seconds, options, roundTo);
}

/**
 * A progress bar on standard error while runs go on, when standard error is a terminal and this is
 * not CI; otherwise nothing (pipes and logs stay clean).
 */
export function progressBar(
  total: number | null,
  unit: 'accesses' | 'trace',
): { update: (done: number) => void; stop: () => void } | null {
  if (!process.stderr.isTTY || process.env.CI) return null;
  const format =
    total === null
      ? 'running {bar} {value} bytes of the trace read'
      : unit === 'trace'
        ? 'running {bar} {percentage}% of the trace | {eta_formatted} left'
        : 'running {bar} {percentage}% | {value}/{total} accesses | {eta_formatted} left';
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format,
      hideCursor: true,
      clearOnComplete: true,
      fps: 10,
      noTTYOutput: false,
      formatTime: etaText,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total ?? 0, 0);
  return {
    update: (done) => bar.update(total === null ? done : Math.min(done, total)),
    stop: () => bar.stop(),
  };
}
