// Who is signed in, for every screen below the shell.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Session } from '../api/types';

export interface SessionState {
  session: Session;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<SessionState | null>(null);

/// The signed-in user; only screens shown after sign-in call it.
export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in shell');
  return s;
}
