// The portal's URLs and the screens they name. Every screen has its own address, so a link to
// `/requests/AR-00012` in a chat or a notification opens that request. The broker serves
// index.html for each of these paths (see web/README.md).
import type { Tab } from '../lib/status';

export type Route =
  | { name: 'requests'; tab: Tab }
  | { name: 'request'; id: string }
  | { name: 'new-request' }
  | { name: 'approvals'; tab: 'pending' | 'history' }
  | { name: 'audit' }
  | { name: 'integrations' }
  | { name: 'sign-in' }
  | { name: 'not-found'; path: string };

const ID = /^AR-\d+$/i;

/// The screen for a path (the query is not part of a route).
export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (seg.length === 0) return { name: 'requests', tab: 'open' };
  const [a, b] = seg;
  if (a === 'requests') {
    if (seg.length === 1) return { name: 'requests', tab: 'open' };
    if (seg.length === 2 && b === 'closed') return { name: 'requests', tab: 'closed' };
    if (seg.length === 2 && b === 'new') return { name: 'new-request' };
    if (seg.length === 2 && b && ID.test(b)) return { name: 'request', id: b.toUpperCase() };
  }
  if (a === 'approvals') {
    if (seg.length === 1) return { name: 'approvals', tab: 'pending' };
    if (seg.length === 2 && b === 'history') return { name: 'approvals', tab: 'history' };
  }
  if (a === 'admin' && seg.length === 2) {
    if (b === 'audit') return { name: 'audit' };
    if (b === 'integrations') return { name: 'integrations' };
  }
  if (a === 'sign-in' && seg.length === 1) return { name: 'sign-in' };
  return { name: 'not-found', path };
}

/// The path of a route.
export function routePath(r: Route): string {
  switch (r.name) {
    case 'requests':
      return r.tab === 'closed' ? '/requests/closed' : '/requests';
    case 'request':
      return `/requests/${encodeURIComponent(r.id)}`;
    case 'new-request':
      return '/requests/new';
    case 'approvals':
      return r.tab === 'history' ? '/approvals/history' : '/approvals';
    case 'audit':
      return '/admin/audit';
    case 'integrations':
      return '/admin/integrations';
    case 'sign-in':
      return '/sign-in';
    case 'not-found':
      return r.path;
  }
}

/// Every path the broker must answer with index.html (the last segment of a request page varies).
export const APP_PATHS = [
  '/',
  '/requests',
  '/requests/closed',
  '/requests/new',
  '/requests/AR-{id}',
  '/approvals',
  '/approvals/history',
  '/admin/audit',
  '/admin/integrations',
  '/sign-in',
];
