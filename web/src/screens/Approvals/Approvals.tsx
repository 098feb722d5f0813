// Approvals: the PENDING requests the caller may approve, decided one by one or several at
// once (one reason for a bulk rejection), live as they arrive or are decided elsewhere; and a
// History tab of what the caller decided.
import { useMemo, useState } from 'preact/hooks';
import type { AccessRequest } from '../../api/types';
import { useTitle } from '../../app/hooks';
import { navigate, useLocation } from '../../app/navigation';
import { useSession } from '../../app/session';
import { api } from '../../app/services';
import { useRequestList } from '../../app/useRequestList';
import { ActionDialog } from '../../components/Dialog/ActionDialog';
import { ErrorMessage } from '../../components/ErrorMessage/ErrorMessage';
import { Link } from '../../components/Link/Link';
import { announce } from '../../components/LiveRegion/LiveRegion';
import { filterOptions, filterRequests } from '../../lib/requestFilter';
import { toggle } from '../../lib/selection';
import {
  RequestFilters,
  filterFromQuery,
  filterToQuery,
} from '../MyRequests/RequestFilters/RequestFilters';
import { RequestTable } from '../MyRequests/RequestTable/RequestTable';
import { ApprovalTable } from './ApprovalTable/ApprovalTable';
import { DecisionResults } from './DecisionResults/DecisionResults';
import { type Outcome, decideAll, summary } from './DecisionResults/bulk';

// A decided row leaves the list with the button that opened its dialog: focus goes to what the
// decision did.
const resultsFocus = () => document.querySelector<HTMLElement>('[data-testid="decision-results"]');

const act = (id: string, action: 'approve' | 'reject', body?: unknown) =>
  api.post<AccessRequest>(`/access-requests/${encodeURIComponent(id)}/${action}`, body);

function Pending() {
  const { session } = useSession();
  const { search } = useLocation();
  const filter = filterFromQuery(search);
  const list = useRequestList(
    'approvable',
    (r) => r.status === 'PENDING' && r.requester !== session.user,
    (e) => e.action === 'request.created' && e.status === 'PENDING',
  );
  const pending = useMemo(() => list.items.filter((r) => r.status === 'PENDING'), [list.items]);
  const options = useMemo(() => filterOptions(pending), [pending]);
  const shown = useMemo(() => filterRequests(pending, filter), [pending, search]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [dialog, setDialog] = useState<{ action: 'approve' | 'reject'; ids: string[] } | null>(
    null,
  );
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState(0);
  const [result, setResult] = useState<{ verb: string; outcomes: Outcome[] } | null>(null);

  // Only what is still PENDING and shown can be selected.
  const shownIds = shown.map((r) => r.id);
  const chosen = shownIds.filter((id) => selected.has(id));

  const run = async (action: 'approve' | 'reject', ids: string[]) => {
    setBusy(true);
    setProgress(0);
    const body = action === 'reject' ? { reason: reason.trim() } : undefined;
    const outcomes = await decideAll(ids, (id) => act(id, action, body), setProgress);
    const verb = action === 'approve' ? 'Approved' : 'Rejected';
    list.upsert(outcomes.flatMap((o) => (o.request ? [o.request] : [])));
    list.remove(outcomes.filter((o) => o.ok).map((o) => o.id));
    setSelected((s) => {
      const next = new Set(s);
      for (const o of outcomes) if (o.ok) next.delete(o.id);
      return next;
    });
    setResult({ verb, outcomes });
    announce(summary(verb, outcomes));
    setBusy(false);
    // A failure is shown in the dialog's place: the results list names it.
    if (outcomes.some((o) => !o.ok) && ids.length === 1) throw new Error(outcomes[0]!.text);
  };

  const byId = new Map(pending.map((r) => [r.id, r]));
  const d = dialog;
  const one = d && d.ids.length === 1 ? byId.get(d.ids[0]!) : undefined;

  return (
    <>
      <RequestFilters
        idPrefix="approvals"
        byStatus={false}
        filter={filter}
        options={options}
        onChange={(f) => navigate('/approvals' + filterToQuery(f), { replace: true })}
      />
      <ErrorMessage error={list.error} />
      {result && <DecisionResults verb={result.verb} outcomes={result.outcomes} />}
      <div class="button-row bulk-bar" role="group" aria-label="Decide the selected requests">
        <span aria-live="polite" data-testid="approvals-selected-count">
          {chosen.length} selected
        </span>
        <button
          type="button"
          class="button button--primary"
          disabled={chosen.length === 0 || busy}
          onClick={() => setDialog({ action: 'approve', ids: chosen })}
          data-testid="bulk-approve"
        >
          Approve selected
        </button>
        <button
          type="button"
          class="button"
          disabled={chosen.length === 0 || busy}
          onClick={() => {
            setReason('');
            setDialog({ action: 'reject', ids: chosen });
          }}
          data-testid="bulk-reject"
        >
          Reject selected
        </button>
        {busy && d && (
          <span role="status">
            {progress} of {d.ids.length} done…
          </span>
        )}
      </div>
      <p class="muted list-summary" data-testid="list-summary">
        {list.loading && pending.length === 0
          ? 'Loading requests waiting for you…'
          : `${shown.length} of ${pending.length} pending request${pending.length === 1 ? '' : 's'} shown${list.more ? '; more are not loaded yet' : ''}.`}
      </p>
      {shown.length > 0 ? (
        <ApprovalTable
          requests={shown}
          selected={selected}
          busy={busy}
          onToggle={(id) => setSelected((s) => toggle(s, id))}
          onToggleAll={() =>
            setSelected((s) => {
              const next = new Set(s);
              const all = shownIds.every((id) => s.has(id));
              for (const id of shownIds) {
                if (all) next.delete(id);
                else next.add(id);
              }
              return next;
            })
          }
          onApprove={(r) => setDialog({ action: 'approve', ids: [r.id] })}
          onReject={(r) => {
            setReason('');
            setDialog({ action: 'reject', ids: [r.id] });
          }}
        />
      ) : (
        !list.loading && (
          <p class="empty" data-testid="empty-list">
            {pending.length === 0
              ? 'Nothing is waiting for your approval.'
              : 'No request matches these filters.'}
          </p>
        )
      )}
      {list.more && (
        <div class="button-row load-more">
          <button
            type="button"
            class="button"
            disabled={list.loading}
            onClick={() => void list.loadMore()}
            data-testid="load-more"
          >
            {list.loading ? 'Loading…' : 'Load more'}
          </button>
        </div>
      )}

      <ActionDialog
        open={d?.action === 'approve'}
        title={
          d && d.ids.length > 1
            ? `Approve ${d.ids.length} requests?`
            : `Approve ${d?.ids[0] ?? ''}?`
        }
        confirmLabel={d && d.ids.length > 1 ? `Approve ${d.ids.length}` : 'Approve'}
        testId="approve-dialog"
        returnFocus={resultsFocus}
        onClose={() => setDialog(null)}
        onConfirm={() => run('approve', d?.ids ?? [])}
      >
        {one ? (
          <p>
            {one.requester} gets {one.permissions.join(', ')} on {one.resources.join(', ')}.
          </p>
        ) : (
          <p>Each request is granted as its access flow says: {d?.ids.join(', ')}.</p>
        )}
      </ActionDialog>
      <ActionDialog
        open={d?.action === 'reject'}
        title={
          d && d.ids.length > 1 ? `Reject ${d.ids.length} requests?` : `Reject ${d?.ids[0] ?? ''}?`
        }
        confirmLabel={d && d.ids.length > 1 ? `Reject ${d.ids.length}` : 'Reject'}
        danger
        canConfirm={reason.trim() !== ''}
        testId="reject-dialog"
        returnFocus={resultsFocus}
        onClose={() => setDialog(null)}
        onConfirm={() => run('reject', d?.ids ?? [])}
      >
        {d && d.ids.length > 1 && (
          <p>The same reason goes to each requester: {d.ids.join(', ')}.</p>
        )}
        <div class="field">
          <label class="field__label" for="reject-reason">
            Reason <span class="muted">(required; the requester sees it)</span>
          </label>
          <textarea
            id="reject-reason"
            data-autofocus
            required
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
            data-testid="reject-reason"
          />
        </div>
      </ActionDialog>
    </>
  );
}

function History() {
  const { session } = useSession();
  const list = useRequestList(
    'all',
    (r) => r.decided_by === session.user,
    (e) => e.action === 'request.approved' || e.action === 'request.rejected',
  );
  return (
    <>
      <ErrorMessage error={list.error} />
      <p class="muted list-summary" data-testid="list-summary">
        {list.loading && list.items.length === 0
          ? 'Loading your decisions…'
          : `${list.items.length} request${list.items.length === 1 ? '' : 's'} you decided${list.more ? ' among those loaded' : ''}.`}
      </p>
      {list.items.length > 0 ? (
        <RequestTable
          requests={list.items}
          caption="Requests you decided"
          showRequester
          testId="history-table"
        />
      ) : (
        !list.loading && <p class="empty">No decision of yours among the requests loaded.</p>
      )}
      {list.more && (
        <div class="button-row load-more">
          <button
            type="button"
            class="button"
            disabled={list.loading}
            onClick={() => void list.loadMore()}
            data-testid="load-more"
          >
            {list.loading ? 'Loading…' : 'Load older requests'}
          </button>
        </div>
      )}
    </>
  );
}

export function Approvals({ tab }: { tab: 'pending' | 'history' }) {
  useTitle(tab === 'pending' ? 'Approvals' : 'Approval history');
  const { session } = useSession();
  return (
    <section aria-labelledby="approvals-title">
      <h1 id="approvals-title" tabIndex={-1}>
        Approvals
      </h1>
      {!session.approver && !session.admin && (
        <p class="notice">
          You approve no access flow; requests for you to decide never appear here.
        </p>
      )}
      <nav class="tabs" aria-label="Pending or decided">
        <Link
          href="/approvals"
          aria-current={tab === 'pending' ? 'page' : undefined}
          data-testid="tab-pending"
        >
          Pending
        </Link>
        <Link
          href="/approvals/history"
          aria-current={tab === 'history' ? 'page' : undefined}
          data-testid="tab-history"
        >
          History
        </Link>
      </nav>
      {tab === 'pending' ? <Pending /> : <History />}
    </section>
  );
}
