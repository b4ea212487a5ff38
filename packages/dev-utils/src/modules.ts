import { readFileSync } from 'node:fs';

/**
 * The source files a module reaches through relative imports (`from './x.js'`, resolved to `x.ts`
 * beside it), the entry included, each with its text: what a browser bundle of that entry would
 * hold of the package.
 */
export function reachableModules(entry: URL): Map<string, string> {
  const seen = new Map<string, string>();
  const queue = [entry.href];
  while (queue.length > 0) {
    const href = queue.pop()!;
    if (seen.has(href)) continue;
    const text = readFileSync(new URL(href), 'utf8');
    seen.set(href, text);
    for (const match of text.matchAll(/from '(\.\/[^']+)\.js'/g))
      queue.push(new URL(`${match[1]}.ts`, href).href);
  }
  return seen;
}

/** Whether a module's text imports a Node built-in or uses `process`. */
export function usesNode(text: string): boolean {
  return /from 'node:|from '(fs|path|url|stream)'|process\./.test(text);
}
