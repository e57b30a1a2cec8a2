import { useState } from 'preact/hooks';
import { ErrorBox } from '../components/ui.js';
import { signIn, type Session } from '../session.js';

/**
 * Sign in with a token (SPEC §10). The token is checked with `GET /api/me` and kept for this
 * tab only. A server with authentication off needs no token: the name given here is then who
 * attests.
 */
export function SignIn({ onSignedIn, notice }: { onSignedIn: (session: Session) => void; notice?: string | undefined }) {
  const [token, setToken] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await signIn(token.trim(), name));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <h1>stepgate console</h1>
      <p>Sign in with your API token. It is kept for this browser tab only and sent with each request.</p>
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      <form onSubmit={(e) => void submit(e)}>
        <div class="field">
          <label for="token">Token</label>
          <input id="token" type="password" autoComplete="off" spellcheck={false} value={token} onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)} />
          <p class="hint">
            Ask an admin for one (<code>stepgate token create --name you --role operator</code>). Leave it empty on a server with authentication off.
          </p>
        </div>
        <div class="field">
          <label for="operator-name">Your name (only used when authentication is off)</label>
          <input id="operator-name" type="text" autoComplete="name" value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        </div>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
