import { defineConfig } from 'vitest/config';

// For local work: `pnpm vitest` at the root runs every package's tests as one vitest projects run.
export default defineConfig({
  test: { projects: ['packages/*/vitest.config.ts', 'apps/*/vitest.config.ts', 'examples/vitest.config.ts'] },
});
