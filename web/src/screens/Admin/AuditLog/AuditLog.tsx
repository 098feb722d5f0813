// The audit log for admins (`GET /api/v1/audit`): newest first, starting near the feed's
// position so the latest entries show at once; older pages on demand; new entries arrive
// live; filtered by request (at the broker), actor, action and text (over what is loaded).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { AuditEvent } from '../../../api/types';
import { useFeed } from '../../../app/hooks';
import { api, feed } from '../../../app/services';
import { ErrorMessage } from '../../../components/ErrorMessage/ErrorMessage';
import { Link } from '../../../components/Link/Link';
import { TableWrap } from '../../../components/TableWrap/TableWrap';
import { actionTitle } from '../../../lib/timeline';
import { localTime } from '../../../lib/time';
import { auditOptions, filterAudit, mergeAudit } from './auditFilter';

const PAGE = 500;

export function AuditLog() {
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [request, setRequest] = useState('');
  const [applied, setApplied] = useState('');
  const [actor, setActor] = useState('');
  const [action, setAction] = useState('');
  const [text, setText] = useState('');
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [olderFrom, setOlderFrom] = useState<number | null>(null);
  const newest = useRef(0);

  const fetchAfter = async (after: number, limit = PAGE) => {
    const q = new URLSearchParams({ after: String(Math.max(0, after)), limit: String(limit) });
    if (applied) q.set('request', applied);
    return api.get<AuditEvent[]>(`/audit?${q}`);
  };

  // The first view: the latest entries (a request's whole history when filtered by one).
  useEffect(() => {
    let live = true;
    setEvents([]);
    setError(null);
    setLoading(true);
    let start = 0;
    // The latest entries are found from the feed's position once it has caught up.
    (applied ? Promise.resolve() : feed.whenLive())
      .then(() => {
        start = applied ? 0 : Math.max(0, feed.position - PAGE);
        return fetchAfter(start, applied ? 1000 : PAGE);
      })
      .then(
        (page) => {
          if (!live) return;
          setEvents(mergeAudit([], page));
          newest.current = page.reduce((m, e) => Math.max(m, e.id), start);
          setOlderFrom(start > 0 ? start : null);
          setLoading(false);
        },
        (e) => {
          if (!live) return;
          setError(e);
          setLoading(false);
        },
      );
    return () => {
      live = false;
    };
  }, [applied]);

  // Anything new on the feed may have audit entries after ours.
  const fetching = useRef(false);
  useFeed((_, catchingUp) => {
    if (catchingUp || fetching.current || loading) return;
    fetching.current = true;
    fetchAfter(newest.current)
      .then(
        (page) => {
          if (page.length === 0) return;
          newest.current = page.reduce((m, e) => Math.max(m, e.id), newest.current);
          setEvents((old) => mergeAudit(old, page));
        },
        () => {},
      )
      .finally(() => (fetching.current = false));
  });

  const loadOlder = async () => {
    if (olderFrom === null) return;
    setLoading(true);
    try {
      const from = Math.max(0, olderFrom - PAGE);
      const page = (await fetchAfter(from)).filter((e) => e.id <= olderFrom);
      setEvents((old) => mergeAudit(old, page));
      setOlderFrom(from > 0 ? from : null);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  };

  const options = useMemo(() => auditOptions(events), [events]);
  const shown = useMemo(
    () => filterAudit(events, { actor, action, text }),
    [events, actor, action, text],
  );

  return (
    <>
      <form
        class="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(request.trim().toUpperCase());
        }}
      >
        <div class="field">
          <label class="field__label" for="audit-request">
            Request
          </label>
          <input
            id="audit-request"
            placeholder="AR-00012"
            value={request}
            onInput={(e) => setRequest(e.currentTarget.value)}
            data-testid="audit-request"
          />
        </div>
        <button type="submit" class="button" data-testid="audit-apply">
          Show
        </button>
        <div class="field">
          <label class="field__label" for="audit-actor">
            Actor
          </label>
          <select id="audit-actor" value={actor} onChange={(e) => setActor(e.currentTarget.value)}>
            <option value="">Anyone</option>
            {options.actors.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label class="field__label" for="audit-action">
            Action
          </label>
          <select
            id="audit-action"
            value={action}
            onChange={(e) => setAction(e.currentTarget.value)}
          >
            <option value="">Any action</option>
            {options.actions.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </div>
        <div class="field field--wide">
          <label class="field__label" for="audit-text">
            Search
          </label>
          <input
            id="audit-text"
            type="search"
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </div>
      </form>
      <ErrorMessage error={error} />
      <p class="muted list-summary" aria-live="polite">
        {loading && events.length === 0
          ? 'Loading the audit log…'
          : `${shown.length} of ${events.length} entries loaded${applied ? ` for ${applied}` : ''}, newest first.`}
      </p>
      <TableWrap label="Audit log">
        <table class="table" data-testid="audit-table">
          <caption class="visually-hidden">Audit log</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Time</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Request</th>
              <th scope="col">Status</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.id}>
                <td class="muted">{e.id}</td>
                <td class="nowrap">{localTime(e.at)}</td>
                <td>{e.actor}</td>
                <td title={actionTitle(e.action)}>
                  <code>{e.action}</code>
                </td>
                <td>
                  {e.request_id && (
                    <Link href={`/requests/${e.request_id}`} class="mono">
                      {e.request_id}
                    </Link>
                  )}
                </td>
                <td>{e.status ?? ''}</td>
                <td class="wrap-anywhere mono audit-detail">
                  {Object.keys(e.detail ?? {}).length ? JSON.stringify(e.detail) : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      {olderFrom !== null && (
        <div class="button-row load-more">
          <button
            type="button"
            class="button"
            disabled={loading}
            onClick={() => void loadOlder()}
            data-testid="audit-older"
          >
            Load older entries
          </button>
        </div>
      )}
    </>
  );
}
