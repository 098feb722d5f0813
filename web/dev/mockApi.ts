// A dev-only stand-in for aponod's /api/v1, in memory, so `npm run dev` and `npm run preview`
// show every screen without a broker: users alice, bob (approver) and admin (admin, approver),
// each with the password "dev"; a catalog over four integration types; ~1,000 seeded requests;
// requests that move through GRANTING to ACTIVE and expire; the events long-poll; the audit
// log; the plan endpoint. It follows docs/api.md and the portal brief, not the broker's code,
// and is never part of `vite build`. Preview also sends the broker's CSP, so the built bundle
// is checked under it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin } from 'vite';

type Status =
  'PENDING' | 'GRANTING' | 'ACTIVE' | 'REVOKING' | 'EXPIRED' | 'REVOKED' | 'REJECTED' | 'FAILED';

interface Unit {
  id: number;
  integration: string;
  resource_type: string;
  resource: string;
  permission: string;
  status: Status;
  last_error: string | null;
}

interface Req {
  id: string;
  n: number;
  requester: string;
  integration: string | null;
  resource_type: string | null;
  bundle: string | null;
  resources: string[];
  permissions: string[];
  duration_seconds: number;
  justification: string;
  status: Status;
  end_reason: string | null;
  access_flow: string;
  approval: string;
  created_at: string;
  updated_at: string;
  active_from: string | null;
  ends_at: string | null;
  decided_by: string | null;
  reason: string | null;
  units: Unit[];
}

interface Flow {
  name: string;
  integration: string;
  permissions: string[];
  automatic: boolean;
  approvers: string[];
  max: number;
}

const USERS: Record<string, { email: string; admin: boolean }> = {
  alice: { email: 'alice@example.com', admin: false },
  bob: { email: 'bob@example.com', admin: false },
  carol: { email: 'carol@example.com', admin: false },
  admin: { email: 'admin@example.com', admin: true },
};

const INTEGRATIONS = [
  { id: 'pg-local', name: 'pg-local', type: 'postgresql', resource_types: ['database'] },
  { id: 'ssh-local', name: 'ssh-local', type: 'ssh', resource_types: ['host'] },
  { id: 'aws-prod', name: 'AWS production', type: 'aws', resource_types: ['account'] },
  { id: 'k8s-prod', name: 'k8s-prod', type: 'kubernetes', resource_types: ['namespace'] },
];

const RESOURCES: Record<string, string[]> = {
  'pg-local': [
    'appdb',
    'billing',
    'ledger',
    ...Array.from({ length: 1200 }, (_, i) => `tenant-${String(i + 1).padStart(4, '0')}`),
  ],
  'ssh-local': ['web-1', 'web-2', 'batch-1'],
  'aws-prod': ['123456789012'],
  'k8s-prod': ['team-a', 'team-b'],
};

const PERMISSIONS: Record<string, string[]> = {
  'pg-local': ['read_only', 'read_write', 'admin'],
  'ssh-local': ['deploy'],
  'aws-prod': ['read-only'],
  'k8s-prod': ['view', 'edit'],
};

const FLOWS: Flow[] = [
  {
    name: 'engineers-read-only',
    integration: 'pg-local',
    permissions: ['read_only'],
    automatic: true,
    approvers: [],
    max: 8 * 3600,
  },
  {
    name: 'prod-write',
    integration: 'pg-local',
    permissions: ['read_write', 'admin'],
    automatic: false,
    approvers: ['bob', 'admin'],
    max: 2 * 3600,
  },
  {
    name: 'deploys',
    integration: 'ssh-local',
    permissions: ['deploy'],
    automatic: false,
    approvers: ['bob'],
    max: 4 * 3600,
  },
  {
    name: 'aws-read',
    integration: 'aws-prod',
    permissions: ['read-only'],
    automatic: true,
    approvers: [],
    max: 3600,
  },
  {
    name: 'k8s',
    integration: 'k8s-prod',
    permissions: ['view', 'edit'],
    automatic: true,
    approvers: [],
    max: 8 * 3600,
  },
];

const BUNDLES = [
  {
    id: 'all-databases-read-only',
    name: 'all-databases-read-only',
    targets: [
      {
        integration: 'pg-local',
        resources: ['appdb', 'billing', 'ledger'],
        permissions: ['read_only'],
      },
    ],
  },
];

const TYPE_OF: Record<string, string> = {
  'pg-local': 'database',
  'ssh-local': 'host',
  'aws-prod': 'account',
  'k8s-prod': 'namespace',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const iso = (t: number) => new Date(t).toISOString();
const idText = (n: number) => `AR-${String(n).padStart(5, '0')}`;
const flowFor = (integration: string, permission: string) =>
  FLOWS.find((f) => f.integration === integration && f.permissions.includes(permission));

function parseDuration(v: unknown): number | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'number') return Math.round(v * 3600);
  const s = String(v).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 3600);
  const m =
    /^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(
      s,
    );
  if (!m || s === '') throw new HttpError(400, 'invalid_argument', `invalid duration '${s}'`);
  const [d, h, mi, se] = m.slice(1).map((x) => Number(x ?? 0));
  const total = Math.round(d! * 86400 + h! * 3600 + mi! * 60 + se!);
  if (total <= 0) throw new HttpError(400, 'invalid_argument', `invalid duration '${s}'`);
  return total;
}

class Broker {
  requests = new Map<number, Req>();
  audit: Array<{
    id: number;
    at: string;
    actor: string;
    action: string;
    request_id: string | null;
    status: string | null;
    detail: Record<string, unknown>;
    n: number | null;
  }> = [];
  sessions = new Map<string, { user: string; last: number }>();
  waiters = new Set<() => void>();
  next = 1;
  unitId = 1;
  failures = new Map<string, number>();

  constructor() {
    this.seed();
    setInterval(() => this.tick(), 250).unref();
  }

  record(actor: string, action: string, r: Req | null, detail: Record<string, unknown> = {}) {
    this.audit.push({
      id: this.audit.length + 1,
      at: iso(Date.now()),
      actor,
      action,
      request_id: r ? r.id : null,
      status: r ? r.status : null,
      detail,
      n: r ? r.n : null,
    });
    for (const w of [...this.waiters]) w();
  }

  setStatus(
    r: Req,
    s: Status,
    actor: string,
    action: string,
    detail: Record<string, unknown> = {},
  ) {
    r.status = s;
    r.updated_at = iso(Date.now());
    for (const u of r.units) u.status = s === 'PENDING' ? 'PENDING' : s;
    this.record(actor, action, r, detail);
  }

  seed() {
    const now = Date.now();
    const statuses: Status[] = ['EXPIRED', 'EXPIRED', 'EXPIRED', 'REVOKED', 'REJECTED', 'FAILED'];
    for (let i = 0; i < 1000; i++) {
      const integ = i % 7 === 0 ? 'ssh-local' : i % 5 === 0 ? 'k8s-prod' : 'pg-local';
      const res = RESOURCES[integ]![i % 3]!;
      const perm = PERMISSIONS[integ]![i % PERMISSIONS[integ]!.length]!;
      const created = now - (1000 - i) * 3600_000;
      const status = statuses[i % statuses.length]!;
      this.make(
        'alice',
        integ,
        [res],
        [perm],
        `TICKET-${1000 + i}: routine check`,
        3600,
        created,
        status,
      );
    }
    const r1 = this.make(
      'alice',
      'pg-local',
      ['appdb'],
      ['read_only'],
      'INC-42: orders are slow',
      1800,
      now - 600_000,
      'ACTIVE',
    );
    r1.active_from = iso(now - 300_000);
    r1.ends_at = iso(now + 1500_000);
    this.make(
      'alice',
      'pg-local',
      ['billing'],
      ['read_write'],
      'fix invoice 77 by hand',
      3600,
      now - 120_000,
      'PENDING',
    );
    this.make(
      'carol',
      'pg-local',
      ['ledger'],
      ['admin'],
      'CHG-9: migrate the ledger schema',
      5400,
      now - 3600_000,
      'PENDING',
    );
    this.make(
      'carol',
      'ssh-local',
      ['web-1'],
      ['deploy'],
      "hotfix deploy: it's urgent",
      1800,
      now - 900_000,
      'PENDING',
    );
    this.make(
      'alice',
      'ssh-local',
      ['web-2'],
      ['deploy'],
      'deploy 1.4.2',
      1800,
      now - 60_000,
      'PENDING',
    );
  }

  make(
    requester: string,
    integration: string,
    resources: string[],
    permissions: string[],
    justification: string,
    duration: number,
    created: number,
    status: Status,
    bundle: string | null = null,
  ): Req {
    const n = this.next++;
    const flow = flowFor(integration, permissions[0]!)!;
    const r: Req = {
      id: idText(n),
      n,
      requester,
      integration: bundle ? null : integration,
      resource_type: bundle ? null : TYPE_OF[integration]!,
      bundle,
      resources,
      permissions,
      duration_seconds: duration,
      justification,
      status,
      end_reason:
        status === 'EXPIRED'
          ? 'expired'
          : status === 'REVOKED'
            ? 'revoked'
            : status === 'FAILED'
              ? 'failed'
              : null,
      access_flow: flow.name,
      approval: flow.automatic ? 'automatic' : 'manual',
      created_at: iso(created),
      updated_at: iso(
        ['EXPIRED', 'REVOKED', 'REJECTED', 'FAILED'].includes(status)
          ? created + duration * 1000
          : created,
      ),
      active_from: ['EXPIRED', 'REVOKED', 'ACTIVE'].includes(status) ? iso(created + 1000) : null,
      ends_at: ['EXPIRED', 'REVOKED', 'ACTIVE'].includes(status)
        ? iso(created + 1000 + duration * 1000)
        : null,
      decided_by:
        status === 'PENDING'
          ? null
          : flow.automatic
            ? 'automatic'
            : status === 'REJECTED'
              ? 'bob'
              : 'bob',
      reason: status === 'REJECTED' ? 'no ticket linked' : null,
      units: [],
    };
    for (const res of resources)
      for (const p of permissions)
        r.units.push({
          id: this.unitId++,
          integration,
          resource_type: TYPE_OF[integration]!,
          resource: res,
          permission: p,
          status: status,
          last_error:
            status === 'FAILED' ? 'could not connect to server: Connection refused' : null,
        });
    this.requests.set(n, r);
    this.record(requester, 'request.created', r, {});
    return r;
  }

  // The scheduler: grants after a moment, expiry, revocation.
  tick() {
    const now = Date.now();
    for (const r of this.requests.values()) {
      const since = now - Date.parse(r.updated_at);
      if (r.status === 'GRANTING' && since > 1200) {
        r.active_from = iso(now);
        r.ends_at = iso(now + r.duration_seconds * 1000);
        this.setStatus(r, 'ACTIVE', 'system', 'request.active');
      } else if (r.status === 'ACTIVE' && r.ends_at && Date.parse(r.ends_at) <= now) {
        r.end_reason = 'expired';
        this.setStatus(r, 'REVOKING', 'system', 'request.expiring');
      } else if (r.status === 'REVOKING' && since > 800) {
        this.setStatus(
          r,
          r.end_reason === 'expired' ? 'EXPIRED' : r.end_reason === 'failed' ? 'FAILED' : 'REVOKED',
          'system',
          'unit.revoked',
        );
      }
    }
  }

  flowOf(r: Req) {
    return FLOWS.find((f) => f.name === r.access_flow)!;
  }
  canSee(user: string, r: Req) {
    return r.requester === user || USERS[user]?.admin || this.flowOf(r).approvers.includes(user);
  }
  get(user: string, id: string): Req {
    const m = /^(?:AR-)?0*(\d+)$/i.exec(id);
    const r = m ? this.requests.get(Number(m[1])) : undefined;
    if (!r || !this.canSee(user, r))
      throw new HttpError(404, 'not_found', `request ${id} not found`);
    return r;
  }

  isApprover(user: string) {
    return FLOWS.some((f) => f.approvers.includes(user));
  }

  plan(user: string, body: Record<string, unknown>) {
    let integration = String(body.integration ?? '');
    let resources = ([] as string[]).concat((body.resources as string[]) ?? []);
    let permissions = ([] as string[]).concat((body.permissions as string[]) ?? []);
    if (body.bundle) {
      const b = BUNDLES.find((x) => x.id === body.bundle);
      if (!b) throw new HttpError(400, 'invalid_argument', `unknown bundle '${body.bundle}'`);
      integration = b.targets[0]!.integration;
      resources = b.targets[0]!.resources;
      permissions = b.targets[0]!.permissions;
    }
    if (!RESOURCES[integration])
      throw new HttpError(400, 'invalid_argument', `unknown integration '${integration}'`);
    const groups = new Map<
      string,
      { flow: Flow; units: Array<{ resource: string; permission: string }> }
    >();
    const refused: Array<{ resource: string; permission: string; reason: string }> = [];
    for (const res of resources)
      for (const p of permissions) {
        if (!RESOURCES[integration]!.includes(res))
          throw new HttpError(
            400,
            'invalid_argument',
            `unknown resource '${res}' in integration '${integration}'`,
          );
        const f = flowFor(integration, p);
        if (!f) {
          refused.push({
            resource: res,
            permission: p,
            reason: 'no access flow lets you request it',
          });
          continue;
        }
        const g = groups.get(f.name) ?? { flow: f, units: [] };
        g.units.push({ resource: res, permission: p });
        groups.set(f.name, g);
      }
    void user;
    return {
      groups: [...groups.values()].map((g) => ({
        flow: g.flow.name,
        automatic: g.flow.automatic,
        approvers: g.flow.approvers,
        max_duration_seconds: g.flow.max,
        resources: [...new Set(g.units.map((u) => u.resource))],
        permissions: [...new Set(g.units.map((u) => u.permission))],
        units: g.units,
      })),
      refused,
    };
  }

  create(user: string, body: Record<string, unknown>) {
    const justification = String(body.justification ?? '').trim();
    if (!justification)
      throw new HttpError(
        400,
        'invalid_argument',
        'justification is required: say why you need this access',
      );
    const p = this.plan(user, body);
    if (p.groups.length !== 1 || p.refused.length)
      throw new HttpError(
        403,
        'permission_denied',
        'no single access flow allows every unit of this request',
      );
    const g = p.groups[0]!;
    const duration = parseDuration(body.duration) ?? Math.min(3600, g.max_duration_seconds);
    if (duration > g.max_duration_seconds)
      throw new HttpError(
        422,
        'failed_precondition',
        `duration over the access flow '${g.flow}' maximum`,
      );
    const integration = body.bundle
      ? BUNDLES[0]!.targets[0]!.integration
      : String(body.integration);
    if (body.dry_run) return { valid: true, request: { id: null } };
    const r = this.make(
      user,
      integration,
      g.resources,
      g.permissions,
      justification,
      duration,
      Date.now(),
      g.automatic ? 'GRANTING' : 'PENDING',
      body.bundle ? String(body.bundle) : null,
    );
    if (g.automatic) r.decided_by = 'automatic';
    return r;
  }
}

const broker = new Broker();

function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Cache-Control', 'no-store');
  if (body === undefined) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let data = '';
  for await (const chunk of req) data += chunk;
  if (!data) return {};
  try {
    return JSON.parse(data) as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'invalid_argument', 'malformed JSON');
  }
}

const publicRequest = (r: Req) => {
  const { n: _n, ...rest } = r;
  void _n;
  return rest;
};

function details(r: Req) {
  return {
    request_id: r.id,
    status: r.status,
    ends_at: r.ends_at,
    events_after: broker.audit.length,
    units: r.units.map((u) => {
      const base = { integration: u.integration, resource: u.resource, permission: u.permission };
      const login = `apono_ar${r.n}_k3j9x2`;
      const secret = `s3cr'et-${r.n}-${Math.random().toString(36).slice(2, 8)}`;
      switch (u.integration) {
        case 'pg-local':
          return {
            ...base,
            type: 'postgresql',
            host: '127.0.0.1',
            port: 5432,
            database: u.resource,
            username: login,
            password: secret,
            sslmode: 'prefer',
            connection_string: `postgresql://${login}:${encodeURIComponent(secret)}@127.0.0.1:5432/${u.resource}?sslmode=prefer`,
          };
        case 'ssh-local':
          return {
            ...base,
            type: 'ssh',
            host: '10.0.0.7',
            port: 22,
            username: 'deploy',
            principal: 'apono-deploy',
            known_hosts: '10.0.0.7 ssh-ed25519 AAAAC3Nz...\n',
          };
        case 'aws-prod':
          return {
            ...base,
            type: 'aws',
            role_arn: 'arn:aws:iam::123456789012:role/ReadOnly',
            region: 'us-east-1',
            access_key_id: 'ASIAEXAMPLE',
            secret_access_key: secret,
            session_token: 'FwoGZXIvYXdzEXAMPLE',
            expiration: r.ends_at,
            identity: `arn:aws:sts::123456789012:assumed-role/ReadOnly/apono-${r.id}-${r.requester}`,
          };
        default:
          return {
            ...base,
            type: 'kubernetes',
            cluster_role: u.permission,
            server: 'https://10.0.0.1:6443',
            certificate_authority: '-----BEGIN CERTIFICATE-----...',
            namespace: u.resource,
            username: `system:serviceaccount:${u.resource}:apono-ar${r.n}`,
            token: secret,
            expiration: r.ends_at,
          };
      }
    }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname.replace(/^\/api\/v1/, '');
  const method = req.method ?? 'GET';
  if (method !== 'GET' && req.headers['x-apono-csrf'] !== '1')
    throw new HttpError(403, 'permission_denied', 'missing X-Apono-CSRF header');

  if (path === '/browser-session' && method === 'POST') {
    const b = await readBody(req);
    const user = String(b.username ?? '');
    const fails = broker.failures.get(user) ?? 0;
    if (fails >= 5)
      throw new HttpError(
        429,
        'resource_exhausted',
        'too many failed sign-ins: try again in 15 minutes',
      );
    if (!USERS[user] || b.password !== 'dev') {
      broker.failures.set(user, fails + 1);
      throw new HttpError(401, 'unauthenticated', 'invalid username or password');
    }
    broker.failures.delete(user);
    const sid = Math.random().toString(36).slice(2);
    broker.sessions.set(sid, { user, last: Date.now() });
    return send(
      res,
      200,
      {
        user,
        email: USERS[user]!.email,
        admin: USERS[user]!.admin,
        approver: broker.isApprover(user) || USERS[user]!.admin,
        events_after: broker.audit.length,
        idle_timeout_seconds: 1800,
        expires_at: iso(Date.now() + 12 * 3600_000),
      },
      { 'Set-Cookie': `mock_session=${sid}; Path=/; HttpOnly; SameSite=Strict` },
    );
  }

  const sid = /(?:^|;\s*)mock_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
  const s = sid ? broker.sessions.get(sid) : undefined;
  if (!s) throw new HttpError(401, 'unauthenticated', 'not signed in');
  if (Date.now() - s.last > 1800_000) {
    broker.sessions.delete(sid!);
    throw new HttpError(401, 'unauthenticated', 'session expired: sign in again');
  }
  s.last = Date.now();
  const user = s.user;
  const admin = USERS[user]!.admin;

  if (path === '/browser-session' && method === 'DELETE') {
    broker.sessions.delete(sid!);
    return send(res, 204, undefined, { 'Set-Cookie': 'mock_session=; Path=/; Max-Age=0' });
  }
  if (path === '/session')
    return send(res, 200, {
      user,
      email: USERS[user]!.email,
      admin,
      approver: broker.isApprover(user) || admin,
      events_after: broker.audit.length,
    });
  if (path === '/integrations') return send(res, 200, INTEGRATIONS);
  let m = /^\/integrations\/([^/]+)\/resource-types$/.exec(path);
  if (m) {
    const i = INTEGRATIONS.find((x) => x.id === m![1]);
    if (!i) throw new HttpError(404, 'not_found', `unknown integration '${m[1]}'`);
    return send(res, 200, [
      { id: i.resource_types[0], name: i.resource_types[0], integration: i.id },
    ]);
  }
  if (path === '/resources' || path === '/permissions') {
    const i = url.searchParams.get('integration') ?? '';
    const list = (path === '/resources' ? RESOURCES : PERMISSIONS)[i];
    if (!list) throw new HttpError(404, 'not_found', `unknown integration '${i}'`);
    return send(
      res,
      200,
      list.map((x) => ({ id: x, name: x, integration: i, resource_type: TYPE_OF[i] })),
    );
  }
  if (path === '/bundles') return send(res, 200, BUNDLES);
  if (path === '/access-flows') {
    if (!admin) throw new HttpError(403, 'permission_denied', 'access flows are for admins');
    return send(
      res,
      200,
      FLOWS.map((f) => ({
        name: f.name,
        approval: f.automatic ? 'automatic' : 'manual',
        requestors: { users: [], groups: ['engineers'] },
        approvers: { users: f.approvers, groups: [] },
        targets: [{ integration: f.integration, resources: ['*'], permissions: f.permissions }],
        max_duration_seconds: f.max,
        default_duration_seconds: Math.min(3600, f.max),
        justification_required: true,
      })),
    );
  }
  if (path === '/access-requests/plan' && method === 'POST')
    return send(res, 200, broker.plan(user, await readBody(req)));
  if (path === '/access-requests' && method === 'POST') {
    const b = await readBody(req);
    const r = broker.create(user, b);
    return send(res, b.dry_run ? 200 : 201, 'n' in r ? publicRequest(r as Req) : r);
  }
  if (path === '/access-requests') {
    const scope = url.searchParams.get('scope') ?? 'mine';
    const limit = Math.min(500, Number(url.searchParams.get('limit') ?? 100));
    const cursor = url.searchParams.get('cursor');
    const before = cursor ? Number(cursor.slice(3)) : Infinity;
    const all = [...broker.requests.values()]
      .filter((r) => r.n < before)
      .filter((r) =>
        scope === 'mine'
          ? r.requester === user
          : scope === 'approvable'
            ? r.status === 'PENDING' &&
              r.requester !== user &&
              broker.flowOf(r).approvers.includes(user)
            : broker.canSee(user, r),
      )
      .sort((a, b) => b.n - a.n);
    const page = all.slice(0, limit);
    const headers: Record<string, string> = {};
    if (all.length > limit) headers['X-Next-Cursor'] = `v1.${page.at(-1)!.n}`;
    return send(res, 200, page.map(publicRequest), headers);
  }
  m = /^\/access-requests\/([^/]+)(?:\/([a-z-]+))?$/.exec(path);
  if (m) {
    const r = broker.get(user, m[1]!);
    const action = m[2];
    if (!action && method === 'GET') return send(res, 200, publicRequest(r));
    if (action === 'events' && method === 'GET')
      return send(res, 200, {
        events: broker.audit
          .filter((e) => e.n === r.n && e.status !== null)
          .map((e) => ({
            id: e.id,
            at: e.at,
            request_id: e.request_id,
            status: e.status,
            action: e.action,
            ends_at: r.ends_at,
            actor: e.actor,
          })),
      });
    const b = await readBody(req);
    const flow = broker.flowOf(r);
    if (action === 'approve' || action === 'reject') {
      if (r.requester === user)
        throw new HttpError(403, 'permission_denied', 'you cannot approve your own request');
      if (!flow.approvers.includes(user))
        throw new HttpError(
          403,
          'permission_denied',
          `you are not an approver of the access flow '${flow.name}'`,
        );
      if (r.status !== 'PENDING')
        throw new HttpError(409, 'conflict', `${r.id} is ${r.status}, not PENDING`);
      r.decided_by = user;
      if (action === 'approve') broker.setStatus(r, 'GRANTING', user, 'request.approved');
      else {
        if (!String(b.reason ?? '').trim())
          throw new HttpError(400, 'invalid_argument', 'a reason is required to reject');
        r.reason = String(b.reason);
        broker.setStatus(r, 'REJECTED', user, 'request.rejected', { reason: r.reason });
      }
      return send(res, 200, publicRequest(r));
    }
    if (action === 'revoke') {
      if (!['PENDING', 'GRANTING', 'ACTIVE'].includes(r.status))
        throw new HttpError(409, 'conflict', `${r.id} is ${r.status}: nothing to revoke`);
      r.end_reason = 'revoked';
      if (b.reason) r.reason = String(b.reason);
      broker.setStatus(
        r,
        r.status === 'PENDING' ? 'REVOKED' : 'REVOKING',
        user,
        'request.revoked',
        b.reason ? { reason: b.reason } : {},
      );
      return send(res, 200, publicRequest(r));
    }
    if (action === 'reset-credentials') {
      if (r.requester !== user)
        throw new HttpError(403, 'permission_denied', 'only the requester can reset credentials');
      if (r.status !== 'ACTIVE')
        throw new HttpError(409, 'conflict', `${r.id} is ${r.status}, not ACTIVE`);
      broker.record(user, 'credentials.reset', r);
      return send(res, 200, details(r));
    }
    if (action === 'request-again') {
      if (r.requester !== user)
        throw new HttpError(403, 'permission_denied', 'only the requester can request it again');
      const again = broker.create(user, {
        integration: r.integration ?? undefined,
        bundle: r.bundle ?? undefined,
        resources: r.resources,
        permissions: r.permissions,
        justification: b.justification,
        duration: b.duration ?? `${r.duration_seconds}s`,
      });
      return send(res, 201, publicRequest(again as Req));
    }
  }
  m = /^\/access-sessions\/([^/]+)\/access-details$/.exec(path);
  if (m) {
    const r = broker.get(user, m[1]!);
    if (r.requester !== user)
      throw new HttpError(403, 'permission_denied', 'access details are for the requester only');
    if (r.status !== 'ACTIVE')
      throw new HttpError(409, 'conflict', `${r.id} is ${r.status}, not ACTIVE`);
    broker.record(user, 'access_details.fetched', r);
    return send(res, 200, details(r));
  }
  if (path === '/events') {
    const after = Number(url.searchParams.get('after') ?? 0);
    const timeout = Math.min(25, Number(url.searchParams.get('timeout') ?? 25));
    const collect = () => {
      const page = broker.audit.filter((e) => e.id > after).slice(0, 500);
      const next = page.length ? page.at(-1)!.id : after;
      const events = page
        .filter((e) => e.n !== null && broker.canSee(user, broker.requests.get(e.n)!))
        .map((e) => ({
          id: e.id,
          at: e.at,
          request_id: e.request_id,
          status: e.status,
          action: e.action,
          ends_at: broker.requests.get(e.n!)!.ends_at,
          actor: e.actor,
        }));
      return { events, next_after: next };
    };
    let out = collect();
    if (out.events.length === 0 && timeout > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          broker.waiters.delete(done);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(done, timeout * 1000);
        broker.waiters.add(done);
        req.on('close', done);
      });
      out = collect();
    }
    return send(res, 200, out);
  }
  if (path === '/audit') {
    if (!admin) throw new HttpError(403, 'permission_denied', 'the audit trail is for admins');
    const after = Number(url.searchParams.get('after') ?? 0);
    const limit = Math.min(1000, Number(url.searchParams.get('limit') ?? 200));
    const rq = url.searchParams.get('request')?.toUpperCase();
    const list = broker.audit
      .filter((e) => e.id > after && (!rq || e.request_id === rq))
      .slice(0, limit);
    return send(
      res,
      200,
      list.map(({ n: _n, ...e }) => (void _n, e)),
    );
  }
  throw new HttpError(404, 'not_found', `no such endpoint: ${method} ${url.pathname}`);
}

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

function middleware(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  if (!req.url?.startsWith('/api/v1/')) {
    next();
    return;
  }
  handle(req, res).catch((e: unknown) => {
    if (e instanceof HttpError)
      send(res, e.status, { error: { code: e.code, message: e.message } });
    else send(res, 500, { error: { code: 'internal', message: String(e) } });
  });
}

export function mockApi(): Plugin {
  return {
    name: 'apono-mock-api',
    configureServer(server) {
      server.middlewares.use(middleware);
    },
    configurePreviewServer(server) {
      server.middlewares.use((req, res, next) => {
        if (!req.url?.startsWith('/api/')) res.setHeader('Content-Security-Policy', CSP);
        next();
      });
      server.middlewares.use(middleware);
    },
  };
}
