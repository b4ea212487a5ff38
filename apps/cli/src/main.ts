#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describeFileError } from '@hvsim/errors';
import { parseScenario, runScenario, type Scenario, serializeResult } from '@hvsim/scenario';
import { listBundledScenarios, loadBundledScenario } from '@hvsim/scenario/node';
import { renderSequenceHtml, renderWalkHtml } from '@hvsim/walk-view';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { addConvertCommand } from './convert-command.js';
import { CliError, UsageError, writeAtomically } from './io.js';
import { once } from './options.js';
import { addSimCommands } from './sim-commands.js';

/*
 * The hvsim command line. It parses arguments, reads input, calls @hvsim/scenario and prints; all
 * simulation logic lives in the packages. Exit codes: 0 success, 1 bad input or a failed run,
 * 2 a usage error.
 */

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const STDIN = '<stdin>';

interface TranslateOptions {
  readonly example?: string;
  readonly explain?: boolean;
  readonly strict?: boolean;
  readonly output?: string;
}

interface ExplainOptions {
  readonly example?: string;
  readonly html: string;
  readonly access?: number;
}

function parseAccessIndex(text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError('expected an access index: 0, 1, 2…');
  return Number(text);
}

function packageVersion(): string {
  // src/ and dist/ are both one level below the package root.
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/** The version in package.json before changesets first sets one. */
const UNRELEASED = '0.0.0';

function buildProgram(): Command {
  const version = packageVersion();
  const program = new Command('hvsim')
    .description(
      'Simulate x86 hardware-assisted memory virtualization: address-translation scenarios step by step, and workloads or memory traces on native, shadow and nested paging.',
    )
    .version(
      version,
      '-V, --version',
      version === UNRELEASED
        ? `print the version, from this package's package.json (${UNRELEASED}: not released yet; changesets sets it at release)`
        : "print the version, from this package's package.json",
    )
    .exitOverride()
    // One prefix for every error, usage or input: `hvsim: ...` (commander's own say `error: ...`).
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'hvsim: ')) })
    .showHelpAfterError('(run "hvsim help" for usage)');

  program
    .command('translate')
    .description('run an hvsim.scenario/1 document and print its hvsim.result/1 result')
    .argument('[file]', 'the scenario file, or - for standard input')
    .option('--example <name>', 'run a bundled example instead (see "hvsim examples")', once('--example'))
    .option(
      '--explain',
      "add each access's page-walk memory references to the result; with caches, also what the TLBs and walk caches hold after each step and what it removed",
    )
    .option(
      '--strict',
      'reject a scenario with fields the format does not define (default: warn and ignore them)',
    )
    .option('-o, --output <file>', 'write the result to a file instead of standard output', once('--output'))
    .action(async (file: string | undefined, options: TranslateOptions, command: Command) => {
      if ((file === undefined) === (options.example === undefined)) {
        command.error('error: give a scenario FILE (or - for standard input), or --example NAME', {
          code: 'hvsim.usage',
        });
      }
      const { scenario, source } = await loadScenario(file, options.example, options.strict === true);
      let text: string;
      try {
        text = serializeResult(runScenario(scenario, { explain: options.explain === true }));
      } catch (error) {
        throw new CliError(`${source}: ${(error as Error).message}`);
      }
      if (options.output === undefined) process.stdout.write(text);
      else await writeAtomically(options.output, text);
    });

  program
    .command('explain')
    .description(
      "write the step-by-step view of a scenario's page walks (or of a sequence's steps and what the caches hold) as one self-contained HTML page (no external requests)",
    )
    .argument('[file]', 'the scenario file, or - for standard input')
    .option('--example <name>', 'explain a bundled example instead (see "hvsim examples")', once('--example'))
    .requiredOption('--html <file>', 'the HTML page to write', once('--html'))
    .option(
      '--access <n>',
      'the access the page shows first, counted from 0 (default 0)',
      once('--access', parseAccessIndex),
    )
    .action(async (file: string | undefined, options: ExplainOptions, command: Command) => {
      if ((file === undefined) === (options.example === undefined)) {
        command.error('error: give a scenario FILE (or - for standard input), or --example NAME', {
          code: 'hvsim.usage',
        });
      }
      const { scenario, source } = await loadScenario(file, options.example);
      if (scenario.steps !== undefined) {
        // A sequence has steps, not accesses: its page steps through them with what the caches hold.
        if (options.access !== undefined) {
          command.error(
            `error: --access ${options.access}: ${source} is a sequence of steps, which has no access to start at`,
            {
              code: 'hvsim.usage',
            },
          );
        }
        let html: string;
        try {
          html = renderSequenceHtml(scenario);
        } catch (error) {
          throw new CliError(`${source}: ${(error as Error).message}`);
        }
        await writeAtomically(options.html, html);
        return;
      }
      const access = options.access ?? 0;
      if (access >= scenario.accesses.length) {
        command.error(
          `error: --access ${access}: ${source} has ${scenario.accesses.length} access${scenario.accesses.length === 1 ? '' : 'es'} (0 to ${scenario.accesses.length - 1})`,
          { code: 'hvsim.usage' },
        );
      }
      let html: string;
      try {
        html = renderWalkHtml(scenario, { source, access });
      } catch (error) {
        throw new CliError(`${source}: ${(error as Error).message}`);
      }
      await writeAtomically(options.html, html);
    });

  program
    .command('examples')
    .description('list the bundled example scenarios')
    .action(() => {
      const examples = listBundledScenarios();
      const width = Math.max(...examples.map((example) => example.name.length));
      for (const example of examples) {
        const tag = example.nested ? '[nested] ' : '';
        process.stdout.write(`${example.name.padEnd(width)}  ${tag}${example.title}\n`);
      }
    });

  addConvertCommand(program);
  addSimCommands(program);

  return program;
}

/** The scenario to run, and the name its messages go by (a file, `<stdin>`, an example). */
async function loadScenario(
  file: string | undefined,
  example: string | undefined,
  strict = false,
): Promise<{ scenario: Scenario; source: string }> {
  // Unknown fields are ignored with a warning on standard error (spec/scenario.md), or rejected.
  const options = {
    strict,
    onWarning: (message: string) => process.stderr.write(`hvsim: warning: ${message}\n`),
  };
  if (example !== undefined) {
    try {
      return { scenario: loadBundledScenario(example), source: example };
    } catch (error) {
      throw new CliError((error as Error).message);
    }
  }
  if (file === '-') return { scenario: parseScenario(await readStdin(), STDIN, options), source: STDIN };
  const path = file as string;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${describeFileError(error)}`);
  }
  return { scenario: parseScenario(text, path, options), source: path };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs the command line and returns the exit code. */
async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; every parse error is a usage error (commander itself uses 1).
      if (error.exitCode === 0) return 0;
      return EXIT_USAGE;
    }
    const message = error instanceof Error ? error.message : String(error);
    for (const line of message.split('\n')) process.stderr.write(`hvsim: ${line}\n`);
    if (process.env.HVSIM_DEBUG && error instanceof Error && !(error instanceof CliError)) {
      process.stderr.write(`${error.stack}\n`);
    }
    // Exit codes: 2 for a command line that asks for something contradictory, 1 for bad input.
    return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
}

// A closed pipe (`hvsim examples | head -1`) ends the command quietly, as SIGPIPE ends a C program:
// nobody reads what is left to print. Any other stream error is a fault.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

process.exitCode = await main(process.argv.slice(2));
