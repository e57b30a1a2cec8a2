import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseEvent, type RunEvent } from '../src/core/events.js';
import { createEventHub } from '../src/engine/events.js';
import { testApp } from './support/app.js';
import { testPostgresUrl } from './support/test-postgres.js';
import { withDatabase } from './support/global-setup.js';
import { adminQuery, TEST_DB_PREFIX } from './support/postgres-admin.js';
import { postgresForProcesses } from './support/postgres-for-processes.js';
import { openSse, type SseMessage } from './support/sse.js';

/**
 * The record's order (docs/events.md, "Order"): a transaction that took its event id first can
 * commit after one that took a later id. A reader that followed ids would have passed the
 * first event by then and never see it. Readers follow positions (transaction id, event id)
 * and deliver an event only once every transaction before it has ended: the late event comes
 * first, nothing is skipped — live, and in a replay from a cursor. Two connections commit out
 * of id order here. A transaction of another database on the same server holds nothing back;
 * one of stepgate's own database holds events back until it ends, and nothing needs to wake
 * the reader then.
 */
const url = testPostgresUrl();

describe('[postgres] the event cursor', () => {
  it('never skips an event whose transaction took its id first and committed last; a transaction in another database holds nothing back', async () => {
    const shared = await postgresForProcesses(url);
    const app = await testApp(shared.database);
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const clients: pg.Client[] = [];
    const connect = async (target: string) => {
      const client = new pg.Client({ connectionString: target });
      await client.connect();
      clients.push(client);
      return client;
    };
    const elsewhere = `${TEST_DB_PREFIX}${Date.now().toString(36)}elsewhere`;
    // Only what the record says wakes this hub: its periodic look is an hour away.
    const hub = createEventHub(shared.database.db, { listen: shared.database.listen, shared: true, pollMs: 3_600_000 });
    try {
      const stored = await app.inject({ method: 'POST', url: '/api/manifests', payload: { name: 'x', steps: [{ key: 'A', prompt: 'a' }] } });
      const run = (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: stored.json().id } })).json();
      const replay = async (lastEventId: string) => {
        const sse = await openSse(`${base}/api/events?follow=false`, { 'last-event-id': lastEventId });
        const messages: SseMessage[] = [];
        for (let m = await sse.next(); m; m = await sse.next()) messages.push(m);
        return messages;
      };
      const before = await replay('0');
      expect(before.map((m) => m.data.kind)).toEqual(['run_started', 'step_started', 'step_succeeded', 'run_succeeded']);
      const cursor = before.at(-1)!.id!;

      const heard: RunEvent[] = [];
      let heardOne = () => {};
      const unsubscribe = await hub.subscribe((event) => {
        heard.push(parseEvent(event));
        heardOne();
      });

      // A takes the first id and keeps its transaction open; B takes the next id and commits.
      const [a, b] = [await connect(shared.url), await connect(shared.url)];
      const append = (client: pg.Client, kind: string) =>
        client.query<{ id: string }>(`INSERT INTO run_events (run_id, kind, status) VALUES ($1, $2, 'running') RETURNING id::text AS id`, [run.id, kind]);
      await a.query('BEGIN');
      const first = (await append(a, 'run_resumed')).rows[0]!.id;
      const second = (await append(b, 'run_retried')).rows[0]!.id;
      expect(BigInt(second)).toBeGreaterThan(BigInt(first));

      // B's event is committed, but not delivered while A may still commit one before it:
      // neither replayed, nor sent live (the hub, woken, finds it held back and looks again later).
      hub.committed();
      expect(await replay(cursor)).toEqual([]);

      await a.query('COMMIT');
      const late = await replay(cursor);
      expect(late.map((m) => m.data.id)).toEqual([first, second]);
      while (heard.length < 2) await new Promise<void>((resolve) => (heardOne = resolve));
      expect(heard.map((e) => e.id)).toEqual([first, second]);

      // A transaction with an id in another database of the same server: events flow past it.
      await adminQuery(url!, `CREATE DATABASE ${elsewhere}`);
      const other = await connect(withDatabase(url!, elsewhere));
      await other.query('BEGIN');
      await other.query('SELECT pg_current_xact_id()');
      const third = (await append(b, 'run_retried')).rows[0]!.id;
      expect((await replay(late.at(-1)!.id!)).map((m) => m.data.id)).toEqual([third]);
      hub.committed();
      while (heard.length < 3) await new Promise<void>((resolve) => (heardOne = resolve));
      expect(heard.at(-1)!.id).toBe(third);
      await other.query('ROLLBACK');

      // One of stepgate's own database holds events back until it ends; the reader that saw
      // them held back looks again by itself (nothing wakes it: the rows went in by hand).
      await a.query('BEGIN');
      await a.query('SELECT pg_current_xact_id()');
      const fourth = (await append(b, 'run_retried')).rows[0]!.id;
      hub.committed();
      expect(await replay(`${third}`)).toEqual([]);
      await a.query('COMMIT');
      while (heard.length < 4) await new Promise<void>((resolve) => (heardOne = resolve));
      expect(heard.at(-1)!.id).toBe(fourth);
      expect((await replay(`${third}`)).map((m) => m.data.id)).toEqual([fourth]);
      unsubscribe();
    } finally {
      for (const client of clients) await client.end().catch(() => {});
      await adminQuery(url!, `DROP DATABASE IF EXISTS ${elsewhere} WITH (FORCE)`);
      await app.close();
      await shared.close();
    }
  }, 60_000);
});
