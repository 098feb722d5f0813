// The frame around every signed-in screen: skip link, header with the navigation the user's
// roles allow, the main region, and the live region.
import type { ComponentChildren } from 'preact';
import { useSession } from '../../app/session';
import { Link } from '../Link/Link';
import { LiveRegion } from '../LiveRegion/LiveRegion';
import './Layout.css';

export type Section = 'requests' | 'new-request' | 'approvals' | 'audit' | 'integrations' | null;

export function Layout({ section, children }: { section: Section; children: ComponentChildren }) {
  const { session, signOut } = useSession();
  const item = (s: Section, href: string, text: string, testId: string) => (
    <li>
      <Link href={href} aria-current={section === s ? 'page' : undefined} data-testid={testId}>
        {text}
      </Link>
    </li>
  );
  return (
    <div class="layout">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="layout__header">
        <Link href="/requests" class="layout__brand">
          apono
        </Link>
        <nav aria-label="Main" class="layout__nav">
          <ul>
            {item('requests', '/requests', 'My requests', 'nav-my-requests')}
            {item('new-request', '/requests/new', 'New request', 'nav-new-request')}
            {session.approver && item('approvals', '/approvals', 'Approvals', 'nav-approvals')}
            {session.admin && item('audit', '/admin/audit', 'Audit log', 'nav-audit')}
            {session.admin &&
              item('integrations', '/admin/integrations', 'Integrations', 'nav-integrations')}
          </ul>
        </nav>
        <div class="layout__user">
          <span class="layout__name" data-testid="signed-in-user" title={session.email}>
            {session.user}
          </span>
          <button
            type="button"
            class="button button--small"
            onClick={() => void signOut()}
            data-testid="sign-out"
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" class="layout__main" tabIndex={-1}>
        {children}
      </main>
      <LiveRegion />
    </div>
  );
}
