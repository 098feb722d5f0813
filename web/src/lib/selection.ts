// Multi-select over a filtered list (resources in New request, requests in Approvals): the
// selection is a set of ids that survives filtering, and "select all" means all that the
// filter shows, up to a cap.

/// The most resources one request may name from the portal.
export const MAX_SELECTION = 1000;

export function toggle(selected: ReadonlySet<string>, id: string): Set<string> {
  const next = new Set(selected);
  if (next.has(id)) next.delete(id);
  else next.add(id);
  return next;
}

/// Adds every visible id, stopping at `cap` selected in all; says how many did not fit.
export function selectAll(
  selected: ReadonlySet<string>,
  visible: readonly string[],
  cap = MAX_SELECTION,
): { selected: Set<string>; leftOut: number } {
  const next = new Set(selected);
  let leftOut = 0;
  for (const id of visible) {
    if (next.has(id)) continue;
    if (next.size >= cap) leftOut++;
    else next.add(id);
  }
  return { selected: next, leftOut };
}

/// Removes every visible id, keeping selections hidden by the filter.
export function clearVisible(
  selected: ReadonlySet<string>,
  visible: readonly string[],
): Set<string> {
  const next = new Set(selected);
  for (const id of visible) next.delete(id);
  return next;
}

/// The state of a "select all" checkbox for what is visible.
export function allState(
  selected: ReadonlySet<string>,
  visible: readonly string[],
): 'none' | 'some' | 'all' {
  let n = 0;
  for (const id of visible) if (selected.has(id)) n++;
  if (n === 0) return 'none';
  return n === visible.length ? 'all' : 'some';
}

/// Case-insensitive substring match of every word of `query`.
export function matches(text: string, query: string): boolean {
  const t = text.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => t.includes(w));
}

/// The selected ids in the order of `order` (the catalog's), for stable requests and commands.
export function inOrder(selected: ReadonlySet<string>, order: readonly string[]): string[] {
  return order.filter((id) => selected.has(id));
}
