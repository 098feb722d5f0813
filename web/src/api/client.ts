// The one way the portal talks to aponod: same-origin fetches under /api/v1 with the browser
// session cookie, the CSRF header on every state change, and the broker's error message
// carried to the screen as it is written. No token is ever seen or stored by this code.
import type { Status } from './types';

/// An error answer of the broker (`{"error":{"code","message"}}`), or a transport failure.
export class ApiError extends Error {
  constructor(
    /// HTTP status; 0 when the broker could not be reached.
    readonly status: number,
    /// The broker's code (`invalid_argument`, `conflict`...), or `network`/`bad_response`.
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/// One page of a list and the cursor to the next one (null at the end).
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface ClientOptions {
  fetch?: Fetch;
  /// Called for every 401 (except signing in): the session is gone, with the broker's message.
  onUnauthenticated?: (message: string) => void;
}

function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

async function errorFrom(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: a proxy's page, an empty body
  }
  const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (e && typeof e.message === 'string')
    return new ApiError(res.status, typeof e.code === 'string' ? e.code : 'error', e.message);
  return new ApiError(
    res.status,
    'bad_response',
    `the broker answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`,
  );
}

export class ApiClient {
  private readonly fetchImpl: Fetch;
  private readonly onUnauthenticated: ((message: string) => void) | undefined;

  constructor(opts: ClientOptions = {}) {
    this.fetchImpl = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.onUnauthenticated = opts.onUnauthenticated;
  }

  /// Sends one call; resolves to the response for 2xx, throws ApiError otherwise.
  async raw(
    method: string,
    path: string,
    body?: unknown,
    opts: { signal?: AbortSignal; quiet401?: boolean } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const init: RequestInit = { method, credentials: 'same-origin', headers, cache: 'no-store' };
    if (method !== 'GET' && method !== 'HEAD') {
      headers['X-Apono-CSRF'] = '1';
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body ?? {});
    }
    if (opts.signal) init.signal = opts.signal;
    let res: Response;
    try {
      res = await this.fetchImpl(`/api/v1${path}`, init);
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', 'the broker cannot be reached: check your connection');
    }
    if (res.ok) return res;
    const err = await errorFrom(res);
    if (err.status === 401 && !opts.quiet401) this.onUnauthenticated?.(err.message);
    throw err;
  }

  async json<T>(
    method: string,
    path: string,
    body?: unknown,
    opts: { signal?: AbortSignal; quiet401?: boolean } = {},
  ): Promise<T> {
    const res = await this.raw(method, path, body, opts);
    if (res.status === 204) return undefined as T;
    try {
      return (await res.json()) as T;
    } catch {
      throw new ApiError(res.status, 'bad_response', 'the broker sent an answer that is not JSON');
    }
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.json<T>('GET', path, undefined, signal ? { signal } : {});
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.json<T>('POST', path, body);
  }

  /// One page of a list that follows `X-Next-Cursor`.
  async page<T>(
    path: string,
    params: Record<string, string | number | undefined | null>,
    signal?: AbortSignal,
  ): Promise<Page<T>> {
    const res = await this.raw('GET', path + query(params), undefined, signal ? { signal } : {});
    const items = (await res.json()) as T[];
    return { items, nextCursor: res.headers.get('X-Next-Cursor') };
  }

  static query = query;
}

/// The request id as it goes into a path.
export function idPath(id: string): string {
  return encodeURIComponent(id);
}

/// Whether an error says the request is no longer in a state for the action (409).
export function isConflict(e: unknown): boolean {
  return e instanceof ApiError && e.status === 409;
}

/// The message to show for anything thrown by a call.
export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export type { Status };
