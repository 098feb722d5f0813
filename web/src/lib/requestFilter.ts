// The filters of My Requests and Approvals, applied to the requests loaded so far: tab,
// integration, resource type, status and free text. Pure, so 1,000 requests filter in
// well under a frame and the rules are tested without a browser.
import type { AccessRequest, Status } from '../api/types';
import { type Tab, tabOf } from './status';

export interface RequestFilter {
  tab?: Tab | 'all';
  integration?: string;
  resourceType?: string;
  status?: Status | '';
  /// Words that must all appear (case-insensitive) in the id, requester, bundle, integration,
  /// resource type, resources, permissions, justification, flow or decider.
  search?: string;
}

/// The bundle counts as the integration of a bundle request (`bundle NAME`, as the CLI lists it).
export function integrationLabel(r: Pick<AccessRequest, 'integration' | 'bundle'>): string {
  return r.integration || (r.bundle ? `bundle ${r.bundle}` : '');
}

function haystack(r: AccessRequest): string {
  return [
    r.id,
    r.requester,
    r.bundle ?? '',
    r.integration ?? '',
    r.resource_type ?? '',
    ...r.resources,
    ...r.permissions,
    r.justification,
    r.access_flow ?? '',
    r.decided_by ?? '',
    r.status,
  ]
    .join('\n')
    .toLowerCase();
}

/// The requests that pass every filter, in their original order.
export function filterRequests(
  requests: readonly AccessRequest[],
  f: RequestFilter,
): AccessRequest[] {
  const words = (f.search ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  return requests.filter((r) => {
    if (f.tab && f.tab !== 'all' && tabOf(r.status) !== f.tab) return false;
    if (f.integration && integrationLabel(r) !== f.integration) return false;
    if (f.resourceType && r.resource_type !== f.resourceType) return false;
    if (f.status && r.status !== f.status) return false;
    if (words.length === 0) return true;
    const h = haystack(r);
    return words.every((w) => h.includes(w));
  });
}

/// The values the filter menus offer, from what is loaded: sorted, without duplicates.
export function filterOptions(requests: readonly AccessRequest[]): {
  integrations: string[];
  resourceTypes: string[];
  statuses: Status[];
} {
  const integrations = new Set<string>();
  const types = new Set<string>();
  const statuses = new Set<Status>();
  for (const r of requests) {
    const i = integrationLabel(r);
    if (i) integrations.add(i);
    if (r.resource_type) types.add(r.resource_type);
    statuses.add(r.status);
  }
  const order = (s: Status) =>
    [
      'PENDING',
      'GRANTING',
      'ACTIVE',
      'REVOKING',
      'EXPIRED',
      'REVOKED',
      'REJECTED',
      'FAILED',
    ].indexOf(s);
  return {
    integrations: [...integrations].sort(),
    resourceTypes: [...types].sort(),
    statuses: [...statuses].sort((a, b) => order(a) - order(b)),
  };
}

/// Merges a fresh page or a single request into a list kept newest first (by numeric id),
/// replacing older copies of the same request.
export function mergeRequests(
  list: readonly AccessRequest[],
  incoming: readonly AccessRequest[],
): AccessRequest[] {
  const byId = new Map(list.map((r) => [r.id, r]));
  for (const r of incoming) byId.set(r.id, r);
  return [...byId.values()].sort((a, b) => requestNumber(b.id) - requestNumber(a.id));
}

/// 12 for `AR-00012`; NaN for anything else.
export function requestNumber(id: string): number {
  const m = /^AR-(\d+)$/i.exec(id);
  return m ? Number(m[1]) : Number.NaN;
}
