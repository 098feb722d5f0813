import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, messageOf } from './client';

function reply(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

describe('ApiClient', () => {
  it('sends GETs same-origin without the CSRF header or a body', async () => {
    const fetch = vi.fn(async () => reply(200, { user: 'alice' }));
    const api = new ApiClient({ fetch });
    expect(await api.get('/session')).toEqual({ user: 'alice' });
    const [url, init] = fetch.mock.calls[0]! as unknown as [string, RequestInit];
    expect(url).toBe('/api/v1/session');
    expect(init.credentials).toBe('same-origin');
    expect(init.method).toBe('GET');
    expect(init.body).toBeUndefined();
    expect((init.headers as Record<string, string>)['X-Apono-CSRF']).toBeUndefined();
  });

  it('marks every state change with X-Apono-CSRF and a JSON body', async () => {
    const fetch = vi.fn(async () => reply(200, { id: 'AR-00001' }));
    const api = new ApiClient({ fetch });
    await api.post('/access-requests/AR-00001/approve');
    await api.json('DELETE', '/browser-session');
    for (const call of fetch.mock.calls) {
      const init = (call as unknown as [string, RequestInit])[1];
      const h = init.headers as Record<string, string>;
      expect(h['X-Apono-CSRF']).toBe('1');
      expect(h['Content-Type']).toBe('application/json');
      expect(init.body).toBe('{}');
    }
  });

  it("throws the broker's message as it is", async () => {
    const api = new ApiClient({
      fetch: async () =>
        reply(409, { error: { code: 'conflict', message: 'AR-00001 is ACTIVE, not PENDING' } }),
    });
    const e = await api.post('/access-requests/AR-00001/approve').catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 409, code: 'conflict' });
    expect(messageOf(e)).toBe('AR-00001 is ACTIVE, not PENDING');
  });

  it('says what happened when the answer is not the broker’s', async () => {
    const api = new ApiClient({
      fetch: async () =>
        new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }),
    });
    await expect(api.get('/session')).rejects.toMatchObject({
      code: 'bad_response',
      message: 'the broker answered 502 Bad Gateway',
    });
    const down = new ApiClient({
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    await expect(down.get('/session')).rejects.toMatchObject({ status: 0, code: 'network' });
  });

  it('reports a lost session once per 401, except where asked not to', async () => {
    const onUnauthenticated = vi.fn();
    const api = new ApiClient({
      onUnauthenticated,
      fetch: async () =>
        reply(401, {
          error: { code: 'unauthenticated', message: 'session expired: sign in again' },
        }),
    });
    await expect(api.get('/access-requests')).rejects.toBeInstanceOf(ApiError);
    expect(onUnauthenticated).toHaveBeenCalledWith('session expired: sign in again');
    await expect(
      api.json('POST', '/browser-session', {}, { quiet401: true }),
    ).rejects.toBeInstanceOf(ApiError);
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
  });

  it('follows X-Next-Cursor and leaves out empty parameters', async () => {
    const fetch = vi.fn(async () => reply(200, [{ id: 'AR-00002' }], { 'X-Next-Cursor': 'v1.2' }));
    const api = new ApiClient({ fetch });
    const page = await api.page('/access-requests', {
      scope: 'mine',
      limit: 100,
      cursor: null,
      days: undefined,
    });
    expect(page).toEqual({ items: [{ id: 'AR-00002' }], nextCursor: 'v1.2' });
    expect((fetch.mock.calls[0] as unknown as [string])[0]).toBe(
      '/api/v1/access-requests?scope=mine&limit=100',
    );
  });
});
