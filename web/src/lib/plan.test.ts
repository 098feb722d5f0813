import { describe, expect, it } from 'vitest';
import type { Plan, PlanGroup } from '../api/types';
import {
  allAutomatic,
  cliCommands,
  createBodies,
  durationCap,
  requestsForGroup,
  submissions,
} from './plan';

function group(over: Partial<PlanGroup>): PlanGroup {
  return {
    flow: 'engineers',
    automatic: true,
    approvers: [],
    max_duration_seconds: 7200,
    resources: [],
    permissions: [],
    units: [],
    ...over,
  };
}

const full = group({
  resources: ['appdb', 'billing'],
  permissions: ['read_only', 'read_write'],
  units: [
    { resource: 'appdb', permission: 'read_only' },
    { resource: 'appdb', permission: 'read_write' },
    { resource: 'billing', permission: 'read_only' },
    { resource: 'billing', permission: 'read_write' },
  ],
});

describe('requestsForGroup', () => {
  it('keeps a full product as one request', () => {
    const subs = requestsForGroup(full);
    expect(subs).toHaveLength(1);
    expect(subs[0]).toMatchObject({
      resources: ['appdb', 'billing'],
      permissions: ['read_only', 'read_write'],
    });
  });

  it('splits a partial product so no extra unit is asked for', () => {
    const g = group({
      resources: ['appdb', 'billing', 'ledger'],
      permissions: ['read_only', 'read_write'],
      units: [
        { resource: 'appdb', permission: 'read_write' },
        { resource: 'appdb', permission: 'read_only' },
        { resource: 'billing', permission: 'read_only' },
        { resource: 'ledger', permission: 'read_only' },
        { resource: 'ledger', permission: 'read_write' },
      ],
    });
    const subs = requestsForGroup(g).map((s) => [s.resources, s.permissions]);
    expect(subs).toEqual([
      [
        ['appdb', 'ledger'],
        ['read_only', 'read_write'],
      ],
      [['billing'], ['read_only']],
    ]);
    const units = subs.flatMap(([rs, ps]) => rs!.flatMap((r) => ps!.map((p) => `${r}/${p}`)));
    expect(units.sort()).toEqual(g.units.map((u) => `${u.resource}/${u.permission}`).sort());
  });
});

describe('a plan over several flows', () => {
  const plan: Plan = {
    groups: [
      full,
      group({
        flow: 'prod-admins',
        automatic: false,
        approvers: ['bob', 'carol'],
        max_duration_seconds: 3600,
        resources: ['prod'],
        permissions: ['admin'],
        units: [{ resource: 'prod', permission: 'admin' }],
      }),
    ],
    refused: [],
  };

  it('becomes one request per group', () => {
    const subs = submissions(plan);
    expect(subs.map((s) => s.flow)).toEqual(['engineers', 'prod-admins']);
    expect(durationCap(plan)).toBe(3600);
    expect(durationCap(null)).toBeNull();
    expect(allAutomatic(plan)).toBe(false);
  });

  it('builds the bodies and the matching CLI commands', () => {
    const subs = submissions(plan);
    const base = {
      integration: 'pg-local',
      resourceType: 'database',
      duration: ' 45m ',
      justification: "INC-42 can't wait",
    };
    expect(createBodies(subs, base)[1]).toEqual({
      integration: 'pg-local',
      resource_type: 'database',
      resources: ['prod'],
      permissions: ['admin'],
      duration: '45m',
      justification: "INC-42 can't wait",
    });
    expect(cliCommands(subs, base)).toEqual([
      `apono request -i pg-local -t database -r appdb -r billing -p read_only -p read_write -j 'INC-42 can'\\''t wait' -d 45m`,
      `apono request -i pg-local -t database -r prod -p admin -j 'INC-42 can'\\''t wait' -d 45m`,
    ]);
  });
});
