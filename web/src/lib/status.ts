// What each status means to a person, and which tab of My Requests it belongs to. The words
// are the broker's and the CLI's: the portal shows PENDING, not "Awaiting review".
import type { AccessRequest, Status } from '../api/types';

/// Still moving: waiting for an approver, being granted, usable, or being removed.
export const OPEN_STATUSES: readonly Status[] = ['PENDING', 'GRANTING', 'ACTIVE', 'REVOKING'];
/// Over for good.
export const CLOSED_STATUSES: readonly Status[] = ['EXPIRED', 'REVOKED', 'REJECTED', 'FAILED'];

export type Tab = 'open' | 'closed';

export function isOpen(status: Status): boolean {
  return OPEN_STATUSES.includes(status);
}

export function tabOf(status: Status): Tab {
  return isOpen(status) ? 'open' : 'closed';
}

/// One line saying what the status means for the requester.
export function statusHint(status: Status): string {
  switch (status) {
    case 'PENDING':
      return 'Waiting for an approver.';
    case 'GRANTING':
      return 'Approved; the access is being created at the target.';
    case 'ACTIVE':
      return 'The access is usable until it ends.';
    case 'REVOKING':
      return 'Access is over; it is being removed at the target.';
    case 'EXPIRED':
      return 'The grant reached its end and was removed.';
    case 'REVOKED':
      return 'The access was revoked before its end.';
    case 'REJECTED':
      return 'An approver rejected the request.';
    case 'FAILED':
      return 'The access could not be granted.';
  }
}

/// The colour family of a status badge (a CSS class suffix).
export function statusTone(status: Status): 'wait' | 'busy' | 'ok' | 'ended' | 'bad' {
  switch (status) {
    case 'PENDING':
      return 'wait';
    case 'GRANTING':
    case 'REVOKING':
      return 'busy';
    case 'ACTIVE':
      return 'ok';
    case 'EXPIRED':
    case 'REVOKED':
      return 'ended';
    case 'REJECTED':
    case 'FAILED':
      return 'bad';
  }
}

/// What the requester may do with a request now.
export interface Allowed {
  revoke: boolean;
  resetCredentials: boolean;
  accessDetails: boolean;
  requestAgain: boolean;
}

/// The actions the broker would accept from the requester (docs/api.md), so the page never
/// offers a button that can only fail.
export function requesterActions(r: Pick<AccessRequest, 'status'>): Allowed {
  const s = r.status;
  return {
    revoke: s === 'PENDING' || s === 'GRANTING' || s === 'ACTIVE',
    resetCredentials: s === 'ACTIVE',
    accessDetails: s === 'ACTIVE',
    requestAgain: s !== 'PENDING' && s !== 'GRANTING',
  };
}

/// Counts of requests per tab.
export function countByTab(
  requests: readonly Pick<AccessRequest, 'status'>[],
): Record<Tab, number> {
  const out: Record<Tab, number> = { open: 0, closed: 0 };
  for (const r of requests) out[tabOf(r.status)]++;
  return out;
}
