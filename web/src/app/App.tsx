// The portal's shell: finds out who is signed in, shows the sign-in screen until someone is,
// starts the live feed, and picks the screen for the address.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, messageOf } from '../api/client';
import type { Session } from '../api/types';
import { Layout, type Section } from '../components/Layout/Layout';
import { Admin } from '../screens/Admin/Admin';
import { Approvals } from '../screens/Approvals/Approvals';
import { MyRequests } from '../screens/MyRequests/MyRequests';
import { NewRequest } from '../screens/NewRequest/NewRequest';
import { NotFound } from '../screens/NotFound/NotFound';
import { RequestPage } from '../screens/RequestPage/RequestPage';
import { SignIn } from '../screens/SignIn/SignIn';
import { navigate, useLocation } from './navigation';
import { parseRoute, type Route } from './routes';
import { api, feed, onSessionLost } from './services';
import { SessionContext, type SessionState } from './session';

type State =
  | { kind: 'loading' }
  | { kind: 'signed-out'; message: string | null }
  | { kind: 'signed-in'; session: Session };

function sectionOf(r: Route): Section {
  switch (r.name) {
    case 'requests':
    case 'request':
      return 'requests';
    case 'new-request':
      return 'new-request';
    case 'approvals':
      return 'approvals';
    case 'audit':
      return 'audit';
    case 'integrations':
      return 'integrations';
    default:
      return null;
  }
}

function Screen({ route }: { route: Route }) {
  switch (route.name) {
    case 'requests':
      return <MyRequests tab={route.tab} />;
    case 'request':
      return <RequestPage id={route.id} />;
    case 'new-request':
      return <NewRequest />;
    case 'approvals':
      return <Approvals tab={route.tab} />;
    case 'audit':
      return <Admin view="audit" />;
    case 'integrations':
      return <Admin view="integrations" />;
    case 'sign-in':
      return null;
    case 'not-found':
      return <NotFound path={route.path} />;
  }
}

export function App() {
  const [state, setState] = useState<State>({ kind: 'loading' });
  const { path } = useLocation();
  const route = parseRoute(path);
  const firstPath = useRef(path);

  const signedIn = (session: Session) => {
    setState({ kind: 'signed-in', session });
    // A broker that tells its feed position saves the catch-up from 0.
    const at = session.events_after;
    void feed.start(typeof at === 'number' ? at : undefined);
    if (parseRoute(location.pathname).name === 'sign-in') navigate('/requests', { replace: true });
  };

  useEffect(() => {
    onSessionLost((message) => {
      feed.stop();
      setState({ kind: 'signed-out', message });
    });
    api.json<Session>('GET', '/session', undefined, { quiet401: true }).then(signedIn, (e) => {
      // A first visit has no session to lose: only an expiry is worth saying.
      const m = e instanceof ApiError && e.status === 401 ? e.message : messageOf(e);
      setState({
        kind: 'signed-out',
        message: /expired/i.test(m) || !(e instanceof ApiError && e.status === 401) ? m : null,
      });
    });
    return () => feed.stop();
  }, []);

  // Moves focus to the new screen's heading after in-app navigation and after signing in (the
  // form that had focus is gone), once it is drawn (a request's page shows its heading when the
  // request has loaded). A page load leaves focus where the browser puts it.
  const [signIns, setSignIns] = useState(0);
  useEffect(() => {
    if (path === firstPath.current && signIns === 0) return;
    firstPath.current = '';
    let tries = 0;
    let t: ReturnType<typeof setTimeout>;
    const focus = () => {
      const h = document.querySelector<HTMLElement>('main h1');
      if (h) h.focus();
      else if (++tries < 60) t = setTimeout(focus, 50);
    };
    t = setTimeout(focus, 0);
    return () => clearTimeout(t);
  }, [path, signIns]);

  if (state.kind === 'loading')
    return (
      <p class="empty" role="status">
        Loading…
      </p>
    );
  if (state.kind === 'signed-out')
    return (
      <SignIn
        message={state.message}
        onSignedIn={(s) => {
          signedIn(s);
          setSignIns((n) => n + 1);
        }}
      />
    );

  const ctx: SessionState = {
    session: state.session,
    signOut: async () => {
      try {
        await api.json('DELETE', '/browser-session');
      } catch {
        // signed out at the broker or not, this tab forgets the session
      }
      feed.stop();
      setState({ kind: 'signed-out', message: 'You are signed out.' });
    },
  };
  return (
    <SessionContext.Provider value={ctx}>
      <Layout section={sectionOf(route)}>
        <Screen route={route} />
      </Layout>
    </SessionContext.Provider>
  );
}
