import { afterEach, describe, expect, it, vi } from 'vitest';
import { browserAvailable, contrastRatio } from './harness.ts';

describe('the e2e harness', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('fails in CI when Chromium is missing, and only warns elsewhere', () => {
    expect(() => browserAvailable('/no/such/chromium', true)).toThrow(
      'e2e: /no/such/chromium is missing: run scripts/setup-browser.sh',
    );
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(browserAvailable('/no/such/chromium', false)).toBe(false);
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/^e2e: skipped: \/no\/such\/chromium is missing/),
    );
  });

  it('computes WCAG contrast ratios (black on white 21:1, #767676 on white about 4.54:1)', () => {
    expect(contrastRatio('rgb(0, 0, 0)', 'rgb(255, 255, 255)')).toBeCloseTo(21, 5);
    expect(contrastRatio('rgb(118, 118, 118)', 'rgb(255, 255, 255)')).toBeCloseTo(4.54, 2);
    expect(contrastRatio('rgb(255, 255, 255)', 'rgb(255, 255, 255)')).toBe(1);
  });
});
