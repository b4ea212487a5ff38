import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseResult, parseScenario } from '@hvsim/scenario';
import { loadBundledScenario } from '@hvsim/scenario/node';
import { explainScenario, renderSequenceHtml, renderWalkHtml } from '@hvsim/walk-view';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appDir,
  artifactDir,
  browserAvailable,
  buildSite,
  contrastRatio,
  launchChromium,
  removeSite,
  serve,
} from './harness.ts';

/*
 * The site as a person uses it, in Debian's Chromium: the built app (vite build) and the page
 * `hvsim explain --html` writes, both served on 127.0.0.1. Expected values come from the bundled
 * scenario's hand-derived expected file, not from the program.
 */

const expectedFile = join(appDir, '../../packages/scenario/scenarios/amd-npt-4x4.expected.json');
const expected = parseResult(readFileSync(expectedFile, 'utf8'), expectedFile);

describe.skipIf(!browserAvailable())('the walk view in Chromium', () => {
  let site = '';
  let server: { url: string; close: () => Promise<void> };
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(artifactDir, { recursive: true });
    site = await buildSite();
    const explained = renderWalkHtml(loadBundledScenario('amd-npt-4x4'), { source: 'amd-npt-4x4' });
    const sequence = renderSequenceHtml(loadBundledScenario('seq-amd-tlb-control-7'));
    server = await serve(site, { '/explain.html': explained, '/sequence.html': sequence });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (site !== '') await removeSite(site);
  });

  async function open(path: string): Promise<Page> {
    // A laptop screen.
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.url}${path}`);
    await page.locator('.hv-walk').waitFor();
    expect(errors).toEqual([]);
    return page;
  }

  const current = (page: Page) => page.locator('.hv-cell[aria-current="step"]');

  it('steps through all 24 references of the 4x4 walk with the step key, one number at a time', async () => {
    const page = await open('/#scenario=amd-npt-4x4');
    const view = page.locator('.hv-walk');
    await expect.poll(() => view.getAttribute('data-made')).toBe('24');
    expect(await current(page).count()).toBe(0);
    await page.locator('.hv-grid-wrap').focus();
    for (let step = 1; step <= 24; step++) {
      await page.keyboard.press('ArrowRight');
      expect(await current(page).getAttribute('data-order')).toBe(String(step));
      expect(await page.locator('.hv-position').textContent()).toBe(`Reference ${step} of 24.`);
    }
    // The last reference is the final walk's nested PTE; one more press stays there.
    expect(await page.locator('.hv-detail h3').textContent()).toBe('Reference 24: nested PTE');
    await page.keyboard.press('ArrowRight');
    expect(await current(page).getAttribute('data-order')).toBe('24');
    await page.keyboard.press('ArrowLeft');
    expect(await current(page).getAttribute('data-order')).toBe('23');
    await page.screenshot({ path: join(artifactDir, 'walk-4x4.png'), fullPage: true });
    await page.close();
  });

  it("decodes the nested page fault of access 1 as the scenario's expected result says", async () => {
    const npf = expected.results[1];
    if (npf.outcome !== 'nested-page-fault') throw new Error('amd-npt-4x4 access 1 is expected to be an NPF');
    const page = await open('/#scenario=amd-npt-4x4');
    await page.locator('select[data-control="access"]').selectOption('1');
    const outcome = page.locator('.hv-outcome');
    expect(await outcome.locator('[data-outcome]').getAttribute('data-outcome')).toBe('nested-page-fault');
    expect(await outcome.locator('[data-field="exitInfo1"]').textContent()).toBe(
      `0x${npf.exitInfo1.toString(16)}`,
    );
    expect(await outcome.locator('[data-field="exitInfo2"]').textContent()).toBe(
      `0x${npf.exitInfo2.toString(16)}`,
    );
    // Every set bit of EXITINFO1 is named, and only those are marked set.
    const setBits = [...Array(64).keys()].filter((bit) => ((npf.exitInfo1 >> BigInt(bit)) & 1n) === 1n);
    const rows = outcome.locator('table[data-decoded="fault"] tr[data-set="1"]');
    expect(await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-bit'))))).toEqual(
      setBits,
    );
    const names = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-name')));
    // AMD APM vol. 2 §15.25.6: P, RW, US as in a #PF error code; bit 32 the final guest-physical address.
    expect(names).toEqual(['P', 'RW', 'US', 'final']);
    // The faulting reference is the 24th, the nested PTE of the final walk.
    expect(await outcome.locator('[data-field="faultingReference"]').textContent()).toBe('24 (nested PTE)');
    await page.locator('[data-action="last"]').click();
    expect(await current(page).getAttribute('data-order')).toBe('24');
    expect(await current(page).getAttribute('class')).toContain('hv-fault');
    await page.screenshot({ path: join(artifactDir, 'walk-4x4-npf.png'), fullPage: true });
    await page.close();
  });

  it('works from the keyboard alone: Tab to the controls, Enter and Space on the buttons, arrows, a cache toggle', async () => {
    const page = await open('/#scenario=amd-npt-4x4');
    const focused = () =>
      page.evaluate(() => {
        const e = document.activeElement as HTMLElement | null;
        return e?.getAttribute('data-action') ?? e?.getAttribute('data-cache') ?? e?.tagName ?? '';
      });
    let tabs = 0;
    while ((await focused()) !== 'next' && tabs++ < 60) await page.keyboard.press('Tab');
    expect(await focused()).toBe('next');
    // The focus is visible.
    const outline = await page.evaluate(
      () => getComputedStyle(document.activeElement as Element).outlineStyle,
    );
    expect(outline).not.toBe('none');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Space');
    await page.keyboard.press('ArrowRight');
    expect(await current(page).getAttribute('data-order')).toBe('3');
    await page.keyboard.press('End');
    expect(await current(page).getAttribute('data-order')).toBe('24');
    await page.keyboard.press('Home');
    expect(await current(page).count()).toBe(0);
    // Back to the guest walk cache toggle: with it on, 9 references remain (Bhargava et al.: 1 + 4 + 4).
    while ((await focused()) !== 'guest walk cache' && tabs++ < 120) await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Space');
    expect(await page.locator('.hv-walk').getAttribute('data-made')).toBe('9');
    expect(await page.locator('.hv-cell[data-state="saved"]').count()).toBe(15);
    await page.close();
  });

  it('has readable contrast: WCAG AA 4.5:1 for body text, muted text, buttons and the current reference', async () => {
    const page = await open('/#scenario=amd-npt-4x4');
    await page.locator('[data-action="next"]').click();
    const pairs = await page.evaluate(() => {
      const background = (e: Element | null): string => {
        for (let n = e; n !== null; n = n.parentElement) {
          const c = getComputedStyle(n).backgroundColor;
          if (c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c;
        }
        return 'rgb(255, 255, 255)';
      };
      const selectors = [
        'body',
        '.app-head p',
        '.hv-about',
        '.hv-modes',
        '.hv-keys',
        '.hv-gpa',
        '.hv-button[data-action="next"]',
        '.hv-cell.hv-cur',
        '.hv-cell.hv-made',
        '.hv-bits td',
        '.hv-bits tr.hv-set td',
        '.hv-summary',
        '.hv-tlb-table td',
      ];
      return selectors.map((s) => {
        const e = document.querySelector(s);
        if (e === null) return { s, fg: '', bg: '' };
        return { s, fg: getComputedStyle(e).color, bg: background(e) };
      });
    });
    for (const { s, fg, bg } of pairs) {
      expect(fg, `${s} is on the page`).not.toBe('');
      expect(contrastRatio(fg, bg), `${s}: ${fg} on ${bg}`).toBeGreaterThanOrEqual(4.5);
    }
    await page.close();
  });

  it('keeps stepping with the arrows after a click elsewhere on the page, in the app and the explain page', async () => {
    for (const path of ['/#scenario=amd-npt-4x4', '/explain.html']) {
      const page = await open(path);
      await page.locator('.hv-grid-wrap').focus();
      await page.keyboard.press('ArrowRight');
      // A click in the page's corner, outside the view, takes the focus out of it.
      await page.mouse.click(2, 2);
      expect(await page.evaluate(() => document.activeElement?.closest('.hv-walk') ?? null)).toBeNull();
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      expect(await current(page).getAttribute('data-order')).toBe('3');
      await page.close();
    }
  });

  it("at a projector's 1024x768 keeps the decoded entry in view at every step", async () => {
    const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
    await page.goto(`${server.url}/#scenario=amd-npt-4x4`);
    await page.locator('.hv-walk').waitFor();
    await page.locator('.hv-grid-wrap').focus();
    const inView = () =>
      page.evaluate(() => {
        const box = document.querySelector('.hv-detail h3')!.getBoundingClientRect();
        return (
          box.top >= 0 && box.bottom <= window.innerHeight && box.left >= 0 && box.right <= window.innerWidth
        );
      });
    for (let step = 1; step <= 24; step++) {
      await page.keyboard.press('ArrowRight');
      expect(await inView(), `reference ${step}`).toBe(true);
    }
    await page.screenshot({ path: join(artifactDir, 'walk-1024x768.png') });
    await page.close();
  });

  it('names the scenario, access, caches and step in the URL, and opens where the URL says', async () => {
    const page = await open('/#scenario=amd-npt-4x4');
    await page.locator('.hv-grid-wrap').focus();
    for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight');
    await page.locator('select[data-control="access"]').selectOption('1');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await expect
      .poll(() => page.evaluate(() => location.hash))
      .toBe('#scenario=amd-npt-4x4&access=1&caches=0&step=2');
    // A bookmark of that address opens the same place: access 1, reference 2.
    const again = await open('/#scenario=amd-npt-4x4&access=1&caches=1&step=2');
    expect(await again.locator('.hv-walk').getAttribute('data-access')).toBe('1');
    expect(await again.locator('.hv-walk').getAttribute('data-caches')).toBe('1');
    expect(await current(again).getAttribute('data-order')).toBe('2');
    await page.close();
    await again.close();
  });

  it('the page hvsim explain writes is the same view, and steps the same way', async () => {
    const page = await open('/explain.html');
    expect(await page.locator('.hv-walk').getAttribute('data-made')).toBe('24');
    await page.locator('.hv-grid-wrap').focus();
    for (let step = 1; step <= 24; step++) await page.keyboard.press('ArrowRight');
    expect(await current(page).getAttribute('data-order')).toBe('24');
    await page.locator('select[data-control="access"]').selectOption('1');
    expect(await page.locator('[data-field="exitInfo1"]').textContent()).toBe('0x100000007');
    await page.screenshot({ path: join(artifactDir, 'explain-4x4.png') });
    await page.close();
  });

  it('opens a scenario file', async () => {
    const page = await open('/#scenario=long4');
    expect(await page.locator('.hv-walk').getAttribute('data-made')).toBe('4');
    await page
      .locator('#file-input')
      .setInputFiles(join(appDir, '../../packages/scenario/scenarios/amd-npt-4x4.json'));
    await expect.poll(() => page.locator('.hv-walk').getAttribute('data-made')).toBe('24');
    expect(await page.locator('.hv-title').textContent()).toBe('amd-npt-4x4.json');
    await page.close();
  });

  it('builds a scenario in the form and switches to large pages: 24, then 19 references', async () => {
    const page = await open('/#scenario=amd-npt-4x4');
    await page.locator('details.source summary').click();
    await page.locator('#build button[type="submit"]').click();
    const view = page.locator('.hv-walk');
    await expect.poll(() => view.getAttribute('data-made')).toBe('24');
    await page.locator('input[data-variant="1"]').check();
    expect(await view.getAttribute('data-made')).toBe('19');
    expect(await page.locator('.hv-cell[data-state="large-page"]').count()).toBe(5);
    expect(await page.locator('#message').textContent()).toBe('');
    // The scenario shown (the large-page variant now) saves as a file that reads back as that scenario.
    const link = page.locator('#export');
    expect(await link.isVisible()).toBe(true);
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('scenario.json');
    const saved = parseScenario(readFileSync(await download.path(), 'utf8'), 'scenario.json', {
      strict: true,
    });
    expect(explainScenario(saved).variants[0].accesses[0].walks[0].made).toBe(19);
    await page.close();
  });
  it('steps through a sequence with the TLB contents: TLB_CONTROL 07h keeps the global page (AMD APM vol. 2 §15.16.1)', async () => {
    const sequence = loadBundledScenario('seq-amd-tlb-control-7');
    const page = await open('/#scenario=seq-amd-tlb-control-7');
    const steps = page.locator('.hv-seq-step');
    expect(await steps.count()).toBe(sequence.steps?.length);
    expect(await page.locator('.hv-position').textContent()).toBe('Step 1 of 7');
    const rows = (table: string) =>
      page
        .locator(`.hv-seq-now table.${table} tbody tr`)
        .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    // Steps 1 and 2 read both pages: the TLBs hold them, the global one (0x10000) global within ASID 1.
    await page.keyboard.press('ArrowRight');
    const held = await rows('hv-seq-caches');
    expect(
      held.some((r) => r[1] === '0x10000-0x10fff' && r[4] === 'ASID 1, any PCID' && r[5]?.includes('G')),
    ).toBe(true);
    expect(held.some((r) => r[1] === '0x11000-0x11fff' && r[4] === 'ASID 1, PCID 0')).toBe(true);
    // Step 5, the world switch with TLB_CONTROL 07h: the non-global page goes, the global one stays.
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    expect(await page.locator('.hv-seq-now h3').first().textContent()).toBe(
      'Step 5: world switch: TLB_CONTROL 07h',
    );
    const removed = await rows('hv-seq-removed');
    expect(removed.some((r) => r[1] === '0x11000-0x11fff')).toBe(true);
    expect(removed.some((r) => r[1] === '0x10000-0x10fff')).toBe(false);
    expect((await rows('hv-seq-caches')).some((r) => r[1] === '0x10000-0x10fff')).toBe(true);
    // Step 6 reads the global page from the TLB; the hash follows the view.
    await page.keyboard.press('ArrowRight');
    expect(await page.locator('.hv-seq-cached').count()).toBe(1);
    expect(await page.locator('.hv-seq-outcome').textContent()).toContain('host-physical 0x410000');
    expect(await page.evaluate(() => location.hash)).toBe('#scenario=seq-amd-tlb-control-7&step=5');
    await page.screenshot({ path: join(artifactDir, 'sequence-tlb-control-7.png'), fullPage: true });
    await page.close();
  });

  it('the sequence page hvsim explain writes is the same view, and steps the same way', async () => {
    const page = await open('/sequence.html');
    expect(await page.locator('.hv-seq-step').count()).toBe(7);
    await page.keyboard.press('End');
    expect(await page.locator('.hv-position').textContent()).toBe('Step 7 of 7');
    // The last step reads the non-global page, which TLB_CONTROL 07h removed: a walk, the new PTE.
    expect(await page.locator('.hv-seq-outcome').textContent()).toBe(
      'ok: guest-physical 0x13000, host-physical 0x413000',
    );
    await page.close();
  });

  it('opens a sequence at the step the hash names, and from a file', async () => {
    const page = await open('/#scenario=seq-intel-invept-single&step=4');
    expect(await page.locator('.hv-seq-now h3').first().textContent()).toBe(
      'Step 5: INVEPT type 1, EPTP 0x100000',
    );
    // An invalid INVEPT descriptor: VMfail with VM-instruction error 28 (SDM vol. 3C, INVEPT).
    expect(await page.locator('.hv-seq-outcome').textContent()).toBe('VMfail, VM-instruction error 28');
    await page
      .locator('#file-input')
      .setInputFiles(join(appDir, '../../packages/scenario/scenarios/seq-noncanonical.json'));
    await expect.poll(() => page.locator('.hv-seq-step').count()).toBe(3);
    await page.locator('.hv-seq-step').nth(1).click();
    expect(await page.locator('.hv-seq-outcome').textContent()).toBe('#GP(0x0)');
    await page.close();
  });
});
