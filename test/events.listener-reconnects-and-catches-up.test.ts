import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { parseEvent, type RunEvent } from '../src/core/events.js';
import { createEventHub } from '../src/engine/events.js';
import { buildApp } from '../src/http/app.js';
import { queryRows } from '../src/storage/database.js';
import { openPostgres } from '../src/storage/postgres/connect.js';
import { AUTH_OFF, testDeps } from './support/app.js';
import { postgresForProcesses } from './support/postgres-for-processes.js';
import { testPostgresUrl } from './support/test-postgres.js';

/**
 * Processes sharing a PostgreSQL server wake each other with a NOTIFY after they commit
 * events; the listener (one dedicated connection per process) survives losing its
 * connection: it connects again with backoff and then reads `run_events` from where it was,
 * so what was committed meanwhile — whose wake-ups were lost — still arrives. The connection
 * is killed by the server (pg_terminate_backend), as a restart or a network cut would. The
 * watching hub's own periodic look is set to an hour here, so only the wake-ups can deliver.
 */
const url = testPostgresUrl();

describe('[postgres] the LISTEN connection', () => {
  it('hears another process commit; comes back after the server drops it, and the events committed meanwhile still arrive, in order, once', async () => {
    const pg = await postgresForProcesses(url);
    // The writer: another "process" (its own pool and hub) sharing the database.
    const writerDatabase = await openPostgres({ url: pg.url, poolSize: 2 });
    const app = await buildApp(testDeps(writerDatabase), { auth: AUTH_OFF });
    const watcher = createEventHub(pg.database.db, { listen: pg.database.listen, shared: true, pollMs: 3_600_000 });
    try {
      const heard: RunEvent[] = [];
      let wake = () => {};
      const unsubscribe = await watcher.subscribe((event) => {
        heard.push(parseEvent(event));
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

      // Dropped: the run below commits while the listener is (most likely) reconnecting, and its wake-ups are lost.
      await queryRows(pg.database.db, sql`SELECT pg_terminate_backend(${before!})`);
      const second = await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: stored.json().id } });
      expect(second.json().status).toBe('success');
      await heardUntil(8);
      const stored8 = await queryRows<{ id: string }>(pg.database.db, sql`SELECT e.id::text AS id FROM run_events e ORDER BY e.tx_id, e.id`);
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
      await writerDatabase.close();
      await pg.close();
    }
  }, 60_000);
});
