// Deciding several requests at once: one call per request, in order, every outcome kept, so a
// request someone else decided meanwhile fails alone with the broker's message.
import { messageOf } from '../../../api/client';
import type { AccessRequest } from '../../../api/types';

export interface Outcome {
  id: string;
  ok: boolean;
  /// The new status, or the broker's message.
  text: string;
  request?: AccessRequest;
}

export async function decideAll(
  ids: readonly string[],
  decide: (id: string) => Promise<AccessRequest>,
  onProgress?: (done: number) => void,
): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const id of ids) {
    try {
      const r = await decide(id);
      out.push({ id, ok: true, text: r.status, request: r });
    } catch (e) {
      out.push({ id, ok: false, text: messageOf(e) });
    }
    onProgress?.(out.length);
  }
  return out;
}

/// `Approved 3 of 4; 1 failed.`
export function summary(verb: string, outcomes: readonly Outcome[]): string {
  const ok = outcomes.filter((o) => o.ok).length;
  const failed = outcomes.length - ok;
  return `${verb} ${ok} of ${outcomes.length}${failed ? `; ${failed} failed` : ''}.`;
}
