import { describe, expect, it } from 'vitest';
import { etaText } from './progress.js';

describe('the progress bar', () => {
  // cli-progress's options as it fills them in: '0' pads to two digits.
  const options = { autopaddingChar: '0' };

  it("shows time left in cli-progress's format, and ? while there is no estimate", () => {
    expect(etaText(7, options, 1)).toBe('07s');
    expect(etaText(125, options, 1)).toBe('02m05s');
    expect(etaText(5400, options, 1)).toBe('01h30m');
    // cli-progress says NULL before it can estimate and INF when nothing moves; cut to two
    // characters they read "LLs" and "NFs".
    expect(etaText('NULL', options, 1)).toBe('?');
    expect(etaText('INF', options, 1)).toBe('?');
  });
});
