import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../api/types';
import { auditOptions, filterAudit, mergeAudit } from './auditFilter';

const e = (id: number, actor: string, action: string, detail = {}): AuditEvent => ({
  id,
  at: '2026-11-22T15:00:00.000Z',
  actor,
  action,
  request_id: id % 2 ? 'AR-00001' : null,
  status: null,
  detail,
});

const log = [
  e(1, 'alice', 'request.created'),
  e(2, 'bob', 'request.approved'),
  e(3, 'system', 'unit.granted', { unit: 'pg/appdb' }),
  e(4, 'mallory', 'auth.login_failed', { known_user: false }),
];

describe('audit filters', () => {
  it('filters by actor, action family or action, and text', () => {
    expect(filterAudit(log, { actor: 'bob', action: '', text: '' }).map((x) => x.id)).toEqual([2]);
    expect(filterAudit(log, { actor: '', action: 'request', text: '' }).map((x) => x.id)).toEqual([
      1, 2,
    ]);
    expect(
      filterAudit(log, { actor: '', action: 'request.created', text: '' }).map((x) => x.id),
    ).toEqual([1]);
    expect(filterAudit(log, { actor: '', action: '', text: 'APPDB' }).map((x) => x.id)).toEqual([
      3,
    ]);
  });

  it('offers actors, families and actions', () => {
    expect(auditOptions(log)).toEqual({
      actors: ['alice', 'bob', 'mallory', 'system'],
      actions: [
        'auth',
        'auth.login_failed',
        'request',
        'request.approved',
        'request.created',
        'unit',
        'unit.granted',
      ],
    });
  });

  it('merges pages newest first without duplicates', () => {
    expect(mergeAudit([log[0]!, log[1]!], [log[1]!, log[3]!]).map((x) => x.id)).toEqual([4, 2, 1]);
  });
});
