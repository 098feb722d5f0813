// The live feed: one long-poll of `GET /api/v1/events` at a time for the whole portal, so
// every status on screen follows the broker within a second of a change without a reload.
// Screens subscribe; the feed fans each batch out in order.
//
// Where the feed starts: at the position the session's answer gives (`events_after`), read
// before any list, so no change between the two is missed and none of the history is read
// again. A broker that does not give it makes the feed catch up from 0 with timeout=0 pages
// until the position stops moving, then wait with timeout=25. Events met while catching up are
// delivered too, flagged `catchingUp`: consumers apply an event only when it is not older than
// what they hold (see applyEvent), so replaying history never moves a status backwards.
import type { AccessRequest, EventPage, StatusEvent } from './types';

/// One long-poll: the events after `after`, waiting up to `timeout` seconds.
export type Poll = (after: number, timeout: number, signal: AbortSignal) => Promise<EventPage>;

export type Listener = (events: StatusEvent[], catchingUp: boolean) => void;

export interface FeedOptions {
  /// Seconds each wait lasts at the broker (the broker's maximum is 25).
  timeout?: number;
  /// Pauses after failures, in ms, the last one repeated.
  backoff?: number[];
  /// Events kept per request for timelines.
  historyPerRequest?: number;
  /// Tells whether a failure means the session is over (then the feed stops).
  isFatal?: (e: unknown) => boolean;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export class EventFeed {
  private readonly listeners = new Set<Listener>();
  private readonly history = new Map<string, StatusEvent[]>();
  private controller: AbortController | null = null;
  private pos = 0;
  private live = false;
  private readonly opts: Required<FeedOptions>;

  constructor(
    private readonly poll: Poll,
    opts: FeedOptions = {},
  ) {
    this.opts = {
      timeout: opts.timeout ?? 25,
      backoff: opts.backoff ?? [500, 1000, 2000, 5000],
      historyPerRequest: opts.historyPerRequest ?? 50,
      isFatal: opts.isFatal ?? (() => false),
      sleep: opts.sleep ?? defaultSleep,
    };
  }

  /// The feed position reached so far.
  get position(): number {
    return this.pos;
  }

  /// True once the feed has caught up and waits for new changes.
  get isLive(): boolean {
    return this.live;
  }

  /// Resolves once the feed has caught up (at once if it has), or after `ms` at the latest.
  whenLive(ms = 10000): Promise<void> {
    if (this.live) return Promise.resolve();
    return new Promise((resolve) => {
      const started = Date.now();
      const check = () => {
        if (this.live || Date.now() - started >= ms) resolve();
        else setTimeout(check, 50);
      };
      check();
    });
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /// The status changes seen for one request, oldest first.
  eventsFor(requestId: string): StatusEvent[] {
    return [...(this.history.get(requestId.toUpperCase()) ?? [])];
  }

  /// Starts polling from `after` (caught up already) or from 0 (catching up first).
  start(after?: number): Promise<void> {
    this.stop();
    const controller = new AbortController();
    this.controller = controller;
    this.pos = after ?? 0;
    this.live = after !== undefined;
    return this.run(controller.signal);
  }

  stop(): void {
    this.controller?.abort();
    this.controller = null;
  }

  private remember(events: StatusEvent[]): void {
    for (const e of events) {
      const key = e.request_id.toUpperCase();
      const list = this.history.get(key) ?? [];
      if (list.some((x) => x.id === e.id)) continue;
      list.push(e);
      if (list.length > this.opts.historyPerRequest) list.shift();
      this.history.set(key, list);
    }
  }

  private async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let page: EventPage;
      try {
        page = await this.poll(this.pos, this.live ? this.opts.timeout : 0, signal);
      } catch (e) {
        if (signal.aborted || this.opts.isFatal(e)) return;
        const b = this.opts.backoff;
        await this.opts.sleep(b[Math.min(failures, b.length - 1)] ?? 1000, signal);
        failures++;
        continue;
      }
      failures = 0;
      if (signal.aborted) return;
      const moved = page.next_after > this.pos;
      const catchingUp = !this.live;
      this.pos = Math.max(this.pos, page.next_after);
      if (page.events.length > 0) {
        this.remember(page.events);
        for (const fn of [...this.listeners]) fn(page.events, catchingUp);
      }
      if (!this.live && !moved) this.live = true;
    }
  }
}

/// A request with the event applied, or the same object when the event is older than what the
/// request already shows (or names another request).
export function applyEvent<
  R extends Pick<AccessRequest, 'id' | 'status' | 'ends_at' | 'updated_at'>,
>(r: R, e: StatusEvent): R {
  if (r.id.toUpperCase() !== e.request_id.toUpperCase()) return r;
  if (Date.parse(e.at) < Date.parse(r.updated_at)) return r;
  if (r.status === e.status && r.ends_at === e.ends_at && r.updated_at === e.at) return r;
  return { ...r, status: e.status, ends_at: e.ends_at ?? r.ends_at, updated_at: e.at };
}

/// Applies a batch of events to a list, keeping objects that did not change.
export function applyEvents<
  R extends Pick<AccessRequest, 'id' | 'status' | 'ends_at' | 'updated_at'>,
>(list: readonly R[], events: readonly StatusEvent[]): R[] {
  const byId = new Map<string, StatusEvent[]>();
  for (const e of events) {
    const k = e.request_id.toUpperCase();
    byId.set(k, [...(byId.get(k) ?? []), e]);
  }
  let changed = false;
  const out = list.map((r) => {
    let next = r;
    for (const e of byId.get(r.id.toUpperCase()) ?? []) next = applyEvent(next, e);
    if (next !== r) changed = true;
    return next;
  });
  return changed ? out : (list as R[]);
}
