// From the broker's plan of a selection to the requests the portal submits. A selection that
// spans several access flows becomes one request per flow group; a group whose units are not
// every (resource, permission) pair of its lists is split further, by resources that share
// the same permissions, so no request ever asks for a unit the plan did not allow.
import type { CreateBody, Plan, PlanGroup } from '../api/types';
import { type RequestSpec, requestCommand } from './cliCommand';

/// One request to create: a share of a group.
export interface Submission {
  flow: string;
  automatic: boolean;
  approvers: string[];
  maxDurationSeconds: number | null;
  resources: string[];
  permissions: string[];
}

/// Splits a group into rectangles of resources × permissions covering exactly its units.
export function requestsForGroup(g: PlanGroup): Submission[] {
  const permsOf = new Map<string, string[]>();
  for (const u of g.units) {
    const list = permsOf.get(u.resource) ?? [];
    if (!list.includes(u.permission)) list.push(u.permission);
    permsOf.set(u.resource, list);
  }
  const permOrder = (p: string) => {
    const i = g.permissions.indexOf(p);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  const byKey = new Map<string, { resources: string[]; permissions: string[] }>();
  // Resources in the group's order, then any the list missed.
  const resources = [...g.resources.filter((r) => permsOf.has(r))];
  for (const r of permsOf.keys()) if (!resources.includes(r)) resources.push(r);
  for (const r of resources) {
    const perms = [...permsOf.get(r)!].sort((a, b) => permOrder(a) - permOrder(b));
    const key = JSON.stringify(perms);
    const entry = byKey.get(key) ?? { resources: [], permissions: perms };
    entry.resources.push(r);
    byKey.set(key, entry);
  }
  return [...byKey.values()].map((e) => ({
    flow: g.flow,
    automatic: g.automatic,
    approvers: g.approvers,
    maxDurationSeconds: g.max_duration_seconds,
    resources: e.resources,
    permissions: e.permissions,
  }));
}

/// Every request the selection becomes, group by group.
export function submissions(plan: Plan): Submission[] {
  return plan.groups.flatMap(requestsForGroup);
}

/// The shortest maximum duration among the groups: the cap for one duration typed for all.
export function durationCap(plan: Plan | null): number | null {
  let cap: number | null = null;
  for (const g of plan?.groups ?? [])
    if (g.max_duration_seconds && (cap === null || g.max_duration_seconds < cap))
      cap = g.max_duration_seconds;
  return cap;
}

/// Whether every group grants without an approver.
export function allAutomatic(plan: Plan): boolean {
  return plan.groups.length > 0 && plan.groups.every((g) => g.automatic);
}

/// The create bodies for an integration selection.
export function createBodies(
  subs: readonly Submission[],
  base: { integration: string; resourceType?: string; duration?: string; justification: string },
): CreateBody[] {
  return subs.map((s) => {
    const body: CreateBody = {
      integration: base.integration,
      resources: s.resources,
      permissions: s.permissions,
      justification: base.justification,
    };
    if (base.resourceType) body.resource_type = base.resourceType;
    if (base.duration?.trim()) body.duration = base.duration.trim();
    return body;
  });
}

/// The `apono request` commands that make the same requests, one per submission.
export function cliCommands(
  subs: readonly Submission[],
  base: Omit<RequestSpec, 'resources' | 'permissions'>,
): string[] {
  return subs.map((s) =>
    requestCommand({ ...base, resources: s.resources, permissions: s.permissions }),
  );
}
