// One request at /requests/AR-00012: what was asked, why, who decides, each unit's status, the
// access details while ACTIVE, the actions, and the timeline. Every change the feed reports for
// this request reloads it (within a second of the change) and is announced.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../../api/client';
import type { AccessDetails as Details, AccessRequest } from '../../api/types';
import { useFeed, useLoad, useTitle } from '../../app/hooks';
import { useSession } from '../../app/session';
import { api } from '../../app/services';
import { CommandBox } from '../../components/CommandBox/CommandBox';
import { ErrorMessage } from '../../components/ErrorMessage/ErrorMessage';
import { Link } from '../../components/Link/Link';
import { announce } from '../../components/LiveRegion/LiveRegion';
import { StatusBadge } from '../../components/StatusBadge/StatusBadge';
import { TimeLeft } from '../../components/TimeLeft/TimeLeft';
import { describeCommand } from '../../lib/cliCommand';
import { formatDuration } from '../../lib/duration';
import { statusHint } from '../../lib/status';
import { localTime } from '../../lib/time';
import { AccessDetails } from './AccessDetails/AccessDetails';
import { ApprovalInfo } from './ApprovalInfo/ApprovalInfo';
import { RequestActions } from './RequestActions/RequestActions';
import { Timeline } from './Timeline/Timeline';
import { UnitsTable } from './UnitsTable/UnitsTable';
import './RequestPage.css';

function Fact({ label, children }: { label: string; children: ComponentChildren }) {
  if (children === null || children === undefined || children === '') return null;
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

export function RequestPage({ id }: { id: string }) {
  useTitle(id);
  const { session } = useSession();
  const loaded = useLoad(
    (signal) => api.get<AccessRequest>(`/access-requests/${encodeURIComponent(id)}`, signal),
    [id],
  );
  const r = loaded.data?.id === id ? loaded.data : undefined;
  const [fresh, setFresh] = useState<Details | null>(null);
  const lastStatus = useRef<string | null>(null);

  // Reload on any change to this request; several events in a burst cost one reload.
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  useFeed((events, catchingUp) => {
    if (catchingUp || !events.some((e) => e.request_id.toUpperCase() === id)) return;
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = null;
      api
        .get<AccessRequest>(`/access-requests/${encodeURIComponent(id)}`)
        .then(loaded.set, () => {});
    }, 50);
  });
  useEffect(
    () => () => {
      if (pending.current) clearTimeout(pending.current);
    },
    [],
  );

  useEffect(() => {
    if (!r) return;
    const key = `${r.id} ${r.status}`;
    if (lastStatus.current?.startsWith(`${r.id} `) && lastStatus.current !== key)
      announce(`${r.id} is now ${r.status}. ${statusHint(r.status)}`);
    lastStatus.current = key;
  }, [r?.id, r?.status]);

  if (!r) {
    if (loaded.error) {
      const notFound = loaded.error instanceof ApiError && loaded.error.status === 404;
      return (
        <section>
          <h1 tabIndex={-1}>{id}</h1>
          <ErrorMessage error={loaded.error} testId="request-error" />
          {notFound && <p>It does not exist, or it is not yours to see.</p>}
          <p>
            <Link href="/requests">Back to My requests</Link>
          </p>
        </section>
      );
    }
    return (
      <p class="empty" role="status">
        Loading {id}…
      </p>
    );
  }

  const mine = r.requester === session.user;
  return (
    <article aria-labelledby="request-title" data-testid="request-page" data-status={r.status}>
      <p class="breadcrumb">
        <Link href={mine ? '/requests' : '/approvals'}>{mine ? 'My requests' : 'Approvals'}</Link> /{' '}
        {r.id}
      </p>
      <header class="request-head">
        <div>
          <h1 id="request-title" tabIndex={-1} class="request-head__title">
            <span class="mono">{r.id}</span>{' '}
            <span data-testid="request-status">
              <StatusBadge status={r.status} hint={false} />
            </span>
          </h1>
          <p class="request-head__hint" data-testid="status-hint">
            {statusHint(r.status)}
            {r.status === 'ACTIVE' && r.ends_at && (
              <>
                {' '}
                Ends {localTime(r.ends_at)} (<TimeLeft endsAt={r.ends_at} status={r.status} />
                ).
              </>
            )}
          </p>
        </div>
        <RequestActions
          r={r}
          onChanged={(next) => loaded.set(next)}
          onNewCredentials={(d) => setFresh(d)}
        />
      </header>

      <div class="request-grid">
        <div>
          <section class="card" aria-labelledby="summary-title">
            <h2 id="summary-title">Request</h2>
            <dl class="facts" data-testid="request-facts">
              <Fact label="Requester">{r.requester}</Fact>
              <Fact label="Bundle">{r.bundle}</Fact>
              <Fact label="Integration">{r.integration}</Fact>
              <Fact label="Resource type">{r.resource_type}</Fact>
              <Fact label="Resources">{r.resources.join(', ')}</Fact>
              <Fact label="Permissions">{r.permissions.join(', ')}</Fact>
              <Fact label="Justification">
                <span class="wrap-anywhere" data-testid="justification">
                  {r.justification}
                </span>
              </Fact>
              <Fact label="Duration">
                {r.duration_seconds > 0 ? formatDuration(r.duration_seconds) : null}
              </Fact>
              <Fact label="Created">{localTime(r.created_at)}</Fact>
              <Fact label="Active from">{r.active_from && localTime(r.active_from)}</Fact>
              <Fact label="Ends">{r.ends_at && localTime(r.ends_at)}</Fact>
              <Fact label="End reason">{r.end_reason}</Fact>
            </dl>
          </section>

          {mine && r.status === 'ACTIVE' && (
            <AccessDetails r={r} fresh={fresh} onFreshShown={() => setFresh(null)} />
          )}

          <section class="card" aria-labelledby="units-title">
            <h2 id="units-title">Resources and permissions</h2>
            <UnitsTable r={r} />
          </section>
        </div>
        <div>
          <section class="card" aria-labelledby="approval-title">
            <h2 id="approval-title">Approval</h2>
            <ApprovalInfo r={r} />
          </section>
          <Timeline r={r} />
          <section class="card" aria-labelledby="cli-title">
            <h2 id="cli-title">In a terminal</h2>
            <CommandBox commands={[describeCommand(r.id)]} label="describe command" />
          </section>
        </div>
      </div>
    </article>
  );
}
