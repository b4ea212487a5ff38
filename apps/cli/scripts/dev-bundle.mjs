// The development build of the hvsim command line: apps/cli/src/main.ts and the TypeScript sources of
// the workspace packages it uses (the `@hvsim/source` condition), bundled by esbuild into one ES
// module, so `pnpm hvsim` starts without transpiling TypeScript (tsx took about 0.5-1 s at every run).
// The bundle lives in node_modules/.cache/hvsim, and `ensureBundle` rebuilds it whenever one of the
// files it was built from changed: checking costs one stat per file, a few milliseconds.
//
// Two things differ from a plain bundle, so the bundle behaves as the sources do:
// - Third-party packages are not bundled but imported from where the sources would import them (as
//   absolute file: URLs): with pnpm most are not resolvable from apps/cli, and some locate files of
//   their own (tinypool starts its worker script, chart.js is read as a file).
// - `import.meta.url` in a workspace source file is replaced by that file's own URL, so code that finds
//   files beside it (sim's presets, scenario's bundled examples, the CLI's package.json, report's
//   chart.js lookup) finds them from the bundle too. Except in the files of KEEP_BUNDLE_URL: sim's
//   pool starts `./worker.js` beside its module when that module is JavaScript, so there the URL stays
//   the bundle's and the pool worker is bundled beside it as worker.js.
import {
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cliDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = resolve(cliDir, '../..');
const simDir = realpathSync(join(cliDir, 'node_modules/@hvsim/sim'));

/** Where the bundle is written (inside node_modules, so git, biome and turbo leave it alone). */
export const bundleDir = join(cliDir, 'node_modules/.cache/hvsim');
/** The bundled command line, as a file: URL to import. */
export const bundleUrl = pathToFileURL(join(bundleDir, 'main.js')).href;
const manifestPath = join(bundleDir, 'inputs.json');

/** Source files whose `import.meta.url` must stay the bundle's (see the top of this file). */
const KEEP_BUNDLE_URL = [join(simDir, 'src/pool.ts')];

/**
 * Files that change the bundle without being part of it: this script, the install (pnpm's lockfile
 * in node_modules: a dependency moved), and the TypeScript base configuration.
 */
const EXTRA_INPUTS = [
  fileURLToPath(import.meta.url),
  join(repoRoot, 'node_modules/.pnpm/lock.yaml'),
  join(repoRoot, 'tsconfig.base.json'),
];

const builtins = new Set(builtinModules);

function fingerprint(path) {
  try {
    const { mtimeMs, size } = statSync(path);
    return [mtimeMs, size];
  } catch {
    return null;
  }
}

/** Whether the bundle exists and every file it was built from is as it was then. */
export function bundleIsFresh() {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch {
    return false;
  }
  for (const [path, recorded] of Object.entries(manifest.inputs)) {
    const now = fingerprint(path);
    if (now === null || now[0] !== recorded[0] || now[1] !== recorded[1]) return false;
  }
  return true;
}

/** Rebuilds the bundle when it is missing or stale. */
export async function ensureBundle() {
  if (!bundleIsFresh()) await buildBundle();
}

function inNodeModules(path) {
  return path.split(sep).includes('node_modules');
}

/** The nearest package.json and tsconfig.json above a source file: they steer how it is resolved and compiled. */
function packageFilesOf(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      return [join(dir, 'package.json'), join(dir, 'tsconfig.json')].filter((f) => existsSync(f));
    }
  }
  return [];
}

const thirdPartyExternal = {
  name: 'third-party-external',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === 'resolving') return undefined;
      if (args.path.startsWith('node:') || builtins.has(args.path)) return { external: true };
      const result = await build.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: 'resolving',
      });
      if (result.errors.length > 0) return { errors: result.errors };
      if (!inNodeModules(result.path)) return result; // a workspace package: bundle its source
      return { path: pathToFileURL(result.path).href, external: true };
    });
  },
};

const ownImportMetaUrl = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => {
      if (inNodeModules(args.path) || KEEP_BUNDLE_URL.includes(args.path)) return undefined;
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      return {
        contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
        loader: /\.[cm]?ts$/.test(args.path) ? 'ts' : 'js',
      };
    });
  },
};

/** Builds the bundle (main.js and the sweep worker, worker.js) and records what it was built from. */
export async function buildBundle() {
  const { build } = await import('esbuild');
  const started = Date.now();
  const result = await build({
    entryPoints: { main: join(cliDir, 'src/main.ts'), worker: join(simDir, 'src/worker.ts') },
    outdir: bundleDir,
    absWorkingDir: repoRoot,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@hvsim/source'],
    sourcemap: 'linked',
    metafile: true,
    write: false,
    logLevel: 'error',
    plugins: [thirdPartyExternal, ownImportMetaUrl],
  });
  const sources = Object.keys(result.metafile.inputs)
    .filter((input) => !input.includes(':'))
    .map((input) => resolve(repoRoot, input));
  for (const keep of KEEP_BUNDLE_URL) {
    if (!sources.includes(keep)) {
      throw new Error(
        `dev-bundle.mjs: ${relative(repoRoot, keep)} is no longer part of the CLI; update KEEP_BUNDLE_URL`,
      );
    }
  }
  const inputs = {};
  for (const path of new Set([...sources, ...sources.flatMap(packageFilesOf), ...EXTRA_INPUTS])) {
    const now = fingerprint(path);
    // A file changed while the build ran may not be in the bundle: record it as stale.
    inputs[path] = now === null || now[0] >= started ? [0, 0] : now;
  }
  mkdirSync(bundleDir, { recursive: true });
  // Every file through a temporary one and a rename: another hvsim starting meanwhile sees whole files.
  const writeWhole = (path, contents) => {
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, contents);
    renameSync(temporary, path);
  };
  writeWhole(join(bundleDir, 'package.json'), '{ "type": "module" }\n');
  for (const file of result.outputFiles) writeWhole(file.path, file.contents);
  writeWhole(manifestPath, `${JSON.stringify({ inputs })}\n`);
}
