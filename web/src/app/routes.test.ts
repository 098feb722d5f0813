import { describe, expect, it } from 'vitest';
import { parseRoute, routePath, type Route } from './routes';

describe('routes', () => {
  it('reads every screen from its path', () => {
    expect(parseRoute('/')).toEqual({ name: 'requests', tab: 'open' });
    expect(parseRoute('/requests/')).toEqual({ name: 'requests', tab: 'open' });
    expect(parseRoute('/requests/closed')).toEqual({ name: 'requests', tab: 'closed' });
    expect(parseRoute('/requests/new')).toEqual({ name: 'new-request' });
    expect(parseRoute('/requests/ar-00012')).toEqual({ name: 'request', id: 'AR-00012' });
    expect(parseRoute('/approvals')).toEqual({ name: 'approvals', tab: 'pending' });
    expect(parseRoute('/approvals/history')).toEqual({ name: 'approvals', tab: 'history' });
    expect(parseRoute('/admin/audit')).toEqual({ name: 'audit' });
    expect(parseRoute('/admin/integrations')).toEqual({ name: 'integrations' });
    expect(parseRoute('/sign-in')).toEqual({ name: 'sign-in' });
  });

  it('names what it does not know', () => {
    expect(parseRoute('/requests/12x')).toEqual({ name: 'not-found', path: '/requests/12x' });
    expect(parseRoute('/admin')).toEqual({ name: 'not-found', path: '/admin' });
  });

  it('round-trips', () => {
    const all: Route[] = [
      { name: 'requests', tab: 'open' },
      { name: 'requests', tab: 'closed' },
      { name: 'request', id: 'AR-00012' },
      { name: 'new-request' },
      { name: 'approvals', tab: 'pending' },
      { name: 'approvals', tab: 'history' },
      { name: 'audit' },
      { name: 'integrations' },
      { name: 'sign-in' },
    ];
    for (const r of all) expect(parseRoute(routePath(r))).toEqual(r);
  });
});
