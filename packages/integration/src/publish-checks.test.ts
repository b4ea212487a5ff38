import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * `pnpm check:publish` (turbo runs each package's `check:publish`) is what stands between a broken
 * tarball and npm: every package that is published, the command line included, must have it, and the
 * root script must run it.
 */

const root = new URL('../../../', import.meta.url).pathname;

interface Manifest {
  name: string;
  private?: boolean;
  files?: string[];
  scripts?: Record<string, string>;
  publishConfig?: { access?: string };
}

function manifests(): Array<{ dir: string; manifest: Manifest }> {
  return ['packages', 'apps'].flatMap((group) =>
    readdirSync(join(root, group)).map((name) => ({
      dir: `${group}/${name}`,
      manifest: JSON.parse(readFileSync(join(root, group, name, 'package.json'), 'utf8')) as Manifest,
    })),
  );
}

describe('check:publish', () => {
  const published = manifests().filter(({ manifest }) => manifest.private !== true);

  it('covers every published package, the hvsim command line among them', () => {
    expect(published.map(({ manifest }) => manifest.name)).toContain('hvsim');
    for (const { dir, manifest } of published) {
      expect({ dir, script: manifest.scripts?.['check:publish'] }).toEqual({
        dir,
        script: 'bash ../../scripts/check-publish.sh',
      });
      // What is packed: the build, and data files some packages read at run time.
      expect({ dir, dist: manifest.files?.includes('dist'), access: manifest.publishConfig?.access }).toEqual(
        {
          dir,
          dist: true,
          access: 'public',
        },
      );
    }
  });

  it('is what the root script runs, after each package is built', () => {
    const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
    expect(rootManifest.scripts?.['check:publish']).toBe('turbo run check:publish');
    const turbo = JSON.parse(readFileSync(join(root, 'turbo.json'), 'utf8')) as {
      tasks: Record<string, { dependsOn?: string[] }>;
    };
    expect(turbo.tasks['check:publish']?.dependsOn).toContain('build');
  });
});
