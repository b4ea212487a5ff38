import { statSync } from 'node:fs';
import {
  highlights,
  type ReportDocument,
  renderCsv,
  renderHtml,
  renderJson,
  renderTable,
} from '@hvsim/report';
import {
  compare,
  defaultComparison,
  demoWorkload,
  listPresets,
  listWorkloads,
  loadConfig,
  parseSweepAxis,
  REPORT_CSV_COLUMNS,
  type SimConfig,
  type SweepAxis,
  sweepGrid,
  type WorkloadSpec,
} from '@hvsim/sim';
import { TRACE_FORMATS, type TraceFormat } from '@hvsim/traces';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { CliError, UsageError, writeAtomically } from './io.js';
import { once } from './options.js';
import { progressBar } from './progress.js';

/*
 * The simulation commands: run, compare, sweep, demo, presets, workloads. They read a configuration
 * and a workload, call @hvsim/sim, and render @hvsim/report's document; nothing else.
 */

interface OutputOptions {
  readonly json?: boolean;
  readonly csv?: boolean;
  readonly html?: string;
  readonly output?: string;
}

interface WorkloadOptions {
  readonly workload?: string;
  readonly trace?: string;
  readonly format?: TraceFormat;
  readonly accesses?: number;
  readonly skip?: number;
  readonly records?: number;
  readonly seed?: number;
  readonly workers?: number;
}

type RunCommandOptions = OutputOptions & WorkloadOptions & { readonly config: string[] };
type SweepOptions = OutputOptions & WorkloadOptions & { readonly config: string; readonly set: string[] };

function parseCount(what: string) {
  return (text: string): number => {
    if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`expected ${what}`);
    return Number(text);
  };
}

function parsePositive(what: string) {
  const count = parseCount(what);
  return (text: string): number => {
    const n = count(text);
    if (n === 0) throw new InvalidArgumentError(`expected ${what}`);
    return n;
  };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function addWorkloadOptions(command: Command, workers: boolean): Command {
  command
    .option(
      '--workload <name>',
      'a built-in workload (see "hvsim workloads"; default mixed)',
      once('--workload', undefined, 'a run has one workload'),
    )
    .option(
      '--trace <file>',
      "a memory trace file instead (lackey text, ChampSim binary, ChampSim's CloudSuite records with ASIDs, or hvsim; gzip or xz)",
      once('--trace', undefined, 'a run reads one trace'),
    )
    .addOption(
      new Option(
        '--format <format>',
        "the trace's format (default: detected from its content; ChampSim's CloudSuite records, champsim-cloudsuite, are never detected)",
      ).choices([...TRACE_FORMATS]),
    )
    .option(
      '--accesses <n>',
      "guest accesses the workload makes (default: the workload's own)",
      once('--accesses', parseCount('a count')),
    )
    .option(
      '--skip <n>',
      'trace records to skip from the start (--trace only)',
      once('--skip', parseCount('a count')),
    )
    .option(
      '--records <n>',
      'trace records to run after those skipped (--trace only; default: all the rest)',
      once('--records', parsePositive('a positive count')),
    )
    .option(
      '--seed <n>',
      'the seed of every random choice (default 1)',
      once('--seed', parseCount('a non-negative integer')),
    );
  if (workers) {
    command.option(
      '--workers <n>',
      'worker threads (default: one per core; 1 runs on the main thread)',
      once('--workers', parseCount('a number of threads')),
    );
  }
  return addOutputOptions(command);
}

function addOutputOptions(command: Command): Command {
  return command
    .option('--json', 'print the hvsim.report/1 JSON document instead of the table')
    .option('--csv', 'print CSV (one row per configuration) instead of the table')
    .option('--html <file>', 'also write a self-contained HTML page with charts', once('--html'))
    .option(
      '-o, --output <file>',
      'write the table, JSON or CSV to a file instead of standard output',
      once('--output'),
    );
}

/** The workload a command's options name (usage errors for contradictions). */
function workloadOf(options: WorkloadOptions, command: Command): WorkloadSpec {
  if (options.workload !== undefined && options.trace !== undefined) {
    command.error('error: give --workload NAME or --trace FILE, not both', { code: 'hvsim.usage' });
  }
  if (options.format !== undefined && options.trace === undefined) {
    command.error('error: --format applies to --trace only', { code: 'hvsim.usage' });
  }
  if (options.trace === undefined && (options.skip !== undefined || options.records !== undefined)) {
    command.error(`error: ${options.skip !== undefined ? '--skip' : '--records'} applies to --trace only`, {
      code: 'hvsim.usage',
    });
  }
  if (options.trace !== undefined) {
    if (options.accesses !== undefined)
      command.error('error: --accesses applies to --workload only', { code: 'hvsim.usage' });
    return {
      kind: 'trace',
      path: options.trace,
      ...(options.format === undefined ? {} : { format: options.format }),
      ...(options.skip === undefined ? {} : { skip: options.skip }),
      ...(options.records === undefined ? {} : { records: options.records }),
    };
  }
  const name = options.workload ?? demoWorkload.name;
  if (!listWorkloads().some((w) => w.name === name)) {
    throw new CliError(
      `no workload named "${name}"; there are: ${listWorkloads()
        .map((w) => w.name)
        .join(', ')}`,
    );
  }
  return {
    kind: 'workload',
    name,
    ...(options.accesses === undefined ? {} : { accesses: options.accesses }),
  };
}

async function loadConfigs(names: readonly string[]): Promise<SimConfig[]> {
  const configs: SimConfig[] = [];
  for (const name of names) {
    try {
      configs.push(await loadConfig(name));
    } catch (error) {
      throw new CliError((error as Error).message);
    }
  }
  return configs;
}

/**
 * What a run's progress counts to: a workload's accesses; for a trace, its file's bytes once per VM
 * (sim reports the bytes each VM's reader has read), unknown for standard input.
 */
function progressTotal(configs: readonly SimConfig[], spec: WorkloadSpec): number | null {
  const runs = configs.reduce((n, c) => n + (c.mmu === 'native' ? 1 : c.vms), 0);
  if (spec.kind === 'workload') return spec.accesses === undefined ? null : spec.accesses * runs;
  if (spec.path === '-') return null;
  try {
    return statSync(spec.path).size * runs;
  } catch {
    return null; // the run reports the unreadable file
  }
}

async function runAndReport(
  configs: readonly SimConfig[],
  spec: WorkloadSpec,
  options: WorkloadOptions & OutputOptions,
  explain = false,
): Promise<void> {
  // Before any work: a contradiction in the output options is the caller's to fix.
  if (options.json && options.csv) throw new UsageError('give --json or --csv, not both');
  const bar = progressBar(progressTotal(configs, spec), spec.kind === 'workload' ? 'accesses' : 'trace');
  let report: ReportDocument;
  try {
    report = await compare(configs, spec, {
      seed: options.seed ?? 1,
      ...(options.workers === undefined ? {} : { workers: options.workers }),
      ...(bar === null ? {} : { onProgress: bar.update }),
    });
  } catch (error) {
    throw new CliError((error as Error).message);
  } finally {
    bar?.stop();
  }
  await emit(report, options, explain);
}

async function emit(report: ReportDocument, options: OutputOptions, explain: boolean): Promise<void> {
  const colour = options.output === undefined && process.stdout.isTTY === true && !process.env.NO_COLOR;
  const text = options.json
    ? renderJson(report)
    : options.csv
      ? renderCsv(report, REPORT_CSV_COLUMNS)
      : renderTable(report, { color: colour }) + (explain ? `\n${highlights(report).join('\n')}\n` : '');
  if (options.html !== undefined) await writeAtomically(options.html, renderHtml(report));
  if (options.output === undefined) process.stdout.write(text);
  else await writeAtomically(options.output, text);
}

function defaultPresets(): string[] {
  return [...defaultComparison];
}

/** Adds run, compare, sweep, demo, presets and workloads to the program. */
export function addSimCommands(program: Command): void {
  addWorkloadOptions(
    program
      .command('run')
      .description('run one workload (or a memory trace) on one machine configuration and print its figures')
      .option(
        '--config <file|preset>',
        'a configuration file (YAML or JSON) or a preset (see "hvsim presets"; default npt-4k)',
        once('--config', undefined, 'hvsim run runs one configuration; hvsim compare takes several'),
      ),
    false,
  )
    .addHelpText('after', () => {
      const presets = listPresets().map((p) => `  ${p.name.padEnd(16)} ${p.description}`);
      const workloads = listWorkloads().map((w) => `  ${w.name.padEnd(16)} ${w.description}`);
      return `\nPresets (hvsim presets --paths shows their files, to copy and edit):\n${presets.join('\n')}\n\nWorkloads:\n${workloads.join('\n')}\n`;
    })
    .action(async (options: Omit<RunCommandOptions, 'config'> & { config?: string }, command: Command) => {
      const spec = workloadOf(options, command);
      await runAndReport(await loadConfigs([options.config ?? 'npt-4k']), spec, { ...options, workers: 1 });
    });

  addWorkloadOptions(
    program
      .command('compare')
      .description(
        'run one workload on several configurations side by side (default: native, shadow, AMD NPT and Intel EPT, tagged and untagged, 4 KiB and 2 MiB nested pages)',
      )
      .option('--config <file|preset>', 'a configuration to compare (repeat for more)', collect),
    true,
  ).action(async (options: RunCommandOptions, command: Command) => {
    const spec = workloadOf(options, command);
    await runAndReport(await loadConfigs(options.config ?? defaultPresets()), spec, options);
  });

  addWorkloadOptions(
    program
      .command('sweep')
      .description('run a grid of configuration parameters on worker threads, results in grid order')
      .requiredOption(
        '--config <file|preset>',
        'the configuration the grid varies',
        once('--config', undefined, 'a sweep varies one configuration (give the grid with --set)'),
      )
      .requiredOption(
        '--set <path=values>',
        'an axis: a configuration field and its values, e.g. tlb=skylake,zen or guest.hugePages=false,true (repeat for more)',
        collect,
      ),
    true,
  ).action(async (options: SweepOptions, command: Command) => {
    const spec = workloadOf(options, command);
    const [base] = await loadConfigs([options.config]);
    let grid: SimConfig[];
    try {
      const axes: SweepAxis[] = options.set.map(parseSweepAxis);
      grid = sweepGrid(base, axes);
    } catch (error) {
      throw new CliError((error as Error).message);
    }
    await runAndReport(grid, spec, options);
  });

  addOutputOptions(
    program
      .command('demo')
      .description(
        'compare the default configurations on the built-in mixed workload: what tagging saves on world switches, what nested paging saves in exits and costs in walk length, what large pages give back',
      )
      .option('--workers <n>', 'worker threads (default: one per core)', parseCount('a number of threads')),
  ).action(async (options: OutputOptions & { workers?: number }) => {
    await runAndReport(await loadConfigs(defaultPresets()), demoWorkload, { ...options, seed: 1 }, true);
    if (!options.json && !options.csv && options.output === undefined) {
      process.stdout.write(
        '\nMore: hvsim demo --html demo.html (charts), hvsim compare --workload zipf, hvsim presets.\n',
      );
    }
  });

  program
    .command('presets')
    .description('list the built-in machine configurations (each a YAML file to copy and edit)')
    .option('--paths', 'print each preset file’s path too')
    .action((options: { paths?: boolean }) => {
      const presets = listPresets();
      const width = Math.max(...presets.map((p) => p.name.length));
      for (const p of presets) {
        process.stdout.write(
          `${p.name.padEnd(width)}  ${p.description}${options.paths ? `\n${' '.repeat(width + 2)}${p.path}` : ''}\n`,
        );
      }
    });

  program
    .command('workloads')
    .description('list the built-in workloads')
    .action(() => {
      const all = listWorkloads();
      const width = Math.max(...all.map((w) => w.name.length));
      for (const w of all) process.stdout.write(`${w.name.padEnd(width)}  ${w.description}\n`);
    });
}
