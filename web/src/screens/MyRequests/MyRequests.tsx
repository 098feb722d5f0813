// My Requests: the caller's requests, Open (PENDING, GRANTING, ACTIVE, REVOKING) and Closed
// (EXPIRED, REVOKED, REJECTED, FAILED), filtered and searched over what is loaded, loaded a
// page of 100 at a time, every status and time left live.
import { useMemo } from 'preact/hooks';
import { useTitle } from '../../app/hooks';
import { navigate, useLocation } from '../../app/navigation';
import { useSession } from '../../app/session';
import { useRequestList } from '../../app/useRequestList';
import { ErrorMessage } from '../../components/ErrorMessage/ErrorMessage';
import { Link } from '../../components/Link/Link';
import { filterOptions, filterRequests } from '../../lib/requestFilter';
import { countByTab, type Tab } from '../../lib/status';
import { RequestFilters, filterFromQuery, filterToQuery } from './RequestFilters/RequestFilters';
import { RequestTable } from './RequestTable/RequestTable';

export function MyRequests({ tab }: { tab: Tab }) {
  useTitle(tab === 'open' ? 'My requests' : 'My closed requests');
  const { session } = useSession();
  const { search } = useLocation();
  const filter = filterFromQuery(search);
  const list = useRequestList('mine', (r) => r.requester === session.user);

  const counts = useMemo(() => countByTab(list.items), [list.items]);
  const inTab = useMemo(() => filterRequests(list.items, { tab }), [list.items, tab]);
  const options = useMemo(() => filterOptions(inTab), [inTab]);
  const shown = useMemo(() => filterRequests(inTab, filter), [inTab, search]);
  const base = tab === 'closed' ? '/requests/closed' : '/requests';
  const tabLink = (t: Tab, text: string) => (
    <Link
      href={(t === 'closed' ? '/requests/closed' : '/requests') + filterToQuery(filter)}
      aria-current={t === tab ? 'page' : undefined}
      data-testid={`tab-${t}`}
    >
      {text}
      <span class="count">
        {counts[t]}
        {list.more ? '+' : ''}
      </span>
    </Link>
  );

  return (
    <section aria-labelledby="my-requests-title">
      <div class="button-row page-head">
        <h1 id="my-requests-title" tabIndex={-1}>
          My requests
        </h1>
        <Link href="/requests/new" class="button button--primary" data-testid="new-request">
          New request
        </Link>
      </div>
      <nav class="tabs" aria-label="Open or closed">
        {tabLink('open', 'Open')}
        {tabLink('closed', 'Closed')}
      </nav>
      <RequestFilters
        idPrefix="my-requests"
        filter={filter}
        options={options}
        onChange={(f) => navigate(base + filterToQuery(f), { replace: true })}
      />
      <ErrorMessage error={list.error} />
      <p class="muted list-summary" aria-live="polite" data-testid="list-summary">
        {list.loading && list.items.length === 0
          ? 'Loading your requests…'
          : `Showing ${shown.length} of ${inTab.length} ${tab} request${inTab.length === 1 ? '' : 's'} loaded${list.more ? '; older ones are not loaded yet' : ''}.`}
      </p>
      {shown.length > 0 ? (
        <RequestTable requests={shown} caption={`My ${tab} requests`} resetKey={tab + search} />
      ) : (
        !list.loading && (
          <p class="empty" data-testid="empty-list">
            {inTab.length === 0
              ? tab === 'open'
                ? 'No open requests. Ask for access with New request.'
                : 'No closed requests yet.'
              : 'No request matches these filters.'}
          </p>
        )
      )}
      {list.more && (
        <div class="button-row load-more">
          <button
            type="button"
            class="button"
            disabled={list.loading}
            onClick={() => void list.loadMore()}
            data-testid="load-more"
          >
            {list.loading ? 'Loading…' : 'Load 100 more'}
          </button>
          <button
            type="button"
            class="button"
            disabled={list.loading}
            onClick={() => void list.loadAll(1000)}
            data-testid="load-all"
          >
            Load up to 1,000
          </button>
        </div>
      )}
    </section>
  );
}
