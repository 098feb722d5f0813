// Grant durations as people type them, read exactly as the CLI and the broker read them
// (common/duration.cpp): a bare number is hours (`0.75`, `1.5`), otherwise numbers with the
// units d, h, m, s in that order, each at most once (`90m`, `1.5h`, `1h30m`, `2d`).

/// The longest duration anyone may ask for: 366 days, in seconds.
export const MAX_DURATION_SECONDS = 366 * 24 * 3600;

const UNITS: Record<string, { rank: number; scale: number }> = {
  d: { rank: 3, scale: 86400 },
  h: { rank: 2, scale: 3600 },
  m: { rank: 1, scale: 60 },
  s: { rank: 0, scale: 1 },
};

// A non-negative decimal at `pos` (digits with at most one dot, at most 20 characters).
function readNumber(text: string, pos: number): { value: number; end: number } | null {
  let end = pos;
  let dot = false;
  let digit = false;
  while (end < text.length) {
    const c = text[end]!;
    if (c >= '0' && c <= '9') digit = true;
    else if (c === '.' && !dot) dot = true;
    else break;
    end++;
  }
  if (!digit || end - pos > 20) return null;
  return { value: Number.parseFloat(text.slice(pos, end)), end };
}

/// Seconds for a duration as typed; null when it is malformed, zero, negative or over 366 days.
export function parseDuration(input: string): number | null {
  const text = input.replace(/^ +| +$/g, '');
  if (text === '') return null;
  const first = readNumber(text, 0);
  if (!first) return null;
  let total = 0;
  if (first.end === text.length) {
    total = first.value * 3600; // a bare number is hours
  } else {
    let pos = first.end;
    let value = first.value;
    let lastRank = 4;
    for (;;) {
      const unit = UNITS[text[pos] ?? ''];
      if (!unit || unit.rank >= lastRank) return null;
      lastRank = unit.rank;
      total += value * unit.scale;
      pos++;
      if (pos === text.length) break;
      const next = readNumber(text, pos);
      if (!next) return null;
      value = next.value;
      pos = next.end;
    }
  }
  if (!Number.isFinite(total) || total > MAX_DURATION_SECONDS) return null;
  const seconds = Math.round(total);
  return seconds > 0 ? seconds : null;
}

/// `1h30m`, `9m12s`, `45s`, `0s`: the CLI's compact form (hours are not folded into days).
export function formatDuration(seconds: number): string {
  let s = Math.floor(seconds);
  if (s <= 0) return '0s';
  let out = '';
  if (s >= 3600) {
    out += `${Math.floor(s / 3600)}h`;
    s %= 3600;
  }
  if (s >= 60) {
    out += `${Math.floor(s / 60)}m`;
    s %= 60;
  }
  if (s > 0) out += `${s}s`;
  return out;
}

/// Why a typed duration is refused, in the CLI's words; null when it is fine.
export function durationError(input: string, maxSeconds?: number | null): string | null {
  if (input.trim() === '') return null; // the flow's default applies
  const s = parseDuration(input);
  if (s === null) return `invalid duration '${input.trim()}': use hours (0.75) or 90s, 45m, 1h30m`;
  if (maxSeconds && s > maxSeconds)
    return `${formatDuration(s)} is over the access flow's maximum of ${formatDuration(maxSeconds)}`;
  return null;
}
