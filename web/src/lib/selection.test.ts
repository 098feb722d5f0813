import { describe, expect, it } from 'vitest';
import { allState, clearVisible, inOrder, matches, selectAll, toggle } from './selection';

describe('selection', () => {
  it('toggles one id', () => {
    expect([...toggle(new Set(['a']), 'b')]).toEqual(['a', 'b']);
    expect([...toggle(new Set(['a', 'b']), 'a')]).toEqual(['b']);
  });

  it('selects all of the filtered list up to the cap', () => {
    const visible = Array.from({ length: 1200 }, (_, i) => `r${i}`);
    const { selected, leftOut } = selectAll(new Set(['x']), visible, 1000);
    expect(selected.size).toBe(1000);
    expect(leftOut).toBe(201);
    expect(selected.has('x')).toBe(true);
    expect(selected.has('r998')).toBe(true);
    expect(selected.has('r999')).toBe(false);
  });

  it('clears only what is visible', () => {
    expect([...clearVisible(new Set(['a', 'b', 'c']), ['a', 'c'])]).toEqual(['b']);
  });

  it('tells the select-all state', () => {
    expect(allState(new Set(), ['a'])).toBe('none');
    expect(allState(new Set(['a']), ['a', 'b'])).toBe('some');
    expect(allState(new Set(['a', 'b', 'z']), ['a', 'b'])).toBe('all');
    expect(allState(new Set(['a']), [])).toBe('none');
  });

  it('matches every word and keeps catalog order', () => {
    expect(matches('prod-billing-db', 'BILL prod')).toBe(true);
    expect(matches('prod-billing-db', 'bill stage')).toBe(false);
    expect(matches('anything', '')).toBe(true);
    expect(inOrder(new Set(['c', 'a']), ['a', 'b', 'c'])).toEqual(['a', 'c']);
  });
});
