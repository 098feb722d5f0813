// Search and the three filters of a request list. The values live in the URL's query, so a
// filtered list can be bookmarked and the back button restores it.
import type { Status } from '../../../api/types';
import type { RequestFilter } from '../../../lib/requestFilter';

interface Props {
  filter: RequestFilter;
  options: { integrations: string[]; resourceTypes: string[]; statuses: Status[] };
  onChange: (f: RequestFilter) => void;
  idPrefix: string;
  /// False where every request has the same status (Approvals: all PENDING).
  byStatus?: boolean;
}

export function RequestFilters({ filter, options, onChange, idPrefix, byStatus = true }: Props) {
  const select = (
    key: 'integration' | 'resourceType' | 'status',
    label: string,
    values: string[],
    all: string,
  ) => (
    <div class="field">
      <label class="field__label" for={`${idPrefix}-${key}`}>
        {label}
      </label>
      <select
        id={`${idPrefix}-${key}`}
        value={(filter[key] as string | undefined) ?? ''}
        onChange={(e) => onChange({ ...filter, [key]: e.currentTarget.value })}
        data-testid={`filter-${key}`}
      >
        <option value="">{all}</option>
        {values.map((v) => (
          <option key={v} value={v}>
            {v}
          </option>
        ))}
      </select>
    </div>
  );
  return (
    <div class="toolbar" role="search">
      <div class="field field--wide">
        <label class="field__label" for={`${idPrefix}-search`}>
          Search
        </label>
        <input
          id={`${idPrefix}-search`}
          type="search"
          placeholder="id, resource, permission, justification…"
          value={filter.search ?? ''}
          onInput={(e) => onChange({ ...filter, search: e.currentTarget.value })}
          data-testid="filter-search"
        />
      </div>
      {select('integration', 'Integration', options.integrations, 'All integrations')}
      {select('resourceType', 'Resource type', options.resourceTypes, 'All types')}
      {byStatus && select('status', 'Status', options.statuses, 'All statuses')}
    </div>
  );
}

/// The filter in a URL query, and back.
export function filterFromQuery(search: string): RequestFilter {
  const q = new URLSearchParams(search);
  return {
    search: q.get('q') ?? '',
    integration: q.get('integration') ?? '',
    resourceType: q.get('type') ?? '',
    status: (q.get('status') ?? '') as Status | '',
  };
}

export function filterToQuery(f: RequestFilter): string {
  const q = new URLSearchParams();
  if (f.search) q.set('q', f.search);
  if (f.integration) q.set('integration', f.integration);
  if (f.resourceType) q.set('type', f.resourceType);
  if (f.status) q.set('status', f.status);
  const s = q.toString();
  return s ? `?${s}` : '';
}
