import { convertTrace, TRACE_FORMATS, type TraceFormat } from '@hvsim/traces';
import { type Command, Option } from 'commander';

/** Adds `hvsim convert`: a trace of any readable format to hvsim's compact format (the logic is @hvsim/traces'). */
export function addConvertCommand(program: Command): void {
  program
    .command('convert')
    .description(
      "convert a memory trace (lackey text, ChampSim binary or hvsim; raw, gzip or xz; - for standard input) to hvsim's compact format (version 2: brotli-compressed, with the record count and a CRC-32 in its header)",
    )
    .argument('<input>', 'the trace to read, or - for standard input')
    .argument('<output>', 'the hvsim-format file to write (written whole or not at all)')
    .addOption(
      new Option('--format <format>', "the input's format (default: detected from its content)").choices([
        ...TRACE_FORMATS,
      ]),
    )
    .action(async (input: string, output: string, options: { format?: TraceFormat }) => {
      const result = await convertTrace(
        input,
        output,
        options.format === undefined ? {} : { format: options.format },
      );
      process.stdout.write(
        `${output}: ${result.records.toLocaleString('en-US')} records from ${result.format}, ${result.bytes.toLocaleString('en-US')} bytes\n`,
      );
    });
}
