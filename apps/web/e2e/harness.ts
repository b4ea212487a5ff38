import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { build } from 'vite';

/*
 * What the end-to-end tests stand on: the site built by Vite into a temporary folder, a small static
 * server on 127.0.0.1 at a free port, and Debian's Chromium (installed by scripts/setup-browser.sh)
 * driven by playwright-core. Playwright's own browser download cannot work here.
 */

export const CHROMIUM = '/usr/bin/chromium';
export const appDir = fileURLToPath(new URL('..', import.meta.url));
export const artifactDir = join(appDir, 'test-artifacts');

/**
 * Whether to run: yes when Chromium is there; in CI (CI set) its absence is an error; elsewhere the
 * tests are skipped with a warning.
 */
export function browserAvailable(path = CHROMIUM, ci = Boolean(process.env.CI)): boolean {
  if (existsSync(path)) return true;
  const hint = `${path} is missing: run scripts/setup-browser.sh (it installs Debian's chromium) to run the end-to-end tests`;
  if (ci) throw new Error(`e2e: ${hint}`);
  console.warn(`e2e: skipped: ${hint}`);
  return false;
}

/** Chromium as this machine runs it: headless, no sandbox (root), no network chatter, a fresh profile. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Playwright starts Chromium with a new, empty --user-data-dir of its own.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Builds the site with the app's Vite configuration into a new temporary folder. */
export async function buildSite(): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), 'hvsim-web-'));
  await build({ root: appDir, logLevel: 'error', build: { outDir, emptyOutDir: true, sourcemap: false } });
  return outDir;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
};

/** Serves `dir` (and `extra`, path to body) on 127.0.0.1 at a free port. */
export async function serve(
  dir: string,
  extra: Record<string, string> = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    if (extra[path] !== undefined) {
      response.writeHead(200, { 'content-type': TYPES['.html'] });
      response.end(extra[path]);
      return;
    }
    const file = normalize(join(dir, path === '/' ? 'index.html' : path));
    if (!file.startsWith(dir)) {
      response.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      response.end(body);
    } catch {
      response.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Removes a folder made by `buildSite`. */
export function removeSite(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** WCAG 2.x contrast ratio of two CSS colours `rgb(…)`/`rgba(…)` (alpha ignored: opaque colours). */
export function contrastRatio(a: string, b: string): number {
  const luminance = (css: string) => {
    const [r, g, bl] = (css.match(/[\d.]+/g) ?? []).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}
