import type { Role } from '../../core/access.js';

/** Who may call a route: anyone (`public`), or a token whose role includes this one. */
export type Access = 'public' | Role;

/**
 * THE table of who may call what (SPEC §10), one line per route as Fastify registers it
 * (`METHOD /path/:param`; HEAD follows GET). buildApp refuses to register a route missing here,
 * and test/access.every-endpoint-and-role.test.ts checks every line against every role.
 */
export const ACCESS: Readonly<Record<string, Access>> = {
  'GET /healthz': 'public',
  'GET /api/openapi.json': 'public',
  // The operator console's static files (index.html, hashed assets) and its client routes:
  // public, as any web page; every API call it makes carries the signed-in token.
  'GET /*': 'public',

  'GET /api/me': 'viewer',
  'GET /api/manifests': 'viewer',
  'GET /api/manifests/:id': 'viewer',
  'POST /api/manifests/validate': 'viewer',
  'GET /api/runs': 'viewer',
  'GET /api/runs/:run_id': 'viewer',
  'GET /api/runs/:run_id/steps/:step_run_id': 'viewer',
  'GET /api/attestations/pending': 'viewer',
  'GET /api/runs/:run_id/plan': 'viewer',
  'GET /metrics': 'viewer',
  'GET /api/runs/:run_id/steps/:step_run_id/provenance': 'viewer',
  'GET /api/runs/:run_id/provenance': 'viewer',
  'GET /api/events': 'viewer',
  'GET /api/providers': 'viewer',
  // Public keys: anyone verifying a statement needs them, and they are no secret.
  'GET /api/keys': 'public',

  'POST /api/runs/:run_id/steps/:step_run_id/attest': 'operator',
  'POST /api/runs/:run_id/resume': 'operator',
  'POST /api/runs/:run_id/cancel': 'operator',
  'POST /api/runs/:run_id/retry': 'operator',

  'POST /api/manifests': 'author',
  'POST /api/runs': 'author',

  'POST /api/tokens': 'admin',
  'GET /api/tokens': 'admin',
  'DELETE /api/tokens/:id': 'admin',
  'GET /api/audit': 'admin',
  // Retention (docs/retention.md): a bulk read of every record, and its removal.
  'GET /api/runs/export': 'admin',
  'POST /api/runs/prune': 'admin',
  'POST /api/keys/rotate': 'admin',
};

export const routeKey = (method: string, url: string) => `${method === 'HEAD' ? 'GET' : method} ${url}`;

export function accessOf(method: string, url: string): Access | undefined {
  return ACCESS[routeKey(method, url)];
}

/** POST, PUT, PATCH, DELETE: what the Origin check and the audit log cover. */
export function isStateChanging(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}
