import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiClient } from './api/client.js';
import { AppContext } from './hooks.js';
import { followEvents, type LiveState } from './live.js';
import { Inbox } from './pages/Inbox.js';
import { ManifestPage } from './pages/ManifestPage.js';
import { Manifests } from './pages/Manifests.js';
import { RunPage } from './pages/RunPage.js';
import { Runs } from './pages/Runs.js';
import { SignIn } from './pages/SignIn.js';
import { loadSession, saveSession, type Session } from './session.js';

const LIVE_TEXT: Record<LiveState, string> = {
  connecting: 'connecting to live updates…',
  live: 'live',
  reconnecting: 'live updates lost, reconnecting…',
  unavailable: 'no live updates on this server: pages refresh after your actions',
};

export function App() {
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [notice, setNotice] = useState<string | undefined>();
  const signOut = (why?: string) => {
    saveSession(undefined);
    setSession(undefined);
    setNotice(why);
  };
  if (!session) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(s) => {
          saveSession(s);
          setNotice(undefined);
          setSession(s);
        }}
      />
    );
  }
  return (
    <LocationProvider>
      <SignedIn session={session} onSignOut={signOut} />
    </LocationProvider>
  );
}

function SignedIn({ session, onSignOut }: { session: Session; onSignOut: (why?: string) => void }) {
  const client = useMemo(() => new ApiClient(session.token || undefined, () => onSignOut('Your token was refused (401): it may have expired or been revoked. Sign in again.')), [session]);
  const [liveTick, setLiveTick] = useState(0);
  const [liveState, setLiveState] = useState<LiveState>('connecting');
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A burst of transitions (a run advancing several steps) becomes one refresh.
    const stop = followEvents(
      client,
      session.features.events,
      () => {
        clearTimeout(timer);
        timer = setTimeout(() => setLiveTick((t) => t + 1), 150);
      },
      setLiveState,
    );
    return () => {
      clearTimeout(timer);
      stop();
    };
  }, [client, session.features.events]);
  const { path } = useLocation();
  const current = (prefix: string) => (path === prefix || path.startsWith(`${prefix}/`) ? 'page' : undefined);

  return (
    <AppContext.Provider value={{ session, client, liveTick, liveState }}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/inbox">
          stepgate
        </a>
        <nav aria-label="Main">
          <a href="/inbox" aria-current={current('/inbox') ?? (path === '/' ? 'page' : undefined)}>
            Inbox
          </a>
          <a href="/runs" aria-current={current('/runs')}>
            Runs
          </a>
          <a href="/manifests" aria-current={current('/manifests')}>
            Manifests
          </a>
        </nav>
        <div class="who">
          <span class={`live live-${liveState}`} role="status" title={LIVE_TEXT[liveState]}>
            {liveState === 'live' ? '● live' : liveState === 'unavailable' ? '○ not live' : '◌'}
            <span class="visually-hidden"> {LIVE_TEXT[liveState]}</span>
          </span>
          <span>{session.authOff ? `${session.name || 'anonymous'} · authentication is off` : `${session.name} · ${session.role}`}</span>
          <button type="button" class="secondary" onClick={() => onSignOut()}>
            Sign out
          </button>
        </div>
      </header>
      {session.authOff && (
        <p class="banner" role="note">
          This server has authentication off: every action is offered, and attestations record the name you give.
        </p>
      )}
      <Router>
        <Route path="/" component={Inbox} />
        <Route path="/inbox" component={Inbox} />
        <Route path="/runs" component={Runs} />
        <Route path="/runs/:id" component={RunPage} />
        <Route path="/manifests" component={Manifests} />
        <Route path="/manifests/:id" component={ManifestPage} />
        <Route default component={NotFound} />
      </Router>
    </AppContext.Provider>
  );
}

function NotFound() {
  return (
    <main id="main">
      <h1>Not found</h1>
      <p>
        There is no page here. Go to the <a href="/inbox">inbox</a>.
      </p>
    </main>
  );
}
