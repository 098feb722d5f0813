// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import { useProgressiveCount } from './RequestTable';

function Counter({ total, k }: { total: number; k: string }) {
  return <p data-testid="n">{useProgressiveCount(total, k)}</p>;
}

afterEach(cleanup);

describe('useProgressiveCount', () => {
  it('draws a first batch, then grows to the whole list', async () => {
    const { rerender } = render(<Counter total={1000} k="closed" />);
    expect(screen.getByTestId('n').textContent).toBe('60');
    await waitFor(() => expect(screen.getByTestId('n').textContent).toBe('1000'), {
      timeout: 3000,
    });
    // Another list (another tab) starts again from the first batch, and so does coming back.
    rerender(<Counter total={3} k="open" />);
    expect(screen.getByTestId('n').textContent).toBe('3');
    await new Promise((r) => setTimeout(r, 50));
    rerender(<Counter total={1000} k="closed" />);
    expect(screen.getByTestId('n').textContent).toBe('60');
  });

  it('keeps what is drawn when the same list changes (a live status)', async () => {
    const { rerender } = render(<Counter total={200} k="closed" />);
    await waitFor(() => expect(screen.getByTestId('n').textContent).toBe('200'));
    rerender(<Counter total={200} k="closed" />);
    expect(screen.getByTestId('n').textContent).toBe('200');
  });
});
