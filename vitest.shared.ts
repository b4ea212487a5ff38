import { defineConfig } from 'vitest/config';

/**
 * The vitest settings every package shares: resolve workspace packages to their TypeScript source
 * (the `@hvsim/source` export condition), and write a JSON report that `.ci/run` totals.
 */
export function hvsimProject(name: string) {
  return defineConfig({
    resolve: { conditions: ['@hvsim/source', 'module', 'node', 'import', 'default'] },
    ssr: { resolve: { conditions: ['@hvsim/source', 'module', 'node', 'import', 'default'] } },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      reporters: ['default', ['json', { outputFile: '.reports/vitest.json' }]],
      testTimeout: 60_000,
    },
  });
}
