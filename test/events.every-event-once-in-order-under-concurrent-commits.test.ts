import { sql } from 'drizzle-orm';
import { afterEach, expect, it, vi } from 'vitest';
import { formatCursor, parseEvent, START } from '../src/core/events.js';
import { buildApp } from '../src/http/app.js';
import { queryRows } from '../src/storage/database.js';
import { AUTH_OFF, testDeps } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { openSse } from './support/sse.js';

/**
 * Many runs committing at once (on PostgreSQL, truly concurrently, so transactions commit out
 * of the order of their ids): a live subscriber of the hub, a stream that follows from the
 * start, and one that reconnects from a cursor while the runs still go on (its replay racing
 * the live events) each get every event exactly once, in the record's order — the order of
 * (tx_id, id) in the table.
 */
const CLIENTS = 8;
const RUNS_EACH = 6;

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describeEachDriver('live events under concurrent commits', (ctx) => {
  it('gives every subscriber and every stream each event once, in the order of the record', async () => {
    const deps = testDeps(ctx.database);
    const app = await buildApp(deps, { auth: AUTH_OFF });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => app.close());
    const stored = await app.inject({ method: 'POST', url: '/api/manifests', payload: { name: 'x', steps: [{ key: 'A', prompt: 'a' }, { key: 'B', depends_on: ['A'], prompt: 'b' }] } });
    const manifestId = stored.json().id as string;
    const expected = EVENTS_PER_RUN * CLIENTS * RUNS_EACH;

    const heard: string[] = [];
    const unsubscribe = await deps.events.subscribe((event) => heard.push(`${formatCursor(event.position)}:${parseEvent(event).id}`));
    cleanup.push(async () => unsubscribe());
    const fromStart = await openSse(`${base}/api/events`, { 'last-event-id': '0' });
    cleanup.push(async () => fromStart.close());

    const runs = Array.from({ length: CLIENTS }, async () => {
      for (let i = 0; i < RUNS_EACH; i++) {
        const run = await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: manifestId } });
        expect(run.json().status).toBe('success');
      }
    });
    // While the runs go on: a client that saw the first few events comes back from there.
    const early = await fromStart.take(6);
    const reconnected = await openSse(`${base}/api/events`, { 'last-event-id': early.at(-1)!.id! });
    cleanup.push(async () => reconnected.close());
    await Promise.all(runs);

    const record = await queryRows<{ tx_id: string; id: string }>(ctx.database.db, sql`SELECT e.tx_id::text AS tx_id, e.id::text AS id FROM run_events e ORDER BY e.tx_id, e.id`);
    const all = record.map((r) => `${r.tx_id}-${r.id}:${r.id}`);
    expect(all).toHaveLength(expected);
    const rest = await fromStart.take(expected - early.length);
    expect([...early, ...rest].map((m) => `${m.id}:${m.data.id}`)).toEqual(all);
    const fromCursor = await reconnected.take(expected - early.length);
    expect(fromCursor.map((m) => `${m.id}:${m.data.id}`)).toEqual(all.slice(early.length));
    while (heard.length < expected) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(heard).toEqual(all);
  }, 120_000);

  it('switches a stream from its replay to live events without a gap when the hub moved on meanwhile', async () => {
    // The stream's client stalls on the last replayed event; meanwhile an event commits and
    // the hub delivers it (the stream, still replaying, ignores it): the stream must read it
    // back before it goes live.
    const deps = testDeps(ctx.database);
    const app = await buildApp(deps, { auth: AUTH_OFF });
    cleanup.push(() => app.close());
    const stored = await app.inject({ method: 'POST', url: '/api/manifests', payload: { name: 'x', steps: [{ key: 'A', prompt: 'a' }] } });
    const run = (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: stored.json().id } })).json();
    const heard: string[] = [];
    cleanup.push(await deps.events.subscribe((event) => heard.push(parseEvent(event).id)).then((off) => async () => off()));

    const sent: string[] = [];
    let late: string | undefined;
    const stop = new AbortController();
    const streamed = deps.events.stream(
      {
        send(event) {
          sent.push(parseEvent(event).id);
          return sent.length !== 4;
        },
        async drained() {
          const [row] = await queryRows<{ id: string }>(
            ctx.database.db,
            sql`INSERT INTO run_events (run_id, kind, status) VALUES (${run.id}, 'run_resumed', 'running') RETURNING id::text AS id`,
          );
          late = row!.id;
          deps.events.committed();
          await vi.waitFor(() => expect(heard).toContain(late), { timeout: 10_000, interval: 10 });
        },
        signal: stop.signal,
        opened() {},
      },
      { after: START, filter: {}, follow: true, limit: 10_000 },
    );
    await vi.waitFor(() => expect(sent).toHaveLength(5), { timeout: 10_000, interval: 10 });
    stop.abort();
    await streamed;
    expect(sent.at(-1)).toBe(late);
  }, 60_000);
});

/** run_started, then per task step step_started and step_succeeded, then run_succeeded. */
const EVENTS_PER_RUN = 6;
