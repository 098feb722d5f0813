import { describe, expect, it } from 'vitest';
import { STATUSES } from '../api/types';
import {
  CLOSED_STATUSES,
  OPEN_STATUSES,
  countByTab,
  requesterActions,
  statusHint,
  statusTone,
  tabOf,
} from './status';

describe('status grouping', () => {
  it('puts every status in exactly one tab', () => {
    for (const s of STATUSES)
      expect(Number(OPEN_STATUSES.includes(s)) + Number(CLOSED_STATUSES.includes(s)), s).toBe(1);
  });

  it('keeps requests that are still moving open', () => {
    expect(tabOf('PENDING')).toBe('open');
    expect(tabOf('GRANTING')).toBe('open');
    expect(tabOf('ACTIVE')).toBe('open');
    expect(tabOf('REVOKING')).toBe('open');
    expect(tabOf('EXPIRED')).toBe('closed');
    expect(tabOf('REVOKED')).toBe('closed');
    expect(tabOf('REJECTED')).toBe('closed');
    expect(tabOf('FAILED')).toBe('closed');
  });

  it('counts per tab', () => {
    expect(countByTab([{ status: 'ACTIVE' }, { status: 'PENDING' }, { status: 'FAILED' }])).toEqual(
      { open: 2, closed: 1 },
    );
  });

  it('has a hint and a tone for every status', () => {
    for (const s of STATUSES) {
      expect(statusHint(s)).toMatch(/\.$/);
      expect(statusTone(s)).toBeTruthy();
    }
    expect(statusHint('PENDING')).toBe('Waiting for an approver.');
  });
});

describe('requesterActions', () => {
  it('offers access details and a reset only while ACTIVE', () => {
    for (const s of STATUSES) {
      const a = requesterActions({ status: s });
      expect(a.accessDetails, s).toBe(s === 'ACTIVE');
      expect(a.resetCredentials, s).toBe(s === 'ACTIVE');
    }
  });

  it('offers revoke where the broker takes it', () => {
    expect(STATUSES.filter((s) => requesterActions({ status: s }).revoke)).toEqual([
      'PENDING',
      'GRANTING',
      'ACTIVE',
    ]);
  });

  it('offers request again once the request is decided', () => {
    expect(requesterActions({ status: 'PENDING' }).requestAgain).toBe(false);
    expect(requesterActions({ status: 'EXPIRED' }).requestAgain).toBe(true);
    expect(requesterActions({ status: 'ACTIVE' }).requestAgain).toBe(true);
  });
});
