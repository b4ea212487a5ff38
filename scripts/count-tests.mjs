#!/usr/bin/env node
// Totals the vitest JSON reports that every package's test run writes to .reports/vitest.json and
// prints one plain line, `N passed, N failed`, for CI. Exits 1 when a report is missing or unreadable.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dirs = [];
for (const group of ['packages', 'apps']) {
  const base = join(root, group);
  if (!existsSync(base)) continue;
  for (const name of readdirSync(base)) dirs.push(join(base, name));
}
dirs.push(join(root, 'examples'));

let passed = 0;
let failed = 0;
let problems = 0;
for (const dir of dirs) {
  const pkg = join(dir, 'package.json');
  if (!existsSync(pkg)) continue;
  const manifest = JSON.parse(readFileSync(pkg, 'utf8'));
  if (!manifest.scripts?.test) continue;
  const report = join(dir, '.reports', 'vitest.json');
  if (!existsSync(report)) {
    console.error(`count-tests: ${manifest.name} has a test script but wrote no ${report}`);
    problems++;
    continue;
  }
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed += json.numPassedTests ?? 0;
  failed += json.numFailedTests ?? 0;
  // A test file that failed to load reports no assertions: count it as one failure.
  for (const file of json.testResults ?? []) {
    if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) failed++;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(problems > 0 ? 1 : 0);
