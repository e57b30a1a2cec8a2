import type { ApiClient } from './api/client.js';

/**
 * What this server offers, read from its OpenAPI document (`GET /api/openapi.json`) rather than
 * probed: a probe that 404s is an error in the browser's console. The console lights up tokens,
 * live events, cancel and retry as the server gains them.
 */
export interface Features {
  /** `GET /api/me`: tokens (SPEC §10). Without it the server runs with authentication off. */
  readonly me: boolean;
  /** `GET /api/events`: live updates (SPEC §12). */
  readonly events: boolean;
  readonly cancel: boolean;
  readonly retry: boolean;
}

export const NO_FEATURES: Features = { me: false, events: false, cancel: false, retry: false };

export async function readFeatures(client: ApiClient): Promise<Features> {
  const doc = await client.get<{ paths?: Record<string, Record<string, unknown>> }>('/api/openapi.json');
  const paths = doc.paths ?? {};
  const has = (method: string, path: string) => Boolean(paths[path]?.[method]);
  return {
    me: has('get', '/api/me'),
    events: has('get', '/api/events'),
    cancel: has('post', '/api/runs/{run_id}/cancel'),
    retry: has('post', '/api/runs/{run_id}/retry'),
  };
}
