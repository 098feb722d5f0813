// An address the portal does not know.
import { useTitle } from '../../app/hooks';
import { Link } from '../../components/Link/Link';

export function NotFound({ path }: { path: string }) {
  useTitle('Not found');
  return (
    <section>
      <h1 tabIndex={-1}>Nothing here</h1>
      <p>
        The portal has no page at <code>{path}</code>. Requests have addresses such as{' '}
        <code>/requests/AR-00012</code>.
      </p>
      <p>
        <Link href="/requests">Go to My requests</Link>
      </p>
    </section>
  );
}
