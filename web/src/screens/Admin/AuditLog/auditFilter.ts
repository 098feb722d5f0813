// Filters of the audit log over the entries loaded: actor, action (prefix), free text.
import type { AuditEvent } from '../../../api/types';

export interface AuditFilter {
  actor: string;
  action: string;
  text: string;
}

export function filterAudit(events: readonly AuditEvent[], f: AuditFilter): AuditEvent[] {
  const text = f.text.trim().toLowerCase();
  return events.filter((e) => {
    if (f.actor && e.actor !== f.actor) return false;
    if (f.action && !(e.action === f.action || e.action.startsWith(`${f.action}.`))) return false;
    if (!text) return true;
    return `${e.actor} ${e.action} ${e.request_id ?? ''} ${e.status ?? ''} ${JSON.stringify(e.detail)}`
      .toLowerCase()
      .includes(text);
  });
}

/// Actors and action families (`request`, `unit`, `auth`...) and actions among the entries.
export function auditOptions(events: readonly AuditEvent[]): {
  actors: string[];
  actions: string[];
} {
  const actors = new Set<string>();
  const actions = new Set<string>();
  for (const e of events) {
    actors.add(e.actor);
    actions.add(e.action.split('.')[0]!);
    actions.add(e.action);
  }
  return { actors: [...actors].sort(), actions: [...actions].sort() };
}

/// Merges pages by id, newest first.
export function mergeAudit(a: readonly AuditEvent[], b: readonly AuditEvent[]): AuditEvent[] {
  const m = new Map<number, AuditEvent>();
  for (const e of a) m.set(e.id, e);
  for (const e of b) m.set(e.id, e);
  return [...m.values()].sort((x, y) => y.id - x.id);
}
