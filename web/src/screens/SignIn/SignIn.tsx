// Sign in with the user name and password the broker knows (the same as `apono login`'s page).
// The broker answers with an HttpOnly cookie this code never sees.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, messageOf } from '../../api/client';
import type { Session } from '../../api/types';
import { useTitle } from '../../app/hooks';
import { api } from '../../app/services';
import './SignIn.css';

interface Props {
  /// Why the sign-in screen is shown (an expired session, a sign-out); null on a first visit.
  message: string | null;
  onSignedIn: (s: Session) => void;
}

export function SignIn({ message, onSignedIn }: Props) {
  useTitle('Sign in');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const user = useRef<HTMLInputElement>(null);
  const pass = useRef<HTMLInputElement>(null);

  useEffect(() => user.current?.focus(), []);

  return (
    <main class="sign-in" id="main">
      <form
        class="sign-in__card card"
        aria-labelledby="sign-in-title"
        onSubmit={async (e) => {
          e.preventDefault();
          if (busy) return;
          setBusy(true);
          setError(null);
          try {
            const s = await api.json<Session>(
              'POST',
              '/browser-session',
              { username, password },
              { quiet401: true },
            );
            setPassword('');
            onSignedIn(s);
          } catch (err) {
            setBusy(false);
            setPassword('');
            setError(messageOf(err));
            // After a wrong password the password field is where the next try starts.
            if (err instanceof ApiError && err.status === 401) pass.current?.focus();
          }
        }}
      >
        <h1 id="sign-in-title">Sign in to apono</h1>
        {message && !error && (
          <p class="notice" role="status" data-testid="sign-in-message">
            {message}
          </p>
        )}
        {error && (
          <p class="error-message" role="alert" data-testid="sign-in-error">
            {error}
          </p>
        )}
        <div class="field">
          <label class="field__label" for="sign-in-username">
            User name
          </label>
          <input
            ref={user}
            id="sign-in-username"
            name="username"
            autocomplete="username"
            autocapitalize="none"
            spellcheck={false}
            required
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
            data-testid="sign-in-username"
          />
        </div>
        <div class="field">
          <label class="field__label" for="sign-in-password">
            Password
          </label>
          <input
            ref={pass}
            id="sign-in-password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            data-testid="sign-in-password"
          />
        </div>
        <button
          type="submit"
          class="button button--primary sign-in__submit"
          disabled={busy}
          aria-busy={busy}
          data-testid="sign-in-submit"
        >
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="field__hint">
          In a terminal, <code>apono login</code> signs the CLI in with the same account.
        </p>
      </form>
    </main>
  );
}
