// The request's history, oldest first: from the audit log for admins, else from the request's
// status changes (its own events endpoint, then the live feed) and the request itself. Grows
// live while the page is open.
import { useEffect, useState } from 'preact/hooks';
import type { AccessRequest, AuditEvent, StatusEvent } from '../../../api/types';
import { ApiError } from '../../../api/client';
import { useSession } from '../../../app/session';
import { api, feed } from '../../../app/services';
import { ErrorMessage } from '../../../components/ErrorMessage/ErrorMessage';
import { fromAudit, fromRequest, mergeEvents, type TimelineEntry } from '../../../lib/timeline';
import { localTime } from '../../../lib/time';
import './Timeline.css';

export function Timeline({ r }: { r: AccessRequest }) {
  const { session } = useSession();
  const [audit, setAudit] = useState<AuditEvent[] | null>(null);
  const [events, setEvents] = useState<StatusEvent[]>([]);
  const [error, setError] = useState<unknown>(null);

  // Everyone who may see the request may read its status changes; the feed adds later ones.
  useEffect(() => {
    if (session.admin) return;
    const c = new AbortController();
    api
      .get<{ events: StatusEvent[] }>(
        `/access-requests/${encodeURIComponent(r.id)}/events`,
        c.signal,
      )
      .then(
        (page) => setEvents(page.events),
        (e) => {
          if (!c.signal.aborted) setError(e);
        },
      );
    return () => c.abort();
  }, [r.id, r.updated_at, session.admin]);

  // Reloaded whenever the request changes (its updated_at moves with every transition).
  useEffect(() => {
    if (!session.admin) return;
    const c = new AbortController();
    api
      .get<AuditEvent[]>(`/audit?request=${encodeURIComponent(r.id)}&limit=1000`, c.signal)
      .then(setAudit, (e) => {
        if (c.signal.aborted) return;
        if (e instanceof ApiError && e.status === 403) setAudit(null);
        else setError(e);
      });
    return () => c.abort();
  }, [r.id, r.updated_at, session.admin]);

  const entries: TimelineEntry[] = audit
    ? fromAudit(audit)
    : fromRequest(r, mergeEvents(events, feed.eventsFor(r.id)));
  return (
    <section class="card" aria-labelledby="timeline-title">
      <h2 id="timeline-title">Timeline</h2>
      <ErrorMessage error={error} />
      <ol class="timeline" data-testid="timeline">
        {entries.map((e) => (
          <li key={e.key} class="timeline__item">
            <time dateTime={e.at} class="timeline__time">
              {localTime(e.at)}
            </time>
            <div>
              <strong>{e.title}</strong>
              {e.actor && <span class="muted"> by {e.actor}</span>}
              {e.status && <span class="muted"> → {e.status}</span>}
              {e.detail.length > 0 && (
                <ul class="timeline__detail">
                  {e.detail.map((d, i) => (
                    <li key={i}>{d}</li>
                  ))}
                </ul>
              )}
            </div>
          </li>
        ))}
      </ol>
      {!audit && (
        <p class="field__hint">
          {session.admin
            ? 'The audit log could not be read; this is what the live feed saw.'
            : 'Status changes of this request; the full audit log is for admins.'}
        </p>
      )}
    </section>
  );
}
