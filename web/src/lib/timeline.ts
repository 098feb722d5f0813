// A request's history for people: the audit log's entries when the caller may read it
// (admins), else what the event feed and the request itself tell.
import type { AccessRequest, AuditEvent, StatusEvent } from '../api/types';

export interface TimelineEntry {
  /// A stable key.
  key: string;
  at: string;
  title: string;
  actor: string | null;
  status: string | null;
  /// `key: value` pairs of the audit detail worth showing (never secrets: the broker keeps none).
  detail: string[];
}

const TITLES: Record<string, string> = {
  'request.created': 'Requested',
  'request.approved': 'Approved',
  'request.rejected': 'Rejected',
  'request.active': 'Access granted',
  'request.expiring': 'Grant ended',
  'request.revoked': 'Revoked',
  'request.grant_abandoned': 'Grant failed; undoing it',
  'request.pending_timeout': 'No decision within 7 days',
  'request.reminder': 'Approvers reminded',
  'request.expiring_soon': 'Told the grant ends soon',
  'unit.granted': 'Unit granted at the target',
  'unit.grant_failed': 'Unit grant failed',
  'unit.revoked': 'Unit removed at the target',
  'unit.revoke_failed': 'Unit removal failed (retrying)',
  'credentials.reset': 'Credentials reset',
  'access_details.fetched': 'Access details fetched',
  'ssh_certificate.issued': 'SSH certificate issued',
};

/// What an audit action is called on a timeline; unknown actions keep their name.
export function actionTitle(action: string): string {
  return TITLES[action] ?? action;
}

function detailLines(detail: Record<string, unknown> | null | undefined): string[] {
  if (!detail) return [];
  return Object.entries(detail)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
}

export function fromAudit(events: readonly AuditEvent[]): TimelineEntry[] {
  return events.map((e) => ({
    key: `a${e.id}`,
    at: e.at,
    title: actionTitle(e.action),
    actor: e.actor || null,
    status: e.status,
    detail: detailLines(e.detail),
  }));
}

/// The history that can be told without the audit log: the creation, the decision and the
/// request's status changes (from `GET .../events` and the live feed), oldest first.
export function fromRequest(r: AccessRequest, events: readonly StatusEvent[]): TimelineEntry[] {
  const out: TimelineEntry[] = [
    {
      key: 'created',
      at: r.created_at,
      title: 'Requested',
      actor: r.requester,
      status: null,
      detail: [],
    },
  ];
  for (const e of events) {
    if (e.action === 'request.created') continue;
    const decided = e.action === 'request.approved' || e.action === 'request.rejected';
    out.push({
      key: `e${e.id}`,
      at: e.at,
      title: actionTitle(e.action),
      actor: e.actor || (decided ? r.decided_by : null),
      status: e.status,
      detail: e.action === 'request.rejected' && r.reason ? [`reason: ${r.reason}`] : [],
    });
  }
  const hasDecision = events.some(
    (e) => e.action === 'request.approved' || e.action === 'request.rejected',
  );
  if (!hasDecision && r.decided_by && r.decided_by !== 'automatic') {
    out.push({
      key: 'decided',
      at: r.active_from ?? r.updated_at,
      title: r.status === 'REJECTED' ? 'Rejected' : 'Approved',
      actor: r.decided_by,
      status: null,
      detail: r.reason ? [`reason: ${r.reason}`] : [],
    });
  }
  if (!events.some((e) => e.action === 'request.active') && r.active_from)
    out.push({
      key: 'active',
      at: r.active_from,
      title: 'Access granted',
      actor: null,
      status: 'ACTIVE',
      detail: [],
    });
  return out.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

/// The events of both lists once each (by feed id), oldest first: what the broker told about a
/// request when its page opened, and what the live feed delivered since.
export function mergeEvents(a: readonly StatusEvent[], b: readonly StatusEvent[]): StatusEvent[] {
  const byId = new Map<number, StatusEvent>();
  for (const e of [...a, ...b]) byId.set(e.id, e);
  return [...byId.values()].sort((x, y) => x.id - y.id);
}
