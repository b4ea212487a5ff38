import { defaultClientConditions, defineConfig } from 'vite';

// Workspace packages resolve to their TypeScript source (the `@hvsim/source` export condition), as
// in tests: no package build is needed before `vite` or `vite build`.
export default defineConfig({
  base: './',
  resolve: { conditions: ['@hvsim/source', ...defaultClientConditions] },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  build: {
    target: 'es2022',
    sourcemap: true,
    rollupOptions: {
      // zod's sources carry comments in places Rollup's annotation reader does not expect; Rollup drops
      // them and says so for each. Nothing is lost (they are documentation, not tree-shaking hints
      // Rollup could use), so that one notice about third-party code is not shown; every other is.
      onwarn(warning, warn) {
        if (warning.code === 'INVALID_ANNOTATION' && /node_modules[\\/].*zod/.test(warning.id ?? '')) return;
        warn(warning);
      },
    },
  },
});
