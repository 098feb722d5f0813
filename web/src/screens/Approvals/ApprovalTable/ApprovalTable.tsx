// Requests waiting for the caller's decision: who asks, for what, why, since when; a checkbox
// per row for bulk decisions and Approve/Reject on each row.
import type { AccessRequest } from '../../../api/types';
import { useNow } from '../../../app/hooks';
import { Link } from '../../../components/Link/Link';
import { TableWrap } from '../../../components/TableWrap/TableWrap';
import { formatDuration } from '../../../lib/duration';
import { integrationLabel } from '../../../lib/requestFilter';
import { allState } from '../../../lib/selection';
import { age, localTime } from '../../../lib/time';
import { names } from '../../MyRequests/RequestTable/RequestTable';
import './ApprovalTable.css';

interface Props {
  requests: AccessRequest[];
  selected: ReadonlySet<string>;
  onToggle: (id: string) => void;
  onToggleAll: () => void;
  onApprove: (r: AccessRequest) => void;
  onReject: (r: AccessRequest) => void;
  busy: boolean;
}

export function ApprovalTable(p: Props) {
  const now = useNow();
  const ids = p.requests.map((r) => r.id);
  const all = allState(p.selected, ids);
  return (
    <TableWrap label="Requests waiting for your decision">
      <table class="table approval-table" data-testid="approval-table">
        <caption class="visually-hidden">Requests waiting for your decision</caption>
        <thead>
          <tr>
            <th scope="col">
              <input
                type="checkbox"
                aria-label="Select all shown"
                checked={all === 'all'}
                indeterminate={all === 'some'}
                onChange={p.onToggleAll}
                data-testid="select-all-approvals"
              />
            </th>
            <th scope="col">Request</th>
            <th scope="col">Requester</th>
            <th scope="col">What</th>
            <th scope="col">Justification</th>
            <th scope="col">Waiting since</th>
            <th scope="col">
              <span class="visually-hidden">Decide</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {p.requests.map((r) => (
            <tr key={r.id} data-testid={`approval-row-${r.id}`}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`Select ${r.id} by ${r.requester}`}
                  checked={p.selected.has(r.id)}
                  onChange={() => p.onToggle(r.id)}
                  data-testid="approval-select"
                  value={r.id}
                />
              </td>
              <td data-label="Request">
                <Link href={`/requests/${r.id}`} class="mono">
                  {r.id}
                </Link>
              </td>
              <td data-label="Requester">{r.requester}</td>
              <td data-label="What">
                <div class="approval-table__what">
                  <span>
                    <strong>{integrationLabel(r)}</strong>
                    {r.resource_type && <span class="muted"> · {r.resource_type}</span>}
                  </span>
                  <span class="wrap-anywhere">
                    {names(r.permissions)} on {names(r.resources)}
                  </span>
                  <span class="muted">
                    for {formatDuration(r.duration_seconds)} · {r.access_flow}
                  </span>
                </div>
              </td>
              <td data-label="Justification" class="wrap-anywhere">
                {r.justification}
              </td>
              <td data-label="Waiting since" class="nowrap">
                <time dateTime={r.created_at} title={localTime(r.created_at)}>
                  {age(r.created_at, now)}
                </time>
              </td>
              <td class="approval-table__actions">
                <div class="button-row">
                  <button
                    type="button"
                    class="button button--small button--primary"
                    aria-label={`Approve ${r.id}`}
                    disabled={p.busy}
                    onClick={() => p.onApprove(r)}
                    data-testid="approve-one"
                  >
                    Approve
                  </button>
                  <button
                    type="button"
                    class="button button--small"
                    aria-label={`Reject ${r.id}`}
                    disabled={p.busy}
                    onClick={() => p.onReject(r)}
                    data-testid="reject-one"
                  >
                    Reject
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
