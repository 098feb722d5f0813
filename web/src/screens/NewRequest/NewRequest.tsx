// New request: integration → resource type → resources → permissions → duration →
// justification, or a bundle; then the review (access flows, approvers, Copy as CLI) and
// submit. Like the CLI, a choice with one option makes itself, and every request is checked
// with a dry run before any is created.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type {
  AccessRequest,
  Bundle,
  CatalogItem,
  CreateBody,
  Integration,
  Plan,
  ResourceType,
} from '../../api/types';
import { useLoad, useTitle } from '../../app/hooks';
import { navigate } from '../../app/navigation';
import { api } from '../../app/services';
import { ErrorMessage } from '../../components/ErrorMessage/ErrorMessage';
import { Link } from '../../components/Link/Link';
import { announce } from '../../components/LiveRegion/LiveRegion';
import { StatusBadge } from '../../components/StatusBadge/StatusBadge';
import { requestCommand } from '../../lib/cliCommand';
import { durationError } from '../../lib/duration';
import { allAutomatic, cliCommands, createBodies, durationCap, submissions } from '../../lib/plan';
import { inOrder } from '../../lib/selection';
import { BundlePicker } from './BundlePicker/BundlePicker';
import { Checkout } from './Checkout/Checkout';
import { DurationField } from './DurationField/DurationField';
import { ResourcePicker } from './ResourcePicker/ResourcePicker';
import './NewRequest.css';

type Mode = 'integration' | 'bundle';

const none = <T,>(): Promise<T[]> => Promise.resolve([]);

export function NewRequest() {
  useTitle('New request');
  const [mode, setMode] = useState<Mode>('integration');
  const [integration, setIntegration] = useState('');
  const [resourceType, setResourceType] = useState('');
  const [resources, setResources] = useState<Set<string>>(new Set());
  const [permissions, setPermissions] = useState<Set<string>>(new Set());
  const [bundle, setBundle] = useState('');
  const [duration, setDuration] = useState('');
  const [justification, setJustification] = useState('');
  const [plan, setPlan] = useState<Plan | null>(null);
  const [planning, setPlanning] = useState(false);
  const [planError, setPlanError] = useState<unknown>(null);
  const [submitting, setSubmitting] = useState(false);
  const [submitError, setSubmitError] = useState<unknown>(null);
  const [created, setCreated] = useState<AccessRequest[]>([]);

  const integrations = useLoad((s) => api.get<Integration[]>('/integrations', s), []);
  const bundles = useLoad((s) => api.get<Bundle[]>('/bundles', s), []);
  const types = useLoad(
    (s) =>
      integration
        ? api.get<ResourceType[]>(
            `/integrations/${encodeURIComponent(integration)}/resource-types`,
            s,
          )
        : none<ResourceType>(),
    [integration],
  );
  const catalogQuery = `integration=${encodeURIComponent(integration)}&resource_type=${encodeURIComponent(resourceType)}`;
  const ready = !!integration && !!resourceType;
  const resourceList = useLoad(
    (s) => (ready ? api.get<CatalogItem[]>(`/resources?${catalogQuery}`, s) : none<CatalogItem>()),
    [catalogQuery, ready],
  );
  const permissionList = useLoad(
    (s) =>
      ready ? api.get<CatalogItem[]>(`/permissions?${catalogQuery}`, s) : none<CatalogItem>(),
    [catalogQuery, ready],
  );

  // Single options choose themselves, as in the CLI's interactive flow.
  useEffect(() => {
    const l = integrations.data;
    if (l?.length === 1 && !integration) setIntegration(l[0]!.id);
  }, [integrations.data]);
  useEffect(() => {
    const l = types.data;
    if (l?.length === 1) setResourceType(l[0]!.id);
  }, [types.data]);
  useEffect(() => {
    const l = permissionList.data;
    if (l?.length === 1) setPermissions(new Set([l[0]!.id]));
  }, [permissionList.data]);

  const resourceIds = useMemo(
    () => (resourceList.data ?? []).map((r) => r.id),
    [resourceList.data],
  );
  const permissionIds = useMemo(
    () => (permissionList.data ?? []).map((p) => p.id),
    [permissionList.data],
  );
  const chosenResources = inOrder(resources, resourceIds);
  const chosenPermissions = inOrder(permissions, permissionIds);

  const selectionComplete =
    mode === 'bundle'
      ? !!bundle
      : ready && chosenResources.length > 0 && chosenPermissions.length > 0;
  const cap = durationCap(plan);
  const durError = durationError(duration, cap);

  const planBody = useMemo((): CreateBody | null => {
    if (!selectionComplete) return null;
    const body: CreateBody =
      mode === 'bundle'
        ? { bundle, justification: justification.trim() }
        : {
            integration,
            resource_type: resourceType,
            resources: chosenResources,
            permissions: chosenPermissions,
            justification: justification.trim(),
          };
    if (duration.trim() && !durationError(duration)) body.duration = duration.trim();
    return body;
  }, [
    selectionComplete,
    mode,
    bundle,
    integration,
    resourceType,
    chosenResources.join('\n'),
    chosenPermissions.join('\n'),
    duration,
    justification.trim() === '',
  ]);

  // The plan follows the selection (debounced: a burst of ticks is one call).
  const planKey = planBody ? JSON.stringify({ ...planBody, justification: '' }) : '';
  const planSeq = useRef(0);
  useEffect(() => {
    setPlanError(null);
    if (!planBody) {
      setPlan(null);
      return;
    }
    const seq = ++planSeq.current;
    setPlanning(true);
    const t = setTimeout(() => {
      api.post<Plan>('/access-requests/plan', planBody).then(
        (p) => {
          if (seq !== planSeq.current) return;
          setPlan(p);
          setPlanning(false);
        },
        (e) => {
          if (seq !== planSeq.current) return;
          setPlan(null);
          setPlanError(e);
          setPlanning(false);
        },
      );
    }, 300);
    return () => clearTimeout(t);
  }, [planKey, justification.trim() === '']);

  // What the plan says, group by group. An integration selection is submitted as these; a
  // bundle is submitted as the bundle (one request), the groups only say who decides.
  const subs = useMemo(() => (plan ? submissions(plan) : []), [plan]);
  const requestCount = mode === 'bundle' ? (plan ? 1 : 0) : subs.length;

  const commands = useMemo(() => {
    const j = justification.trim();
    if (!selectionComplete) return [];
    if (mode === 'bundle') return [requestCommand({ bundle, justification: j, duration })];
    const base = { integration, resourceType, justification: j, duration };
    if (!plan)
      return [
        requestCommand({ ...base, resources: chosenResources, permissions: chosenPermissions }),
      ];
    return cliCommands(subs, base);
  }, [
    selectionComplete,
    mode,
    bundle,
    justification,
    duration,
    plan,
    subs,
    integration,
    resourceType,
  ]);

  const blocker = (() => {
    if (mode === 'bundle' && !bundle) return 'Choose a bundle.';
    if (mode === 'integration') {
      if (!integration) return 'Choose an integration.';
      if (!resourceType) return 'Choose a resource type.';
      if (chosenResources.length === 0) return 'Select at least one resource.';
      if (chosenPermissions.length === 0) return 'Select at least one permission.';
    }
    if (durError) return durError;
    if (!justification.trim()) return 'Write a justification: say why you need this access.';
    if (planning) return 'Checking the access flows…';
    if (!plan) return planError ? 'The selection cannot be requested as it is.' : 'Checking…';
    if (plan.groups.length === 0) return 'No access flow lets you request this selection.';
    return null;
  })();

  const submit = async () => {
    if (blocker || !plan) return;
    setSubmitting(true);
    setSubmitError(null);
    const j = justification.trim();
    const bodies: CreateBody[] =
      mode === 'bundle'
        ? [{ bundle, justification: j, ...(duration.trim() ? { duration: duration.trim() } : {}) }]
        : createBodies(subs, { integration, resourceType, duration, justification: j });
    try {
      // Every request is checked before the first is made, so a mistake leaves nothing behind.
      for (const b of bodies) await api.post('/access-requests', { ...b, dry_run: true });
    } catch (e) {
      setSubmitError(e);
      setSubmitting(false);
      return;
    }
    const made: AccessRequest[] = [];
    try {
      for (const b of bodies) made.push(await api.post<AccessRequest>('/access-requests', b));
    } catch (e) {
      setSubmitError(e);
    }
    setSubmitting(false);
    if (made.length === 1 && bodies.length === 1) {
      announce(`${made[0]!.id} is ${made[0]!.status}`);
      navigate(`/requests/${made[0]!.id}`);
      return;
    }
    setCreated(made);
    if (made.length) announce(`${made.length} requests made`);
  };

  const integrationName = (id: string) => integrations.data?.find((i) => i.id === id)?.name ?? id;

  return (
    <section aria-labelledby="new-request-title">
      <h1 id="new-request-title" tabIndex={-1}>
        New request
      </h1>

      {created.length > 0 && (
        <div class="notice" role="status" data-testid="created-requests">
          <p>Made {created.length} requests:</p>
          <ul>
            {created.map((r) => (
              <li key={r.id}>
                <Link href={`/requests/${r.id}`}>{r.id}</Link> <StatusBadge status={r.status} />{' '}
                {r.access_flow}
              </li>
            ))}
          </ul>
        </div>
      )}

      <form
        class="new-request"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
        noValidate
      >
        <div class="new-request__main">
          <fieldset class="mode-switch">
            <legend>What to request</legend>
            <label class="picker__item">
              <input
                type="radio"
                name="mode"
                checked={mode === 'integration'}
                onChange={() => setMode('integration')}
                data-testid="mode-integration"
              />
              Resources of an integration
            </label>
            <label class="picker__item">
              <input
                type="radio"
                name="mode"
                checked={mode === 'bundle'}
                onChange={() => setMode('bundle')}
                data-testid="mode-bundle"
              />
              A bundle
            </label>
          </fieldset>

          {mode === 'integration' ? (
            <>
              <ErrorMessage error={integrations.error} />
              <div class="new-request__pair">
                <div class="field">
                  <label class="field__label" for="integration">
                    Integration
                  </label>
                  <select
                    id="integration"
                    value={integration}
                    onChange={(e) => {
                      setIntegration(e.currentTarget.value);
                      setResourceType('');
                      setResources(new Set());
                      setPermissions(new Set());
                    }}
                    data-testid="integration"
                  >
                    <option value="">Choose…</option>
                    {(integrations.data ?? []).map((i) => (
                      <option key={i.id} value={i.id}>
                        {i.name === i.id ? i.id : `${i.name} (${i.id})`} — {i.type}
                      </option>
                    ))}
                  </select>
                </div>
                <div class="field">
                  <label class="field__label" for="resource-type">
                    Resource type
                  </label>
                  <select
                    id="resource-type"
                    value={resourceType}
                    disabled={!integration}
                    onChange={(e) => {
                      setResourceType(e.currentTarget.value);
                      setResources(new Set());
                      setPermissions(new Set());
                    }}
                    data-testid="resource-type"
                  >
                    <option value="">Choose…</option>
                    {(types.data ?? []).map((t) => (
                      <option key={t.id} value={t.id}>
                        {t.name}
                      </option>
                    ))}
                  </select>
                </div>
              </div>
              <ErrorMessage error={types.error ?? resourceList.error ?? permissionList.error} />
              {ready && resourceList.data && (
                <ResourcePicker
                  kind="resources"
                  legend={`Resources of ${integrationName(integration)}`}
                  items={resourceList.data}
                  selected={resources}
                  onChange={setResources}
                />
              )}
              {ready && permissionList.data && (
                <ResourcePicker
                  kind="permissions"
                  legend="Permissions"
                  items={permissionList.data}
                  selected={permissions}
                  onChange={setPermissions}
                />
              )}
            </>
          ) : (
            <>
              <ErrorMessage error={bundles.error} />
              {bundles.data && (
                <BundlePicker bundles={bundles.data} value={bundle} onChange={setBundle} />
              )}
            </>
          )}

          <DurationField
            value={duration}
            onChange={setDuration}
            maxSeconds={cap}
            manual={!!plan && !allAutomatic(plan)}
          />

          <div class="field">
            <label class="field__label" for="justification">
              Justification
            </label>
            <textarea
              id="justification"
              required
              value={justification}
              placeholder="Why you need this access, e.g. a ticket"
              onInput={(e) => setJustification(e.currentTarget.value)}
              data-testid="justification"
            />
          </div>
        </div>

        <div class="new-request__side">
          <Checkout
            plan={plan}
            planning={planning}
            planError={planError}
            submissions={subs}
            requestCount={requestCount}
            commands={commands}
            blocker={blocker}
            submitting={submitting}
          />
          <ErrorMessage error={submitError} testId="submit-error" />
        </div>
      </form>
    </section>
  );
}
