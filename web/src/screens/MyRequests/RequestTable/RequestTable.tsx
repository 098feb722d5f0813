// Requests as a table (cards on a phone): id linking to the request's page, status, what was
// asked for, why, when, and the time left ticking for ACTIVE grants.
import type { ComponentChildren } from 'preact';
import { memo } from 'preact/compat';
import { useEffect, useState } from 'preact/hooks';
import type { AccessRequest } from '../../../api/types';
import { useNow } from '../../../app/hooks';
import { Link } from '../../../components/Link/Link';
import { StatusBadge } from '../../../components/StatusBadge/StatusBadge';
import { TableWrap } from '../../../components/TableWrap/TableWrap';
import { TimeLeft } from '../../../components/TimeLeft/TimeLeft';
import { formatDuration } from '../../../lib/duration';
import { integrationLabel } from '../../../lib/requestFilter';
import { age, localTime } from '../../../lib/time';
import './RequestTable.css';

/// A short list of names: the first few, then "+N more".
export function names(list: readonly string[], max = 3): string {
  if (list.length <= max) return list.join(', ');
  return `${list.slice(0, max).join(', ')} +${list.length - max} more`;
}

function Age({ at }: { at: string }) {
  const now = useNow(30_000);
  return (
    <time dateTime={at} title={localTime(at)}>
      {age(at, now)}
    </time>
  );
}

/// What the row says about time: left for a grant, waiting for a request, or when it ended.
function When({ r }: { r: AccessRequest }) {
  switch (r.status) {
    case 'ACTIVE':
      return <TimeLeft endsAt={r.ends_at} status={r.status} />;
    case 'PENDING':
      return <span>{formatDuration(r.duration_seconds)} once granted</span>;
    case 'GRANTING':
      return <span>{formatDuration(r.duration_seconds)} from grant</span>;
    default:
      return (
        <span class="muted">
          ended <Age at={r.updated_at} />
        </span>
      );
  }
}

interface RowProps {
  r: AccessRequest;
  showRequester: boolean;
  /// A leading cell (a checkbox in Approvals).
  lead?: ComponentChildren;
}

const Row = memo(function Row({ r, showRequester, lead }: RowProps) {
  return (
    <tr data-testid={`request-row-${r.id}`} data-status={r.status}>
      {lead !== undefined && <td class="request-table__lead">{lead}</td>}
      <td data-label="Request">
        <Link href={`/requests/${r.id}`} class="mono" data-testid="request-link">
          {r.id}
        </Link>
      </td>
      <td data-label="Status">
        <StatusBadge status={r.status} />
      </td>
      {showRequester && <td data-label="Requester">{r.requester}</td>}
      <td data-label="Access">
        <div class="request-table__access">
          <span class="request-table__integration">
            {integrationLabel(r)}
            {r.resource_type && <span class="muted"> · {r.resource_type}</span>}
          </span>
          <span class="wrap-anywhere">{names(r.resources)}</span>
          <span class="muted wrap-anywhere">{names(r.permissions)}</span>
        </div>
      </td>
      <td data-label="Justification" class="request-table__why wrap-anywhere">
        {r.justification}
      </td>
      <td data-label="Created" class="nowrap">
        <Age at={r.created_at} />
      </td>
      <td data-label="Ends" class="nowrap">
        <When r={r} />
      </td>
    </tr>
  );
});

interface Props {
  requests: AccessRequest[];
  caption: string;
  showRequester?: boolean;
  /// A leading column: its header and a cell per request.
  lead?: { header: ComponentChildren; cell: (r: AccessRequest) => ComponentChildren };
  testId?: string;
  /// Changes when the list is a different one (another tab, another filter): rows are then
  /// drawn again from the first batch.
  resetKey?: string;
}

/// Rows drawn in the first frame, and added per frame after it: a thousand rows appear within
/// a second without blocking input, and the first screenful at once.
const FIRST_ROWS = 60;
const MORE_ROWS = 120;

/// How many of `total` rows to draw now, growing a batch per frame up to `total`.
export function useProgressiveCount(total: number, resetKey: string): number {
  const [state, setState] = useState({ key: resetKey, count: FIRST_ROWS });
  // Another list starts from the first batch in this very render, before any effect runs.
  const count = state.key === resetKey ? state.count : FIRST_ROWS;
  useEffect(() => {
    if (state.key !== resetKey) {
      setState({ key: resetKey, count: FIRST_ROWS });
      return;
    }
    if (count >= total) return;
    const t = setTimeout(() => setState({ key: resetKey, count: count + MORE_ROWS }), 16);
    return () => clearTimeout(t);
  }, [state, count, total, resetKey]);
  return Math.min(count, total);
}

export function RequestTable(props: Props) {
  const { requests, caption, showRequester = false, lead, testId } = props;
  const drawn = useProgressiveCount(requests.length, props.resetKey ?? '');
  return (
    <TableWrap label={caption}>
      <table class="table request-table" data-testid={testId ?? 'request-table'}>
        <caption class="visually-hidden">{caption}</caption>
        {/* Fixed column widths: the browser lays out a thousand rows without measuring them. */}
        <colgroup>
          {lead && <col class="request-table__col-lead" />}
          <col class="request-table__col-id" />
          <col class="request-table__col-status" />
          {showRequester && <col class="request-table__col-requester" />}
          <col class="request-table__col-access" />
          <col class="request-table__col-why" />
          <col class="request-table__col-created" />
          <col class="request-table__col-ends" />
        </colgroup>
        <thead>
          <tr>
            {lead && <th scope="col">{lead.header}</th>}
            <th scope="col">Request</th>
            <th scope="col">Status</th>
            {showRequester && <th scope="col">Requester</th>}
            <th scope="col">Access</th>
            <th scope="col">Justification</th>
            <th scope="col">Created</th>
            <th scope="col">Ends</th>
          </tr>
        </thead>
        <tbody>
          {requests.slice(0, drawn).map((r) => (
            <Row key={r.id} r={r} showRequester={showRequester} lead={lead?.cell(r)} />
          ))}
        </tbody>
      </table>
      {drawn < requests.length && (
        <p class="muted request-table__drawing" role="status">
          Showing {drawn} of {requests.length}…
        </p>
      )}
    </TableWrap>
  );
}
