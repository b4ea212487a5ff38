import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseJsonText } from './json-text.js';
import { readResult } from './result-format.js';
import { parseScenario } from './scenario-reader.js';
import type { Scenario, ScenarioResult } from './types.js';

/*
 * The example scenarios shipped in the package's `scenarios/` folder. This module is one folder
 * below the package root both as source (src/) and as build output (dist/), so one relative URL
 * finds the folder in development and once published.
 */

const EXPECTED_SUFFIX = '.expected.json';

/** A bundled example: its name (the file name without `.json`) and where its files are. */
export interface BundledScenario {
  readonly name: string;
  /** The scenario's own `name` field: what it shows. */
  readonly title: string;
  /** Whether it needs a nested runner (`nested.enabled`). */
  readonly nested: boolean;
  /** Path of the scenario file. */
  readonly path: string;
  /** Path of the hand-derived expected result, or null when there is none (nested examples). */
  readonly expectedPath: string | null;
}

/** The folder holding the bundled example scenarios, as a `file:` URL. */
export function bundledScenarioDir(): URL {
  return new URL('../scenarios/', import.meta.url);
}

/** The bundled examples, sorted by name (each file is read, for its title). */
export function listBundledScenarios(): BundledScenario[] {
  return bundledNames().map((name) => {
    const { path, expectedPath } = bundledPaths(name);
    const scenario = readScenarioFile(path);
    return { name, title: scenario.name ?? '', nested: scenario.nested.enabled, path, expectedPath };
  });
}

/** The bundled example called `name`; throws, listing the names there are, when there is none. */
export function loadBundledScenario(name: string): Scenario {
  return readScenarioFile(findBundled(name).path);
}

/** The hand-derived expected result of the bundled example `name`, or null when it has none. */
export function loadBundledExpectedResult(name: string): ScenarioResult | null {
  const { expectedPath } = findBundled(name);
  if (expectedPath === null) return null;
  return readResult(parseJsonText(readFileSync(expectedPath, 'utf8'), expectedPath), expectedPath);
}

/** Reads and validates a scenario file; messages name the file (`DocumentError`). */
export function readScenarioFile(path: string): Scenario {
  return parseScenario(readFileSync(path, 'utf8'), path);
}

function bundledNames(): string[] {
  return readdirSync(fileURLToPath(bundledScenarioDir()))
    .filter((file) => file.endsWith('.json') && !file.endsWith(EXPECTED_SUFFIX))
    .map((file) => file.slice(0, -'.json'.length))
    .sort();
}

function bundledPaths(name: string): { path: string; expectedPath: string | null } {
  const path = fileURLToPath(new URL(`${name}.json`, bundledScenarioDir()));
  const expected = fileURLToPath(new URL(`${name}${EXPECTED_SUFFIX}`, bundledScenarioDir()));
  return { path, expectedPath: existsSync(expected) ? expected : null };
}

function findBundled(name: string): { path: string; expectedPath: string | null } {
  const names = bundledNames();
  if (!names.includes(name)) {
    throw new Error(`no bundled example named "${name}"; there are: ${names.join(', ')}`);
  }
  return bundledPaths(name);
}
