import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { ApiClient } from './api/client.js';
import type { LiveState } from './live.js';
import type { Session } from './session.js';

export interface AppContextValue {
  readonly session: Session;
  readonly client: ApiClient;
  /** Grows by one whenever a live event arrives: pages reload what they show. */
  readonly liveTick: number;
  readonly liveState: LiveState;
}

export const AppContext = createContext<AppContextValue | undefined>(undefined);

export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error('useApp outside the signed-in app');
  return value;
}

export interface Resource<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => Promise<void>;
}

/** Loads `load()` now, again when `keys` change or a live event arrives; keeps the last data while reloading. */
export function useResource<T>(load: (client: ApiClient) => Promise<T>, keys: unknown[]): Resource<T> {
  const { client, liveTick } = useApp();
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const generation = useRef(0);
  const run = useCallback(async () => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await load(client);
      if (mine === generation.current) setState({ data, loading: false });
    } catch (err) {
      if (mine === generation.current) setState((s) => ({ data: s.data, error: err as Error, loading: false }));
    }
  }, [client, ...keys]);
  useEffect(() => {
    void run();
  }, [run, liveTick]);
  return { data: state.data, error: state.error, loading: state.loading, reload: run };
}
