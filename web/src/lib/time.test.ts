import { describe, expect, it } from 'vitest';
import { age, localTime, relative, secondsLeft, timeLeft } from './time';

// package.json runs the tests with TZ=UTC, so local time is UTC here.
const NOW = Date.parse('2026-11-22T15:30:48.000Z');

describe('localTime', () => {
  it('prints the CLI layout in local time', () => {
    expect(localTime('2026-11-22T16:00:00.000Z')).toBe('2026-11-22 16:00:00');
    expect(localTime('2026-11-22T16:00:05.000Z', false)).toBe('2026-11-22 16:00');
    expect(localTime(Date.parse('2026-01-02T03:04:05Z'))).toBe('2026-01-02 03:04:05');
  });
  it('gives back what it cannot read', () => {
    expect(localTime('soon')).toBe('soon');
  });
});

describe('timeLeft', () => {
  it('ticks down to the second', () => {
    expect(timeLeft('2026-11-22T16:00:00.000Z', NOW)).toBe('in 29m12s');
    expect(timeLeft('2026-11-22T16:00:00.000Z', NOW + 1000)).toBe('in 29m11s');
    expect(timeLeft('2026-11-22T15:30:49.000Z', NOW)).toBe('in 1s');
  });
  it('says ended once the end has passed', () => {
    expect(timeLeft('2026-11-22T15:30:48.000Z', NOW)).toBe('ended');
    expect(timeLeft('2026-11-22T15:00:00.000Z', NOW)).toBe('ended');
  });
  it('is empty without an end', () => {
    expect(timeLeft(null, NOW)).toBe('');
    expect(secondsLeft(null, NOW)).toBeNull();
    expect(secondsLeft('2026-11-22T15:31:00.000Z', NOW)).toBe(12);
  });
});

describe('relative and age', () => {
  it('reads both ways', () => {
    expect(relative('2026-11-22T15:27:48.000Z', NOW)).toBe('3m ago');
    expect(relative('2026-11-22T17:00:48.000Z', NOW)).toBe('in 1h30m');
  });
  it('rounds ages for lists', () => {
    expect(age('2026-11-22T15:30:40.000Z', NOW)).toBe('just now');
    expect(age('2026-11-22T15:20:48.000Z', NOW)).toBe('10m ago');
    expect(age('2026-11-22T10:30:48.000Z', NOW)).toBe('5h ago');
    expect(age('2026-11-19T15:30:48.000Z', NOW)).toBe('3d ago');
    expect(age('2026-11-22T15:40:48.000Z', NOW)).toBe('just now');
  });
});
