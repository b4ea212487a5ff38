import { mergeConfig } from 'vitest/config';
import { hvsimProject } from '../../vitest.shared.ts';

// The tests run the command line as `pnpm hvsim` does: from its bundle, built (when stale) once first.
export default mergeConfig(hvsimProject('cli'), { test: { globalSetup: ['scripts/vitest-setup.mjs'] } });
