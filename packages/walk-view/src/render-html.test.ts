import { loadBundledScenario } from '@hvsim/scenario/node';
import { describe, expect, it } from 'vitest';
import { explainScenario } from './document.js';
import { renderDocumentHtml, renderWalkHtml } from './render-html.js';

describe('renderWalkHtml', () => {
  const html = renderWalkHtml(loadBundledScenario('amd-npt-4x4'), { source: 'amd-npt-4x4', access: 1 });

  it('writes one self-contained page: inline style and script, no external request', () => {
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|@import|url\(/i);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html.match(/<script>/g)).toHaveLength(1);
    expect(html).toContain('<title>amd-npt-4x4</title>');
  });

  it('embeds the document and the source of mountWalkView, which compiles as a script', () => {
    const script = html.slice(html.indexOf('<script>') + '<script>'.length, html.lastIndexOf('</script>'));
    expect(script).toContain('function mountWalkView(root, doc, options = {})');
    // One view on the page: the keys step it wherever the focus is.
    expect(script.trimEnd().endsWith(', { pageKeys: true });')).toBe(true);
    expect(() => new Function(script)).not.toThrow();
    const json = script.slice(
      script.lastIndexOf(', {"format"') + 2,
      script.lastIndexOf(', { pageKeys: true });'),
    );
    const doc = JSON.parse(json);
    expect(doc.initial).toEqual({ variant: 0, access: 1, caches: 0 });
    expect(doc.variants[0].accesses[1].walks[0].outcome.fields[0]).toEqual({
      name: 'exitInfo1',
      value: '0x100000007',
    });
  });

  it('keeps a scenario name that looks like markup from closing the script or the title', () => {
    const doc = explainScenario(loadBundledScenario('long4'), { title: '</script><b>x</b>' });
    const page = renderDocumentHtml({ ...doc, variants: [{ ...doc.variants[0], name: '</script><!--' }] });
    expect(page).toContain('<title>&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;</title>');
    expect(page.match(/<\/script>/g)).toHaveLength(1);
    expect(page).not.toContain('<!--');
  });
});
