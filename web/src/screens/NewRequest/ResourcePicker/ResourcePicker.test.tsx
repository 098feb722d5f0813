// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen } from '@testing-library/preact';
import { useState } from 'preact/hooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { CatalogItem } from '../../../api/types';
import { ResourcePicker } from './ResourcePicker';

const items: CatalogItem[] = Array.from({ length: 1200 }, (_, i) => ({
  id: `db-${i}`,
  name: `db-${i}`,
  integration: 'pg',
  resource_type: 'database',
}));

let last = new Set<string>();
function Harness() {
  const [sel, setSel] = useState<Set<string>>(new Set());
  last = sel;
  return (
    <ResourcePicker
      kind="resources"
      legend="Resources"
      items={items}
      selected={sel}
      onChange={setSel}
    />
  );
}

afterEach(cleanup);

describe('ResourcePicker', () => {
  it('selects all that the search shows', () => {
    render(<Harness />);
    fireEvent.input(screen.getByLabelText('Search resources'), { target: { value: 'db-11' } });
    // db-11, db-110..119, db-1100..1199
    fireEvent.click(screen.getByTestId('resources-select-all'));
    expect(last.size).toBe(111);
    expect(screen.getByTestId('resources-selected-count').textContent).toBe('111 selected');
  });

  it('stops at 1,000 and says so', () => {
    render(<Harness />);
    fireEvent.click(screen.getByTestId('resources-select-all'));
    expect(last.size).toBe(1000);
    expect(screen.getByText(/200 not selected/)).toBeTruthy();
    // Only the first matches are drawn.
    expect(screen.getAllByTestId('resources-option')).toHaveLength(200);
  });
});
