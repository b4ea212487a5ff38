#!/usr/bin/env node
// `pnpm hvsim` in the hvsim repository: runs the command line from its esbuild bundle, rebuilt first
// when a source file changed since it was built (see dev-bundle.mjs).
import { bundleUrl, ensureBundle } from './dev-bundle.mjs';

if (process.env.HVSIM_DEBUG) process.setSourceMapsEnabled(true); // stack traces in the TypeScript sources
try {
  await ensureBundle();
} catch (error) {
  // esbuild has printed the errors (file, line, column); anything else gets its message.
  if (!error?.errors)
    process.stderr.write(`hvsim: cannot build the command line: ${error?.message ?? error}\n`);
  process.exit(1);
}
// `pnpm hvsim` runs this from the repository root; the folder it was typed in is INIT_CWD (set by
// pnpm and npm for their scripts). Relative paths the user gives (`--trace t.lackey`, `-o out.json`)
// mean that folder, so the command runs there.
if (process.env.npm_lifecycle_event === 'hvsim' && process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);
await import(bundleUrl);
