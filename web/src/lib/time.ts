// Times for people: local wall-clock times in the CLI's layout (`2026-11-22 16:00:00`) and the
// relative forms it prints (`in 9m12s`, `3m ago`, `ended`).
import { formatDuration } from './duration';

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/// Milliseconds since the epoch for an RFC 3339 string; NaN when it does not parse.
export function instant(iso: string | null | undefined): number {
  return iso ? Date.parse(iso) : Number.NaN;
}

/// `2026-11-22 16:00:00` in the browser's time zone (`seconds: false` drops the seconds).
export function localTime(t: string | number | Date, seconds = true): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}${seconds ? `:${pad(d.getSeconds())}` : ''}`;
  return `${date} ${time}`;
}

/// The browser's short time zone name (`UTC`, `CET`, `GMT+2`).
export function zoneName(at: Date = new Date()): string {
  const part = new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' })
    .formatToParts(at)
    .find((p) => p.type === 'timeZoneName');
  return part?.value ?? '';
}

/// `in 9m12s` while `end` is ahead, `ended` once it has passed (the CLI's time_left).
export function timeLeft(end: string | null | undefined, now: number): string {
  const t = instant(end);
  if (Number.isNaN(t)) return '';
  const left = Math.floor((t - now) / 1000);
  return left > 0 ? `in ${formatDuration(left)}` : 'ended';
}

/// Whole seconds until `end` (negative once passed); null without an end.
export function secondsLeft(end: string | null | undefined, now: number): number | null {
  const t = instant(end);
  return Number.isNaN(t) ? null : Math.floor((t - now) / 1000);
}

/// `in 9m12s` or `3m ago`, to the second (the CLI's `requests describe`).
export function relative(at: string | null | undefined, now: number): string {
  const t = instant(at);
  if (Number.isNaN(t)) return '';
  const d = Math.round((t - now) / 1000);
  if (d > 0) return `in ${formatDuration(d)}`;
  return `${formatDuration(-d)} ago`;
}

/// A coarse age for lists (`just now`, `5m ago`, `3h ago`, `2d ago`): lists are read at a glance.
export function age(at: string | null | undefined, now: number): string {
  const t = instant(at);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
