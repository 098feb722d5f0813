// A read-only view of the policy as the broker runs it: integrations with their resource types,
// resources and permissions (fetched when opened), the access flows (who may request what, how
// it is approved, for how long) and bundles. Changes are made in the broker's config file.
import { useState } from 'preact/hooks';
import type { AccessFlow, Bundle, CatalogItem, Integration, Principals } from '../../../api/types';
import { formatDuration } from '../../../lib/duration';
import { useLoad } from '../../../app/hooks';
import { api } from '../../../app/services';
import { ErrorMessage } from '../../../components/ErrorMessage/ErrorMessage';

function Catalog({ i }: { i: Integration }) {
  const q = `integration=${encodeURIComponent(i.id)}`;
  const res = useLoad((s) => api.get<CatalogItem[]>(`/resources?${q}`, s), [q]);
  const perms = useLoad((s) => api.get<CatalogItem[]>(`/permissions?${q}`, s), [q]);
  return (
    <div class="integration__catalog">
      <ErrorMessage error={res.error ?? perms.error} />
      <dl class="facts">
        <dt>Resources</dt>
        <dd>{res.data ? res.data.map((r) => r.name).join(', ') || 'none' : 'Loading…'}</dd>
        <dt>Permissions</dt>
        <dd>{perms.data ? perms.data.map((p) => p.name).join(', ') || 'none' : 'Loading…'}</dd>
      </dl>
    </div>
  );
}

/// `alice, bob; groups engineers`, or `nobody`.
export function principalsText(p: Principals): string {
  const parts = [];
  if (p.users.length) parts.push(p.users.join(', '));
  if (p.groups.length)
    parts.push(`group${p.groups.length === 1 ? '' : 's'} ${p.groups.join(', ')}`);
  return parts.join('; ') || 'nobody';
}

function Flows() {
  const flows = useLoad((s) => api.get<AccessFlow[]>('/access-flows', s), []);
  return (
    <>
      <h2>Access flows</h2>
      <ErrorMessage error={flows.error} />
      {flows.data?.length === 0 && (
        <p class="muted">No access flows: nobody can request anything.</p>
      )}
      <ul class="integration-list" data-testid="flow-list">
        {(flows.data ?? []).map((f) => (
          <li key={f.name} data-testid={`flow-${f.name}`}>
            <strong>{f.name}</strong>{' '}
            <span
              class={`approval-mode approval-mode--${f.approval === 'automatic' ? 'auto' : 'manual'}`}
            >
              {f.approval === 'automatic' ? 'automatic' : 'needs approval'}
            </span>
            <dl class="facts">
              <dt>Who may request</dt>
              <dd>{principalsText(f.requestors)}</dd>
              {f.approval === 'manual' && (
                <>
                  <dt>Approvers</dt>
                  <dd>{principalsText(f.approvers)}</dd>
                </>
              )}
              <dt>What</dt>
              <dd>
                <ul>
                  {f.targets.map((t, k) => (
                    <li key={k}>
                      {t.integration}: {t.resources.join(', ')} ({t.permissions.join(', ')})
                    </li>
                  ))}
                </ul>
              </dd>
              <dt>Duration</dt>
              <dd>
                {formatDuration(f.default_duration_seconds)} unless asked, at most{' '}
                {formatDuration(f.max_duration_seconds)}
              </dd>
              <dt>Justification</dt>
              <dd>{f.justification_required ? 'required' : 'optional'}</dd>
            </dl>
          </li>
        ))}
      </ul>
    </>
  );
}

export function Integrations() {
  const integrations = useLoad((s) => api.get<Integration[]>('/integrations', s), []);
  const bundles = useLoad((s) => api.get<Bundle[]>('/bundles', s), []);
  const [open, setOpen] = useState<Set<string>>(new Set());
  return (
    <>
      <p class="notice">
        Read only: integrations, access flows and bundles are set in the broker's configuration
        file.
      </p>
      <h2>Integrations</h2>
      <ErrorMessage error={integrations.error} />
      <ul class="integration-list" data-testid="integration-list">
        {(integrations.data ?? []).map((i) => (
          <li key={i.id}>
            <details
              onToggle={(e) => {
                const isOpen = (e.currentTarget as HTMLDetailsElement).open;
                setOpen((s) => {
                  const n = new Set(s);
                  if (isOpen) n.add(i.id);
                  else n.delete(i.id);
                  return n;
                });
              }}
            >
              <summary>
                <strong>{i.name}</strong> <code class="muted">{i.id}</code> · {i.type} ·{' '}
                {i.resource_types.join(', ')}
              </summary>
              {open.has(i.id) && <Catalog i={i} />}
            </details>
          </li>
        ))}
      </ul>
      <Flows />
      <h2>Bundles</h2>
      <ErrorMessage error={bundles.error} />
      {bundles.data?.length === 0 && <p class="muted">No bundles.</p>}
      <ul class="integration-list" data-testid="bundle-list">
        {(bundles.data ?? []).map((b) => (
          <li key={b.id}>
            <strong>{b.name}</strong>
            <ul>
              {b.targets.map((t, k) => (
                <li key={k}>
                  {t.integration}: {t.resources.join(', ')} ({t.permissions.join(', ')})
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </>
  );
}
