import { describe, expect, it } from 'vitest';
import { durationWindow, presets } from './window';

describe('durationWindow', () => {
  it('gives the local start and end of a grant starting now', () => {
    const now = Date.parse('2026-11-22T14:05:30Z');
    expect(durationWindow('1.5h', now)).toEqual({
      seconds: 5400,
      text: '1h30m',
      start: '2026-11-22 14:05',
      end: '2026-11-22 15:35',
      zone: 'UTC',
    });
    expect(durationWindow('2d', now)?.end).toBe('2026-11-24 14:05');
    expect(durationWindow('nope', now)).toBeNull();
  });
});

describe('presets', () => {
  it('offers only what the flow allows', () => {
    expect(presets(null)).toEqual(['30m', '1h', '2h', '4h', '8h', '1d']);
    expect(presets(7200)).toEqual(['30m', '1h', '2h']);
  });
});
