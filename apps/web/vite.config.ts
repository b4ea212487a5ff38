import { defaultClientConditions, defineConfig } from 'vite';

// Workspace packages resolve to their TypeScript source (the `@hvsim/source` export condition), as
// in tests: no package build is needed before `vite` or `vite build`.
export default defineConfig({
  base: './',
  resolve: { conditions: ['@hvsim/source', ...defaultClientConditions] },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  build: { target: 'es2022', sourcemap: true },
});
