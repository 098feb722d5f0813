// A list of requests loaded a page (100) at a time from `GET /api/v1/access-requests`, kept
// live by the event feed: a status change updates its row in place, and a request that
// appears (made in another tab, by the CLI) is fetched and added when `accept` takes it. Only
// events that can bring a request into the list (`wants`: by default its creation) cost a
// fetch, so an admin's busy feed does not turn into a GET per event.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import { applyEvents } from '../api/events';
import type { AccessRequest, StatusEvent } from '../api/types';
import { mergeRequests } from '../lib/requestFilter';
import { useFeed } from './hooks';
import { api } from './services';

export interface RequestList {
  items: AccessRequest[];
  loading: boolean;
  error: unknown;
  /// False once the broker sent no cursor: everything is loaded.
  more: boolean;
  loadMore: () => Promise<void>;
  /// Loads pages until the end or `max` requests.
  loadAll: (max?: number) => Promise<void>;
  reload: () => void;
  /// Replaces or adds requests (after an action answered with them).
  upsert: (rs: AccessRequest[]) => void;
  /// Removes requests (an approvable one that was decided).
  remove: (ids: string[]) => void;
}

export const PAGE_SIZE = 100;

export function useRequestList(
  scope: 'mine' | 'approvable' | 'all',
  accept: (r: AccessRequest) => boolean,
  wants: (e: StatusEvent) => boolean = (e) => e.action === 'request.created',
): RequestList {
  const [items, setItems] = useState<AccessRequest[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [generation, setGeneration] = useState(0);
  const cursor = useRef<string | null>(null);
  const more = useRef(true);
  const busy = useRef<Promise<void> | null>(null);
  const gen = useRef(0);
  const acceptRef = useRef(accept);
  acceptRef.current = accept;

  const fetchPage = useCallback(async (): Promise<void> => {
    if (busy.current) return busy.current;
    const myGen = gen.current;
    const run = (async () => {
      setLoading(true);
      try {
        const page = await api.page<AccessRequest>('/access-requests', {
          scope,
          limit: PAGE_SIZE,
          cursor: cursor.current,
        });
        if (myGen !== gen.current) return;
        cursor.current = page.nextCursor;
        more.current = page.nextCursor !== null;
        setItems((old) =>
          mergeRequests(
            old,
            page.items.filter((r) => acceptRef.current(r)),
          ),
        );
        setError(null);
      } catch (e) {
        if (myGen === gen.current) setError(e);
      } finally {
        if (myGen === gen.current) setLoading(false);
        busy.current = null;
      }
    })();
    busy.current = run;
    return run;
  }, [scope]);

  useEffect(() => {
    gen.current++;
    busy.current = null;
    cursor.current = null;
    more.current = true;
    setItems([]);
    void fetchPage();
  }, [fetchPage, generation]);

  const known = useRef(new Set<string>());
  known.current = new Set(items.map((r) => r.id));
  const fetching = useRef(new Set<string>());

  useFeed((events, catchingUp) => {
    setItems((old) => applyEvents(old, events));
    if (catchingUp) return;
    for (const e of events) {
      const id = e.request_id.toUpperCase();
      if (known.current.has(id) || fetching.current.has(id) || !wants(e)) continue;
      fetching.current.add(id);
      api
        .get<AccessRequest>(`/access-requests/${encodeURIComponent(id)}`)
        .then(
          (r) => {
            if (acceptRef.current(r)) setItems((old) => mergeRequests(old, [r]));
          },
          (err) => {
            if (!(err instanceof ApiError)) throw err;
          },
        )
        .finally(() => fetching.current.delete(id));
    }
  });

  const loadAll = useCallback(
    async (max = 1000) => {
      for (let i = 0; i < Math.ceil(max / PAGE_SIZE) && more.current; i++) await fetchPage();
    },
    [fetchPage],
  );

  return {
    items,
    loading,
    error,
    more: more.current,
    loadMore: fetchPage,
    loadAll,
    reload: () => setGeneration((g) => g + 1),
    upsert: (rs) =>
      setItems((old) =>
        mergeRequests(
          old,
          rs.filter((r) => acceptRef.current(r)),
        ),
      ),
    remove: (ids) => setItems((old) => old.filter((r) => !ids.includes(r.id))),
  };
}
