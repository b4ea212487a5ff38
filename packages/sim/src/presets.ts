import { readdirSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DocumentError, describeFileError } from '@hvsim/errors';
import { parseConfig, type SimConfig } from './config.js';
import { MAX_DOCUMENT_CHARS } from './config-text.js';

/** The folder of the built-in presets: one YAML file each, for a user to copy and edit. */
export const presetDir: string = fileURLToPath(new URL('../presets/', import.meta.url));

/** A built-in preset: its name, the one line it describes itself with, and its file. */
export interface PresetInfo {
  readonly name: string;
  readonly description: string;
  readonly path: string;
}

/** Every built-in preset, sorted by name. */
export function listPresets(): PresetInfo[] {
  return readdirSync(presetDir)
    .filter((file) => file.endsWith('.yaml'))
    .map((file) => file.slice(0, -'.yaml'.length))
    .sort()
    .map((name) => {
      const file = `${name}.yaml`;
      const path = `${presetDir}${file}`;
      const config = parseConfig(readFileSync(path, 'utf8'), path);
      return { name, description: config.description, path };
    });
}

/** The built-in preset `name`; throws naming the presets there are. */
export function loadPreset(name: string): SimConfig {
  const preset = listPresets().find((p) => p.name === name);
  if (preset === undefined) {
    throw new Error(
      `no preset named "${name}"; there are: ${listPresets()
        .map((p) => p.name)
        .join(', ')}`,
    );
  }
  return parseConfig(readFileSync(preset.path, 'utf8'), preset.path);
}

/**
 * A configuration by file name or preset name: a path that ends in .yaml, .yml or .json, or holds a
 * path separator, is read as a file; anything else is a preset.
 */
export async function loadConfig(fileOrPreset: string): Promise<SimConfig> {
  if (!/[\\/]|\.(ya?ml|json)$/i.test(fileOrPreset)) return loadPreset(fileOrPreset);
  let bytes: Buffer;
  try {
    bytes = await readAtMost(fileOrPreset, MAX_FILE_BYTES + 1);
  } catch (error) {
    throw new Error(`cannot read ${fileOrPreset}: ${describeFileError(error)}`);
  }
  if (bytes.length > MAX_FILE_BYTES) {
    throw new DocumentError(
      [
        {
          path: '',
          line: 1,
          column: 1,
          message: `more than ${MAX_FILE_BYTES} bytes, more than a configuration may have (${MAX_DOCUMENT_CHARS} characters); is this the right file?`,
        },
      ],
      fileOrPreset,
    );
  }
  return parseConfig(bytes.toString('utf8'), fileOrPreset);
}

/** Bytes of the longest configuration: 4 bytes for each of its characters in UTF-8, at most. */
const MAX_FILE_BYTES = 4 * MAX_DOCUMENT_CHARS;

/**
 * The first `limit` bytes of a file (all of it when shorter): a configuration is read no further
 * than its bound, so a huge file, a device or a pipe that never ends costs no more than that.
 */
async function readAtMost(path: string, limit: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(limit);
    let filled = 0;
    while (filled < limit) {
      const { bytesRead } = await file.read(buffer, filled, limit - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    await file.close();
  }
}

/**
 * The configurations `hvsim compare` runs by default: native, shadow paging, AMD NPT and Intel EPT,
 * each with and without tagged TLBs, nested paging with 4 KiB and 2 MiB nested pages.
 */
export const defaultComparison: readonly string[] = [
  'native',
  'shadow',
  'shadow-untagged',
  'npt-4k',
  'npt-4k-untagged',
  'npt-2m',
  'npt-2m-untagged',
  'ept-4k',
  'ept-4k-untagged',
  'ept-2m',
  'ept-2m-untagged',
];
