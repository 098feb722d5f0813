// The shapes of the broker's JSON (docs/api.md), as the portal reads them. Times are RFC 3339
// UTC strings; ids of requests look like AR-00012.

/// Every status a request or a unit can have, in lifecycle order.
export const STATUSES = [
  'PENDING',
  'GRANTING',
  'ACTIVE',
  'REVOKING',
  'EXPIRED',
  'REVOKED',
  'REJECTED',
  'FAILED',
] as const;
export type Status = (typeof STATUSES)[number];

/// `GET /api/v1/session` and the answer to signing in.
export interface Session {
  user: string;
  email: string;
  admin: boolean;
  approver: boolean;
  /// The event feed's position when the session was read: the feed starts there.
  events_after?: number;
  /// Only in the answer to `POST /api/v1/browser-session`.
  idle_timeout_seconds?: number;
  expires_at?: string;
}

export interface Integration {
  id: string;
  name: string;
  type: string;
  resource_types: string[];
}

export interface ResourceType {
  id: string;
  name: string;
  integration: string;
}

/// A resource or a permission of the catalog (same shape).
export interface CatalogItem {
  id: string;
  name: string;
  integration: string;
  resource_type: string;
}

export interface BundleTarget {
  integration: string;
  resources: string[];
  permissions: string[];
}

export interface Bundle {
  id: string;
  name: string;
  targets: BundleTarget[];
}

export interface Principals {
  users: string[];
  groups: string[];
}

/// An access flow as configured (`GET /api/v1/access-flows`, admins only).
export interface AccessFlow {
  name: string;
  approval: 'automatic' | 'manual';
  requestors: Principals;
  approvers: Principals;
  targets: BundleTarget[];
  max_duration_seconds: number;
  default_duration_seconds: number;
  justification_required: boolean;
}

export interface AccessUnit {
  id: number;
  integration: string;
  resource_type: string;
  resource: string;
  permission: string;
  status: Status;
  last_error: string | null;
}

export interface AccessRequest {
  id: string;
  requester: string;
  integration: string | null;
  resource_type: string | null;
  bundle: string | null;
  resources: string[];
  permissions: string[];
  duration_seconds: number;
  justification: string;
  status: Status;
  /// Why a REVOKING or ended request ended: expired, revoked, failed.
  end_reason: string | null;
  access_flow: string | null;
  /// `automatic` or `manual`.
  approval: string | null;
  created_at: string;
  updated_at: string;
  active_from: string | null;
  ends_at: string | null;
  /// `automatic`, or the approver who approved or rejected it.
  decided_by: string | null;
  /// The rejection (or revocation) reason.
  reason: string | null;
  units: AccessUnit[];
  /// Who may approve it, when the broker says (not in docs/api.md yet).
  approvers?: string[];
}

/// The body of a create, a dry run or a plan.
export interface CreateBody {
  integration?: string;
  resource_type?: string;
  resources?: string[];
  permissions?: string[];
  bundle?: string;
  duration?: string;
  justification: string;
  dry_run?: boolean;
}

export interface PlanUnit {
  resource: string;
  permission: string;
}

/// One access flow's share of a selection: submitted as its own request.
export interface PlanGroup {
  flow: string;
  automatic: boolean;
  approvers: string[];
  max_duration_seconds: number | null;
  resources: string[];
  permissions: string[];
  units: PlanUnit[];
  /// For a bundle that spans integrations, the group's integration (when the broker says).
  integration?: string;
  resource_type?: string;
}

export interface PlanRefusal {
  resource: string;
  permission: string;
  reason: string;
}

/// `POST /api/v1/access-requests/plan`.
export interface Plan {
  groups: PlanGroup[];
  refused: PlanRefusal[];
}

/// One unit of `GET /api/v1/access-sessions/{id}/access-details`; fields depend on `type`.
export interface UnitCredentials {
  integration: string;
  type: string;
  resource: string;
  permission: string;
  host?: string;
  port?: number;
  database?: string;
  username?: string;
  password?: string;
  sslmode?: string;
  connection_string?: string;
  ssl_root_cert?: string;
  principal?: string;
  known_hosts?: string;
  role_arn?: string;
  region?: string;
  access_key_id?: string;
  secret_access_key?: string;
  session_token?: string;
  expiration?: string;
  identity?: string;
  cluster_role?: string;
  server?: string;
  certificate_authority?: string;
  namespace?: string;
  token?: string;
}

export interface AccessDetails {
  request_id: string;
  status: Status;
  ends_at: string;
  events_after: number;
  units: UnitCredentials[];
}

/// One status change of `GET /api/v1/events`.
export interface StatusEvent {
  id: number;
  at: string;
  request_id: string;
  status: Status;
  action: string;
  ends_at: string | null;
  /// Who caused it: a user, or `system` (brokers before the field: absent).
  actor?: string;
}

export interface EventPage {
  events: StatusEvent[];
  next_after: number;
}

/// One entry of `GET /api/v1/audit` (admins).
export interface AuditEvent {
  id: number;
  at: string;
  actor: string;
  action: string;
  request_id: string | null;
  status: string | null;
  detail: Record<string, unknown>;
}
