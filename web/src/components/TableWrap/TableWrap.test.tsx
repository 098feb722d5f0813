// @vitest-environment happy-dom
import { cleanup, render, screen } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import { TableWrap } from './TableWrap';

afterEach(() => {
  cleanup();
  delete (HTMLElement.prototype as { scrollWidth?: number }).scrollWidth;
  delete (HTMLElement.prototype as { clientWidth?: number }).clientWidth;
});

function widths(scroll: number, client: number) {
  Object.defineProperty(HTMLElement.prototype, 'scrollWidth', {
    configurable: true,
    get: () => scroll,
  });
  Object.defineProperty(HTMLElement.prototype, 'clientWidth', {
    configurable: true,
    get: () => client,
  });
}

describe('TableWrap', () => {
  it('is no Tab stop while its table fits', () => {
    widths(300, 300);
    render(
      <TableWrap label="Access units of AR-00012">
        <table />
      </TableWrap>,
    );
    expect(screen.queryByRole('region')).toBeNull();
  });

  it('is a named, focusable region while its table is wider than the box', () => {
    widths(520, 300);
    render(
      <TableWrap label="Access units of AR-00012">
        <table />
      </TableWrap>,
    );
    const region = screen.getByRole('region');
    expect(region.getAttribute('aria-label')).toBe('Access units of AR-00012 (scrolls sideways)');
    expect(region.tabIndex).toBe(0);
  });
});
