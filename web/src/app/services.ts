// The portal's long-lived services: one API client, one event feed and one clock, shared by
// every screen. The session's end is reported through onSessionLost.
import { ApiClient, ApiError } from '../api/client';
import { EventFeed } from '../api/events';
import type { EventPage } from '../api/types';

let lost: (message: string) => void = () => {};

/// Sets what happens when any call answers 401 (the app shows the sign-in screen).
export function onSessionLost(fn: (message: string) => void): void {
  lost = fn;
}

export const api = new ApiClient({ onUnauthenticated: (m) => lost(m) });

export const feed = new EventFeed(
  (after, timeout, signal) =>
    api.get<EventPage>(`/events${ApiClient.query({ after, timeout })}`, signal),
  { isFatal: (e) => e instanceof ApiError && (e.status === 401 || e.status === 403) },
);
