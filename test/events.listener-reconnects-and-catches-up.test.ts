import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../src/core/events.js';
import { buildApp } from '../src/http/app.js';
import { queryRows } from '../src/storage/database.js';
import { AUTH_OFF, testDeps } from './support/app.js';
import { postgresForProcesses } from './support/postgres-for-processes.js';
import { testPostgresUrl } from './support/test-postgres.js';

/**
 * The PostgreSQL listener (one dedicated connection per process) survives losing its
 * connection: it connects again with backoff and reads back from `run_events` what was
 * committed meanwhile, so the hub's subscribers miss nothing. The connection is killed by
 * the server (pg_terminate_backend), as a restart or a network cut would.
 */
const url = testPostgresUrl();

describe('[postgres] the LISTEN connection', () => {
  it('comes back after the server drops it, and the events committed meanwhile still arrive, in order, once', async () => {
    const pg = await postgresForProcesses(url);
    const deps = testDeps(pg.database);
    const app = await buildApp(deps, { auth: AUTH_OFF });
    try {
      const heard: RunEvent[] = [];
      let wake = () => {};
      const unsubscribe = await deps.events.subscribe((event) => {
        heard.push(event);
        wake();
      });
      const heardUntil = async (count: number) => {
        while (heard.length < count) await new Promise<void>((resolve) => (wake = resolve));
      };
      const listeners = async () =>
        (await queryRows<{ pid: number }>(pg.database.db, sql`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'`)).map((r) => r.pid);
      const [before] = await listeners();
      expect(before).toBeDefined();

      const stored = await app.inject({ method: 'POST', url: '/api/manifests', payload: { name: 'x', steps: [{ key: 'A', prompt: 'a' }] } });
      const first = await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: stored.json().id } });
      expect(first.json().status).toBe('success');
      await heardUntil(4);

      // Dropped: the run below commits while the listener is (most likely) reconnecting.
      await queryRows(pg.database.db, sql`SELECT pg_terminate_backend(${before!})`);
      const second = await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: stored.json().id } });
      expect(second.json().status).toBe('success');
      await heardUntil(8);
      const stored8 = await queryRows<{ id: string }>(pg.database.db, sql`SELECT e.id::text AS id FROM run_events e ORDER BY e.id`);
      expect(heard.map((e) => e.id)).toEqual(stored8.map((r) => r.id));
      expect(heard.slice(4).map((e) => `${e.kind}:${e.run_id}`)).toEqual(
        ['run_started', 'step_started', 'step_succeeded', 'run_succeeded'].map((kind) => `${kind}:${second.json().id}`),
      );
      const after = await listeners();
      expect(after).toHaveLength(1);
      expect(after[0]).not.toBe(before);
      unsubscribe();
    } finally {
      await app.close();
      await pg.close();
    }
  }, 60_000);
});
