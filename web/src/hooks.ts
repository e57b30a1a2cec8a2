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

export interface Pages<T> {
  /** Every row of the pages loaded so far, in order. */
  items: T[] | undefined;
  error: Error | undefined;
  loading: boolean;
  /** Whether another page follows the last one loaded. */
  hasMore: boolean;
  /** Loads the next page (the list's next_cursor) and appends it. */
  more: () => Promise<void>;
  /** Loads the pages shown again. */
  reload: () => Promise<void>;
}

/**
 * A list that pages by cursor (runs, manifests): its first page now, again when `keys` change
 * or a live event arrives; `more()` appends the next one. A reload fetches as many pages as
 * were shown, each from the cursor of the one before, so "Load more" survives live updates.
 */
export function usePages<T>(path: string, keys: unknown[]): Pages<T> {
  const { client, liveTick } = useApp();
  const [state, setState] = useState<{ pages?: T[][]; next?: string | null; error?: Error; loading: boolean }>({ loading: true });
  const shown = useRef(1);
  const generation = useRef(0);
  const fetchPage = (cursor: string | null) =>
    client.get<{ items: T[]; next_cursor?: string | null }>(cursor === null ? path : `${path}${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}`);
  const load = useCallback(async () => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const pages: T[][] = [];
      let next: string | null = null;
      do {
        const page = await fetchPage(next);
        pages.push(page.items);
        next = page.next_cursor ?? null;
      } while (next !== null && pages.length < shown.current);
      if (mine === generation.current) setState({ pages, next, loading: false });
    } catch (err) {
      if (mine === generation.current) setState((s) => ({ ...s, error: err as Error, loading: false }));
    }
  }, [client, path, ...keys]);
  useEffect(() => {
    shown.current = 1;
  }, [path, ...keys]);
  useEffect(() => {
    void load();
  }, [load, liveTick]);
  const more = useCallback(async () => {
    if (!state.next) return;
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const page = await fetchPage(state.next);
      shown.current += 1;
      if (mine === generation.current) setState((s) => ({ pages: [...(s.pages ?? []), page.items], next: page.next_cursor ?? null, loading: false }));
    } catch (err) {
      if (mine === generation.current) setState((s) => ({ ...s, error: err as Error, loading: false }));
    }
  }, [state.next, client, path]);
  return { items: state.pages?.flat(), error: state.error, loading: state.loading, hasMore: Boolean(state.next), more, reload: load };
}
