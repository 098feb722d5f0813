// A read-only view of the catalog as the API shows it to this admin: integrations with their
// resource types, resources and permissions (fetched when opened), and bundles. The API does
// not expose access flows; they live in the broker's config file.
import { useState } from 'preact/hooks';
import type { Bundle, CatalogItem, Integration } from '../../../api/types';
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

export function Integrations() {
  const integrations = useLoad((s) => api.get<Integration[]>('/integrations', s), []);
  const bundles = useLoad((s) => api.get<Bundle[]>('/bundles', s), []);
  const [open, setOpen] = useState<Set<string>>(new Set());
  return (
    <>
      <p class="notice">
        Access flows (who may request what, approvers, maximum durations) are set in the broker's
        configuration file and are not exposed by the API; this page shows the catalog they allow
        you.
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
