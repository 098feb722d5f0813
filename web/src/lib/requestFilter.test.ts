import { describe, expect, it } from 'vitest';
import type { AccessRequest } from '../api/types';
import {
  filterOptions,
  filterRequests,
  integrationLabel,
  mergeRequests,
  requestNumber,
} from './requestFilter';

function req(over: Partial<AccessRequest>): AccessRequest {
  return {
    id: 'AR-00001',
    requester: 'alice',
    integration: 'pg-local',
    resource_type: 'database',
    bundle: null,
    resources: ['appdb'],
    permissions: ['read_only'],
    duration_seconds: 3600,
    justification: 'INC-42',
    status: 'ACTIVE',
    end_reason: null,
    access_flow: 'engineers',
    approval: 'automatic',
    created_at: '2026-11-22T15:00:00.000Z',
    updated_at: '2026-11-22T15:00:00.000Z',
    active_from: null,
    ends_at: null,
    decided_by: null,
    reason: null,
    units: [],
    ...over,
  };
}

const list = [
  req({ id: 'AR-00005', status: 'PENDING', justification: 'deploy hotfix' }),
  req({ id: 'AR-00004', status: 'EXPIRED', resources: ['billing'] }),
  req({
    id: 'AR-00003',
    integration: null,
    resource_type: null,
    bundle: 'all-db',
    status: 'ACTIVE',
  }),
  req({ id: 'AR-00002', integration: 'ssh-local', resource_type: 'host', status: 'REJECTED' }),
];

describe('filterRequests', () => {
  it('splits open and closed', () => {
    expect(filterRequests(list, { tab: 'open' }).map((r) => r.id)).toEqual([
      'AR-00005',
      'AR-00003',
    ]);
    expect(filterRequests(list, { tab: 'closed' }).map((r) => r.id)).toEqual([
      'AR-00004',
      'AR-00002',
    ]);
  });

  it('filters by integration (a bundle by its name), type and status', () => {
    expect(filterRequests(list, { integration: 'ssh-local' }).map((r) => r.id)).toEqual([
      'AR-00002',
    ]);
    expect(filterRequests(list, { integration: 'bundle all-db' }).map((r) => r.id)).toEqual([
      'AR-00003',
    ]);
    expect(filterRequests(list, { resourceType: 'database' })).toHaveLength(2);
    expect(filterRequests(list, { status: 'EXPIRED' }).map((r) => r.id)).toEqual(['AR-00004']);
  });

  it('searches all words, case-insensitively, across the fields', () => {
    expect(filterRequests(list, { search: 'HOTFIX' }).map((r) => r.id)).toEqual(['AR-00005']);
    expect(filterRequests(list, { search: 'ar-00004' }).map((r) => r.id)).toEqual(['AR-00004']);
    expect(filterRequests(list, { search: 'billing expired' }).map((r) => r.id)).toEqual([
      'AR-00004',
    ]);
    expect(filterRequests(list, { search: 'billing pending' })).toEqual([]);
    expect(filterRequests(list, { search: '   ' })).toHaveLength(4);
  });

  it('filters 1,000 requests fast', () => {
    const many = Array.from({ length: 1000 }, (_, i) =>
      req({ id: `AR-${String(i).padStart(5, '0')}`, justification: `ticket ${i}` }),
    );
    const t = performance.now();
    for (let i = 0; i < 20; i++) filterRequests(many, { tab: 'open', search: 'ticket 99' });
    expect((performance.now() - t) / 20).toBeLessThan(16);
  });
});

describe('filterOptions and labels', () => {
  it('offers what is loaded, statuses in lifecycle order', () => {
    expect(filterOptions(list)).toEqual({
      integrations: ['bundle all-db', 'pg-local', 'ssh-local'],
      resourceTypes: ['database', 'host'],
      statuses: ['PENDING', 'ACTIVE', 'EXPIRED', 'REJECTED'],
    });
    expect(integrationLabel({ integration: null, bundle: 'b' })).toBe('bundle b');
  });
});

describe('mergeRequests', () => {
  it('replaces copies and keeps newest first', () => {
    const merged = mergeRequests(list, [
      req({ id: 'AR-00004', status: 'REVOKED' }),
      req({ id: 'AR-00010' }),
    ]);
    expect(merged.map((r) => r.id)).toEqual([
      'AR-00010',
      'AR-00005',
      'AR-00004',
      'AR-00003',
      'AR-00002',
    ]);
    expect(merged[2]!.status).toBe('REVOKED');
    expect(requestNumber('ar-12')).toBe(12);
    expect(requestNumber('x')).toBeNaN();
  });
});
