import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunEvent } from '../src/core/events.js';
import { buildApp } from '../src/http/app.js';
import { queryRows, type Database } from '../src/storage/database.js';
import { AUTH_OFF, testDeps } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { postgresForProcesses } from './support/postgres-for-processes.js';
import { api } from './support/server-process.js';
import { openSse, type SseClient, type SseMessage } from './support/sse.js';
import { startTranspiledServer, transpileSources } from './support/transpiled-server.js';
import { testPostgresUrl } from './support/test-postgres.js';

/**
 * SPEC §12: `GET /api/events` carries every committed transition of every run, from every
 * server process sharing the database, with `Last-Event-ID` replay from the database, each
 * event once; filters by run and kind, and a 422 for a bad filter.
 */

const manifest = {
  name: 'watched',
  steps: [
    { key: 'A', prompt: 'A says hello' },
    { key: 'B', depends_on: ['A'], step_type: 'compute', compute_contract: { executor: 'lab', inputs: [], outputs: ['sample'], verification: 'operator_attest' } },
    { key: 'C', depends_on: ['B'], step_type: 'compute', compute_contract: { executor: 'lab', inputs: [], outputs: ['sample'], verification: 'operator_attest' } },
  ],
};
const artifacts = [{ name: 'sample', uri: 'file:///lab/s', sha256: 'a'.repeat(64), bytes: 1 }];
const label = (e: RunEvent) => `${e.kind}${e.step_key ? `:${e.step_key}` : ''}`;

/** The stored events after the one with id `after` (all with '0'), in the record's order. */
async function storedEvents(database: Database, after = '0'): Promise<RunEvent[]> {
  const rows = await queryRows<{ id: string; kind: RunEvent['kind']; run_id: string; step_key: string | null }>(
    database.db,
    sql`SELECT e.id::text AS id, e.kind, e.run_id, e.step_key FROM run_events e
        WHERE (e.tx_id, e.id) > coalesce((SELECT (a.tx_id, a.id) FROM run_events a WHERE a.id = ${after}::bigint), (0::bigint, 0::bigint))
        ORDER BY e.tx_id, e.id`,
  );
  return rows as unknown as RunEvent[];
}

const clients: SseClient[] = [];
const closing: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const close of closing.splice(0).reverse()) await close();
});

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any -- the JSON of any route

/** A run parked at B, its events, then attest B and resume (parks at C). */
async function runTo(call: Call) {
  const stored = await call('POST', '/api/manifests', manifest);
  expect([200, 201]).toContain(stored.status);
  const run = await call('POST', '/api/runs', { manifest_id: stored.body.id });
  expect(run.body.status).toBe('waiting');
  return { runId: run.body.id as string, waitingOn: run.body.waiting_on[0].step_run_id as string, manifestId: stored.body.id as string };
}

const url = testPostgresUrl();

describe('[postgres] live events across two server processes', () => {
  it('shows a client of server 2 the events of a run executed through server 1; a reconnect with Last-Event-ID replays exactly the missed ones', async () => {
    const sources = transpileSources();
    const pg = await postgresForProcesses(url);
    closing.push(async () => {
      await pg.close();
      sources.remove();
    });
    const env = { DATABASE_URL: pg.url, STEPGATE_DEFAULT_MODEL: 'offline:echo' };
    const [one, two] = await Promise.all([startTranspiledServer(sources, env), startTranspiledServer(sources, env)]);
    closing.push(async () => void (await Promise.all([one!.kill(), two!.kill()])));
    const viaOne: Call = (method, path, body) => api(one!.baseUrl, method, path, body);

    const watcher = await openSse(`${two!.baseUrl}/api/events`);
    clients.push(watcher);
    expect(watcher.status).toBe(200);
    expect(watcher.headers['content-type']).toMatch(/^text\/event-stream/);
    const { runId, waitingOn } = await runTo(viaOne);
    const created = await watcher.take(5);
    expect(created.map((m) => label(m.data))).toEqual(['run_started', 'step_started:A', 'step_succeeded:A', 'step_waiting:B', 'run_waiting']);
    for (const message of created) {
      // The SSE id is the event's cursor, <transaction id>-<event id>.
      expect(message.id).toMatch(/^\d+-\d+$/);
      expect(message.id!.split('-')[1]).toBe(message.data.id);
      expect(message.event).toBe(message.data.kind);
      expect(message.data.run_id).toBe(runId);
    }
    expect(created.map((m) => m.data.id)).toEqual((await storedEvents(pg.database)).map((e) => e.id));
    const seen = created.at(-1)!;

    // Gone while server 1 attests and resumes; back with Last-Event-ID.
    watcher.close();
    expect((await viaOne('POST', `/api/runs/${runId}/steps/${waitingOn}/attest`, { outcome: 'SUCCESS', attested_by: 'ana', artifacts })).status).toBe(201);
    expect((await viaOne('POST', `/api/runs/${runId}/resume`)).body.status).toBe('waiting');
    const missed = await storedEvents(pg.database, seen.data.id);
    expect(missed.map(label)).toEqual(['step_attested:B', 'run_resumed', 'step_waiting:C', 'run_waiting']);

    const back = await openSse(`${two!.baseUrl}/api/events`, { 'last-event-id': seen.id! });
    clients.push(back);
    const replayed = await back.take(4);
    expect(replayed.map((m) => m.data.id)).toEqual(missed.map((e) => e.id));
    // Then live, each once: the cancel through server 1.
    expect((await viaOne('POST', `/api/runs/${runId}/cancel`, {})).status).toBe(200);
    const live = await back.take(2);
    expect(live.map((m) => label(m.data))).toEqual(['step_cancelled:C', 'run_cancelled']);
    expect([...replayed, ...live].map((m) => m.data.id)).toEqual((await storedEvents(pg.database, seen.data.id)).map((e) => e.id));

    // A SIGTERM does not wait for the open stream: it ends it, and the process exits cleanly.
    expect(await two!.stop(), two!.output()).toBe(0);
    expect(await back.next()).toBeUndefined();
    expect(await one!.stop(), one!.output()).toBe(0);
  }, 240_000);
});

describeEachDriver('GET /api/events in one process', (ctx) => {
  async function serve() {
    const app = await buildApp(testDeps(ctx.database), { auth: AUTH_OFF });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    closing.push(() => app.close());
    const call: Call = async (method, path, body) => {
      const response = await app.inject({ method: method as 'GET', url: path, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: response.statusCode, body: response.body ? response.json() : null };
    };
    return { app, base, call };
  }
  const open = async (target: string, headers?: Record<string, string>) => {
    const client = await openSse(target, headers);
    clients.push(client);
    return client;
  };

  it('filters by run and by kind, and replays after Last-Event-ID (header or query) each event once', async () => {
    const { base, call } = await serve();
    const first = await runTo(call);
    const byKind = await open(`${base}/api/events?kind=run_waiting,run_cancelled`);
    const byRun = await open(`${base}/api/events?run=${first.runId}`);
    const second = await runTo(call);
    expect((await call('POST', `/api/runs/${first.runId}/cancel`, {})).status).toBe(200);
    expect((await byKind.take(2)).map((m) => `${m.data.kind}:${m.data.run_id}`)).toEqual([`run_waiting:${second.runId}`, `run_cancelled:${first.runId}`]);
    expect((await byRun.take(2)).map((m) => label(m.data))).toEqual(['step_cancelled:B', 'run_cancelled']);

    const all = await storedEvents(ctx.database);
    const replayAll = async (query: string, headers?: Record<string, string>) => {
      const client = await open(`${base}/api/events?${query}`, headers);
      const messages: SseMessage[] = [];
      for (let m = await client.next(); m; m = await client.next()) messages.push(m);
      return messages;
    };
    const everything = await replayAll('last_event_id=0&follow=false');
    expect(everything.map((m) => m.data.id)).toEqual(all.map((e) => e.id));
    // After an event: by its cursor (what the stream sends as the SSE id) or by its id (what
    // servers before cursors sent, and an event's `id`): the same events.
    const afterCursor = await replayAll('follow=false', { 'last-event-id': everything[2]!.id! });
    const afterId = await replayAll(`last_event_id=${all[2]!.id}&follow=false`);
    expect(afterCursor.map((m) => m.data.id)).toEqual(all.slice(3).map((e) => e.id));
    expect(afterId.map((m) => m.id)).toEqual(afterCursor.map((m) => m.id));
    // Several kinds across runs: merged in the record's order.
    const kindsAcross = await replayAll('kind=run_cancelled,step_waiting,run_waiting&last_event_id=0&follow=false');
    expect(kindsAcross.map((m) => m.data.id)).toEqual(all.filter((e) => ['run_cancelled', 'step_waiting', 'run_waiting'].includes(e.kind)).map((e) => e.id));
    // At most `limit` events per request, then where to continue.
    const firstPage = await replayAll('last_event_id=0&follow=false&limit=4');
    expect(firstPage.map((m) => m.event)).toEqual(['run_started', 'step_started', 'step_succeeded', 'step_waiting', 'more']);
    expect(firstPage[4]!.id).toBe(firstPage[3]!.id);
    expect(firstPage[4]!.data).toEqual({ last_event_id: firstPage[3]!.id });
    const rest = await replayAll(`last_event_id=${firstPage[4]!.id}&follow=false&limit=${all.length - 4}`);
    expect([...firstPage.slice(0, 4), ...rest].map((m) => m.data.id)).toEqual(all.map((e) => e.id));
    expect(rest.at(-1)!.event).not.toBe('more');
    // An event id that is not in the record.
    const unknown = await open(`${base}/api/events?last_event_id=999999999&follow=false`);
    expect(unknown.status).toBe(422);
    const ofFirst = await open(`${base}/api/events?run=${first.runId}&kind=step_started,run_cancelled&follow=false`, { 'last-event-id': '0' });
    const kinds: string[] = [];
    for (let m = await ofFirst.next(); m; m = await ofFirst.next()) kinds.push(label(m.data));
    expect(kinds).toEqual(['step_started:A', 'run_cancelled']);
  }, 60_000);

  it('answers a bad filter with a 422 problem', async () => {
    const { base } = await serve();
    for (const [query, headers] of [
      ['?kind=run_exploded', {}],
      ['?kind=run_waiting,', {}],
      ['?run=not-a-uuid', {}],
      ['?last_event_id=-1', {}],
      ['?last_event_id=1-', {}],
      ['?follow=false&limit=0', {}],
      ['?follow=false&limit=10001', {}],
      ['?follow=maybe', {}],
      ['', { 'last-event-id': 'abc' }],
      ['', { 'last-event-id': '12-x' }],
    ] as const) {
      const client = await open(`${base}/api/events${query}`, headers);
      expect(client.status, `${query} ${JSON.stringify(headers)}`).toBe(422);
      expect(client.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(client.problem).toMatchObject({ status: 422 });
    }
    const unknown = await open(`${base}/api/events?x=1`);
    expect(unknown.status).toBeGreaterThanOrEqual(400);
    expect(unknown.status).toBeLessThan(500);
  }, 60_000);
});
