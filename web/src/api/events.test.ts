import { describe, expect, it } from 'vitest';
import { EventFeed, applyEvent, applyEvents, type Poll } from './events';
import type { EventPage, StatusEvent } from './types';

function ev(id: number, request: string, status: StatusEvent['status'], at: string): StatusEvent {
  return { id, at, request_id: request, status, action: 'x', ends_at: null };
}

// A broker stand-in: answers from a script of pages, then parks until aborted.
function scripted(pages: EventPage[], calls: Array<[number, number]>): Poll {
  return (after, timeout, signal) => {
    calls.push([after, timeout]);
    const next = pages.shift();
    if (next) return Promise.resolve(next);
    return new Promise((_, reject) =>
      signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))),
    );
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('EventFeed', () => {
  it('catches up with timeout=0 pages, then long-polls from where it got', async () => {
    const calls: Array<[number, number]> = [];
    const feed = new EventFeed(
      scripted(
        [
          { events: [ev(3, 'AR-00001', 'PENDING', '2026-01-01T00:00:00Z')], next_after: 500 },
          { events: [], next_after: 740 },
          { events: [], next_after: 740 },
          { events: [ev(741, 'AR-00001', 'GRANTING', '2026-01-01T00:01:00Z')], next_after: 741 },
        ],
        calls,
      ),
    );
    const seen: Array<[number[], boolean]> = [];
    feed.subscribe((events, catchingUp) => seen.push([events.map((e) => e.id), catchingUp]));
    void feed.start();
    for (let i = 0; i < 10; i++) await tick();
    expect(calls).toEqual([
      [0, 0],
      [500, 0],
      [740, 0],
      [740, 25],
      [741, 25],
    ]);
    expect(seen).toEqual([
      [[3], true],
      [[741], false],
    ]);
    expect(feed.isLive).toBe(true);
    expect(feed.position).toBe(741);
    expect(feed.eventsFor('ar-00001').map((e) => e.status)).toEqual(['PENDING', 'GRANTING']);
    feed.stop();
  });

  it('starts live from a known position', async () => {
    const calls: Array<[number, number]> = [];
    const feed = new EventFeed(scripted([], calls));
    void feed.start(41);
    await tick();
    expect(calls).toEqual([[41, 25]]);
    feed.stop();
  });

  it('backs off after failures and stops when the session is gone', async () => {
    const pauses: number[] = [];
    let n = 0;
    const fatal = new Error('401');
    const feed = new EventFeed(
      async () => {
        n++;
        throw n < 4 ? new Error('down') : fatal;
      },
      {
        backoff: [10, 20],
        isFatal: (e) => e === fatal,
        sleep: async (ms) => {
          pauses.push(ms);
        },
      },
    );
    await feed.start(5);
    expect(n).toBe(4);
    expect(pauses).toEqual([10, 20, 20]);
  });
});

describe('applyEvent', () => {
  const r = {
    id: 'AR-00007',
    status: 'PENDING' as const,
    ends_at: null,
    updated_at: '2026-01-01T00:05:00.000Z',
  };

  it('applies a newer change with its end', () => {
    const e = { ...ev(9, 'AR-00007', 'ACTIVE', '2026-01-01T00:06:00.000Z'), ends_at: 'E' };
    expect(applyEvent(r, e)).toEqual({
      id: 'AR-00007',
      status: 'ACTIVE',
      ends_at: 'E',
      updated_at: '2026-01-01T00:06:00.000Z',
    });
  });

  it('never moves a request back to an older status', () => {
    expect(applyEvent(r, ev(2, 'AR-00007', 'GRANTING', '2026-01-01T00:04:59.000Z'))).toBe(r);
    expect(applyEvent(r, ev(2, 'AR-00008', 'GRANTING', '2026-01-01T00:09:00.000Z'))).toBe(r);
  });

  it('keeps the list object when nothing changes, and applies batches in order', () => {
    const list = [r, { ...r, id: 'AR-00008' }];
    expect(applyEvents(list, [ev(1, 'AR-00001', 'ACTIVE', '2026-01-02T00:00:00Z')])).toBe(list);
    const out = applyEvents(list, [
      ev(10, 'AR-00008', 'GRANTING', '2026-01-01T00:06:00.000Z'),
      ev(11, 'AR-00008', 'ACTIVE', '2026-01-01T00:06:01.000Z'),
    ]);
    expect(out[0]).toBe(r);
    expect(out[1]!.status).toBe('ACTIVE');
  });
});
