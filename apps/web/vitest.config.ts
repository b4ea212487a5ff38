import { mergeConfig } from 'vitest/config';
import { hvsimProject } from '../../vitest.shared.ts';

// Unit tests in src/, and the end-to-end tests in e2e/, which build the site and drive Debian's
// Chromium through playwright-core. One project, so `pnpm test` (and CI) runs both.
export default mergeConfig(hvsimProject('web'), {
  test: {
    include: ['e2e/**/*.test.ts'],
    hookTimeout: 120_000,
  },
});
