import { describe, expect, it } from 'vitest';
import type { AccessRequest, StatusEvent } from '../api/types';
import { actionTitle, fromAudit, fromRequest, mergeEvents } from './timeline';

const r: AccessRequest = {
  id: 'AR-00012',
  requester: 'alice',
  integration: 'pg-local',
  resource_type: 'database',
  bundle: null,
  resources: ['appdb'],
  permissions: ['read_only'],
  duration_seconds: 600,
  justification: 'INC-42',
  status: 'ACTIVE',
  end_reason: null,
  access_flow: 'prod',
  approval: 'manual',
  created_at: '2026-11-22T15:00:00.000Z',
  updated_at: '2026-11-22T15:05:00.000Z',
  active_from: '2026-11-22T15:05:00.000Z',
  ends_at: '2026-11-22T15:15:00.000Z',
  decided_by: 'bob',
  reason: null,
  units: [],
};

describe('timeline', () => {
  it('names actions for people and keeps unknown ones', () => {
    expect(actionTitle('request.approved')).toBe('Approved');
    expect(actionTitle('request.reminder')).toBe('Approvers reminded');
    expect(actionTitle('request.expiring_soon')).toBe('Told the grant ends soon');
    expect(actionTitle('request.frobbed')).toBe('request.frobbed');
  });

  it('turns audit entries into lines with their detail', () => {
    const t = fromAudit([
      {
        id: 7,
        at: '2026-11-22T15:01:00.000Z',
        actor: 'system',
        action: 'unit.grant_failed',
        request_id: 'AR-00012',
        status: 'GRANTING',
        detail: { unit: 'pg-local/appdb', error: 'connection refused', empty: '' },
      },
    ]);
    expect(t).toEqual([
      {
        key: 'a7',
        at: '2026-11-22T15:01:00.000Z',
        title: 'Unit grant failed',
        actor: 'system',
        status: 'GRANTING',
        detail: ['unit: pg-local/appdb', 'error: connection refused'],
      },
    ]);
  });

  it('tells the story from the request and the feed when there is no audit', () => {
    const events: StatusEvent[] = [
      {
        id: 3,
        at: '2026-11-22T15:04:00.000Z',
        request_id: 'AR-00012',
        status: 'GRANTING',
        action: 'request.approved',
        ends_at: null,
      },
      {
        id: 4,
        at: '2026-11-22T15:05:00.000Z',
        request_id: 'AR-00012',
        status: 'ACTIVE',
        action: 'request.active',
        ends_at: r.ends_at,
      },
    ];
    expect(fromRequest(r, events).map((e) => [e.title, e.actor, e.status])).toEqual([
      ['Requested', 'alice', null],
      ['Approved', 'bob', 'GRANTING'],
      ['Access granted', null, 'ACTIVE'],
    ]);
    expect(fromRequest(r, []).map((e) => [e.title, e.actor])).toEqual([
      ['Requested', 'alice'],
      ['Approved', 'bob'],
      ['Access granted', null],
    ]);
  });

  it('names who caused a status change when the broker says', () => {
    const revoked = {
      id: 9,
      at: '2026-11-22T16:00:00.000Z',
      request_id: 'AR-00012',
      status: 'REVOKING' as const,
      action: 'request.revoked',
      ends_at: r.ends_at,
      actor: 'carol',
    };
    expect(fromRequest(r, [revoked]).find((e) => e.title === 'Revoked')?.actor).toBe('carol');
  });

  it('shows the rejection reason', () => {
    const rejected = { ...r, status: 'REJECTED' as const, active_from: null, reason: 'no ticket' };
    expect(fromRequest(rejected, []).at(-1)).toMatchObject({
      title: 'Rejected',
      actor: 'bob',
      detail: ['reason: no ticket'],
    });
  });
});

describe('mergeEvents', () => {
  const ev = (id: number, action: string) => ({
    id,
    at: `2026-11-22T15:0${id}:00.000Z`,
    request_id: 'AR-00012',
    status: 'ACTIVE' as const,
    action,
    ends_at: null,
  });

  it('keeps each event once, by feed id, oldest first', () => {
    const fetched = [ev(1, 'request.created'), ev(3, 'request.active')];
    const live = [ev(3, 'request.active'), ev(5, 'request.revoked'), ev(2, 'request.approved')];
    expect(mergeEvents(fetched, live).map((e) => e.id)).toEqual([1, 2, 3, 5]);
    expect(mergeEvents([], [])).toEqual([]);
  });
});
