// Hooks shared by the screens: a ticking clock, the live feed, and loading with cancellation.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { StatusEvent } from '../api/types';
import { feed } from './services';

// One timer per period for the whole page, however many components show a time.
const clocks = new Map<
  number,
  { fns: Set<(now: number) => void>; timer: ReturnType<typeof setInterval> }
>();

/// The time now, re-rendering the caller every `period` ms (default: every second, for time
/// left; lists of ages use a minute).
export function useNow(period = 1000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    let c = clocks.get(period);
    if (!c) {
      const fns = new Set<(now: number) => void>();
      const timer = setInterval(() => {
        const t = Date.now();
        for (const fn of fns) fn(t);
      }, period);
      c = { fns, timer };
      clocks.set(period, c);
    }
    c.fns.add(setNow);
    return () => {
      c.fns.delete(setNow);
      if (c.fns.size === 0) {
        clearInterval(c.timer);
        clocks.delete(period);
      }
    };
  }, [period]);
  return now;
}

/// Calls `fn` with every batch of status changes while the caller is mounted.
export function useFeed(fn: (events: StatusEvent[], catchingUp: boolean) => void): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => feed.subscribe((events, catchingUp) => ref.current(events, catchingUp)), []);
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  set: (v: T) => void;
}

/// Runs `load` when `deps` change (aborting the previous run) and on reload().
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const [n, setN] = useState(0);
  useEffect(() => {
    const c = new AbortController();
    setState((s) => ({ ...s, loading: true, error: null }));
    load(c.signal).then(
      (data) => !c.signal.aborted && setState({ data, error: null, loading: false }),
      (error) =>
        !c.signal.aborted &&
        (error as Error)?.name !== 'AbortError' &&
        setState((s) => ({ ...s, error, loading: false })),
    );
    return () => c.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, n]);
  return {
    ...state,
    reload: () => setN((x) => x + 1),
    set: (data: T) => setState({ data, error: null, loading: false }),
  };
}

/// Sets the document title while the caller is mounted.
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · apono` : 'apono';
  }, [title]);
}
