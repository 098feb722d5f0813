// Who decides a request: its access flow, automatic or manual, who may approve it, who decided
// and why. The broker's request names the flow and the decider; the approvers come from the
// request when the broker lists them there, else (for the requester of a PENDING request) from
// the plan of the same selection.
import { useEffect, useState } from 'preact/hooks';
import type { AccessRequest, CreateBody, Plan } from '../../../api/types';
import { useSession } from '../../../app/session';
import { api } from '../../../app/services';

function bodyOf(r: AccessRequest): CreateBody {
  if (r.bundle) return { bundle: r.bundle, justification: r.justification };
  const b: CreateBody = {
    integration: r.integration ?? '',
    resources: r.resources,
    permissions: r.permissions,
    justification: r.justification,
  };
  if (r.resource_type) b.resource_type = r.resource_type;
  return b;
}

export function ApprovalInfo({ r }: { r: AccessRequest }) {
  const { session } = useSession();
  const [approvers, setApprovers] = useState<string[] | null>(r.approvers ?? null);

  useEffect(() => {
    if (r.approvers) return setApprovers(r.approvers);
    if (r.status !== 'PENDING' || r.requester !== session.user || r.approval === 'automatic')
      return;
    let live = true;
    api.post<Plan>('/access-requests/plan', bodyOf(r)).then(
      (p) => {
        const g = p.groups.find((x) => x.flow === r.access_flow) ?? p.groups[0];
        if (live && g) setApprovers(g.approvers);
      },
      () => {},
    );
    return () => {
      live = false;
    };
  }, [r.id, r.status, r.approvers?.join(',')]);

  const decided = r.decided_by && r.decided_by !== 'automatic' ? r.decided_by : null;
  return (
    <dl class="facts" data-testid="approval-info">
      <dt>Access flow</dt>
      <dd>
        {r.access_flow ?? '—'}
        {r.approval && <span class="muted"> ({r.approval})</span>}
      </dd>
      {r.approval !== 'automatic' && (
        <>
          <dt>May approve</dt>
          <dd data-testid="approvers">
            {approvers ? approvers.join(', ') || 'no one (ask an admin)' : 'the flow’s approvers'}
          </dd>
        </>
      )}
      <dt>Decided by</dt>
      <dd data-testid="decided-by">
        {r.decided_by === 'automatic'
          ? 'automatic'
          : (decided ?? (r.status === 'PENDING' ? 'not yet' : '—'))}
      </dd>
      {r.reason && (
        <>
          <dt>Reason</dt>
          <dd data-testid="decision-reason">{r.reason}</dd>
        </>
      )}
    </dl>
  );
}
