import { describe, expect, it } from 'vitest';
import { durationError, formatDuration, parseDuration } from './duration';

describe('parseDuration', () => {
  it('reads a bare number as hours, decimals included', () => {
    expect(parseDuration('1')).toBe(3600);
    expect(parseDuration('0.75')).toBe(2700);
    expect(parseDuration('1.5')).toBe(5400);
    expect(parseDuration(' 2 ')).toBe(7200);
  });

  it('reads units in the order d, h, m, s', () => {
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('45m')).toBe(2700);
    expect(parseDuration('90m')).toBe(5400);
    expect(parseDuration('1.5h')).toBe(5400);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('1h30m15s')).toBe(5415);
    expect(parseDuration('2d')).toBe(172800);
    expect(parseDuration('1d12h')).toBe(129600);
  });

  it('refuses what the CLI refuses', () => {
    for (const bad of [
      '',
      ' ',
      'h',
      '1x',
      '30m1h',
      '1h1h',
      '1h 30m',
      '-1',
      '0',
      '0s',
      '1.2.3',
      '1hh',
      '367d',
      '1e3',
    ])
      expect(parseDuration(bad), bad).toBeNull();
  });

  it('rounds to whole seconds', () => {
    expect(parseDuration('0.0001')).toBeNull();
    expect(parseDuration('1.5s')).toBe(2);
  });

  it('accepts up to 366 days', () => {
    expect(parseDuration('366d')).toBe(366 * 86400);
    expect(parseDuration('8784')).toBe(366 * 86400);
    expect(parseDuration('8784.1')).toBeNull();
  });
});

describe('formatDuration', () => {
  it('prints the compact form the CLI prints', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(-5)).toBe('0s');
    expect(formatDuration(45)).toBe('45s');
    expect(formatDuration(552)).toBe('9m12s');
    expect(formatDuration(3600)).toBe('1h');
    expect(formatDuration(5400)).toBe('1h30m');
    expect(formatDuration(90061)).toBe('25h1m1s');
  });

  it('round-trips through parseDuration', () => {
    for (const s of [1, 59, 60, 61, 3599, 3600, 5415, 86400, 366 * 86400])
      expect(parseDuration(formatDuration(s))).toBe(s);
  });
});

describe('durationError', () => {
  it('is silent for an empty field: the flow default applies', () => {
    expect(durationError('')).toBeNull();
  });
  it('explains a malformed value like the CLI', () => {
    expect(durationError('soon')).toBe(
      "invalid duration 'soon': use hours (0.75) or 90s, 45m, 1h30m",
    );
  });
  it('names the flow maximum', () => {
    expect(durationError('3h', 7200)).toBe("3h is over the access flow's maximum of 2h");
    expect(durationError('2h', 7200)).toBeNull();
  });
});
