import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, createLogger } from 'vite';
import { describe, expect, it } from 'vitest';
import { appDir } from './harness.js';

/* `pnpm --filter web build` as a user runs it: the site builds without a warning (Rollup's included). */

describe('the web build', () => {
  it('prints no warning', async () => {
    const warnings: string[] = [];
    const logger = createLogger('warn');
    logger.warn = (message) => {
      warnings.push(message);
    };
    logger.warnOnce = (message) => {
      warnings.push(message);
    };
    const outDir = await mkdtemp(join(tmpdir(), 'hvsim-web-build-'));
    try {
      await build({ root: appDir, customLogger: logger, build: { outDir, emptyOutDir: true } });
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
    expect(warnings).toEqual([]);
  }, 120_000);
});
