// Admin: the audit log and a read-only view of the catalog. The broker answers 403 to
// non-admins; the navigation shows these pages to admins only.
import { useTitle } from '../../app/hooks';
import { useSession } from '../../app/session';
import { AuditLog } from './AuditLog/AuditLog';
import { Integrations } from './Integrations/Integrations';
import './Admin.css';

export function Admin({ view }: { view: 'audit' | 'integrations' }) {
  const title = view === 'audit' ? 'Audit log' : 'Integrations';
  useTitle(title);
  const { session } = useSession();
  return (
    <section aria-labelledby="admin-title">
      <h1 id="admin-title" tabIndex={-1}>
        {title}
      </h1>
      {!session.admin ? (
        <p class="notice">This page is for admins.</p>
      ) : view === 'audit' ? (
        <AuditLog />
      ) : (
        <Integrations />
      )}
    </section>
  );
}
