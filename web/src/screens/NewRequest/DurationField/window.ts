// The window a duration would give if the grant started now: absolute local start and end.
import { formatDuration, parseDuration } from '../../../lib/duration';
import { localTime, zoneName } from '../../../lib/time';

export interface DurationWindow {
  seconds: number;
  /// `1h30m`.
  text: string;
  start: string;
  end: string;
  zone: string;
}

export function durationWindow(input: string, now: number): DurationWindow | null {
  const s = parseDuration(input);
  if (s === null) return null;
  const start = new Date(now);
  const end = new Date(now + s * 1000);
  return {
    seconds: s,
    text: formatDuration(s),
    start: localTime(start, false),
    end: localTime(end, false),
    zone: zoneName(end),
  };
}

/// Quick choices, in the CLI's notation, that fit under the cap.
export function presets(maxSeconds: number | null): string[] {
  const all = ['30m', '1h', '2h', '4h', '8h', '1d'];
  return all.filter((p) => !maxSeconds || (parseDuration(p) ?? 0) <= maxSeconds);
}
