// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AccessDetails as Details, AccessRequest } from '../../../api/types';

const get = vi.fn();
vi.mock('../../../app/services', () => ({ api: { get: (...a: unknown[]) => get(...a) } }));
const { AccessDetails } = await import('./AccessDetails');

const request = {
  id: 'AR-00012',
  status: 'ACTIVE',
  units: [],
} as unknown as AccessRequest;

const details: Details = {
  request_id: 'AR-00012',
  status: 'ACTIVE',
  ends_at: '2099-01-01T00:00:00.000Z',
  events_after: 3,
  units: [
    {
      integration: 'pg-local',
      type: 'postgresql',
      resource: 'appdb',
      permission: 'read_only',
      host: '127.0.0.1',
      port: 5432,
      database: 'appdb',
      username: 'apono_ar12_x',
      password: 'hunter2-secret',
      sslmode: 'prefer',
    },
  ],
};

// A block body: a function returned from beforeEach would be run as a cleanup.
beforeEach(() => {
  get.mockReset();
});
afterEach(cleanup);

describe('AccessDetails', () => {
  it('fetches nothing secret until revealed, and drops it from the page when hidden', async () => {
    get.mockResolvedValue(details);
    render(<AccessDetails r={request} fresh={null} onFreshShown={() => {}} />);
    expect(get).not.toHaveBeenCalled();
    expect(document.body.textContent).not.toContain('hunter2-secret');
    expect(screen.getByTestId('connect-commands').textContent).toContain(
      'apono access connect AR-00012',
    );

    fireEvent.click(screen.getByTestId('reveal-credentials'));
    await screen.findByTestId('access-details-revealed');
    expect(get).toHaveBeenCalledWith('/access-sessions/AR-00012/access-details');
    expect(screen.getByTestId('credential-password').textContent).toBe('hunter2-secret');

    fireEvent.click(screen.getByTestId('hide-credentials'));
    await waitFor(() => expect(screen.queryByTestId('access-details-revealed')).toBeNull());
    expect(document.body.innerHTML).not.toContain('hunter2-secret');
  });

  it('hides the details once the grant is no longer ACTIVE', async () => {
    get.mockResolvedValue(details);
    const { rerender } = render(<AccessDetails r={request} fresh={null} onFreshShown={() => {}} />);
    fireEvent.click(screen.getByTestId('reveal-credentials'));
    await screen.findByTestId('access-details-revealed');
    rerender(
      <AccessDetails r={{ ...request, status: 'REVOKING' }} fresh={null} onFreshShown={() => {}} />,
    );
    await waitFor(() => expect(document.body.innerHTML).not.toContain('hunter2-secret'));
  });

  it("shows the broker's refusal as it is", async () => {
    const { ApiError } = await import('../../../api/client');
    get.mockRejectedValue(new ApiError(409, 'conflict', 'AR-00012 is REVOKING, not ACTIVE'));
    render(<AccessDetails r={request} fresh={null} onFreshShown={() => {}} />);
    fireEvent.click(screen.getByTestId('reveal-credentials'));
    expect((await screen.findByTestId('access-details-error')).textContent).toBe(
      'AR-00012 is REVOKING, not ACTIVE',
    );
    expect(screen.queryByTestId('access-details-revealed')).toBeNull();
  });
});
