import { sql } from 'drizzle-orm';
import { afterEach, expect, it } from 'vitest';
import type { RunEvent } from '../src/core/events.js';
import { armFault } from '../src/engine/faults.js';
import { buildApp, type App } from '../src/http/app.js';
import { queryRows, type Database } from '../src/storage/database.js';
import { AUTH_OFF, testDeps } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { startGatedLlm, type GatedLlm } from './support/gated-llm.js';
import { openLines } from './support/ndjson.js';
import { DIGEST } from './support/runs.js';

/**
 * SPEC §12: `POST /api/runs`, `resume` and `retry` with `Accept: application/x-ndjson` stream
 * one event per line as the runner works — the first before the LLM has replied — in order,
 * the last line being the run; a client that goes away does not cut the run short; a refusal
 * before anything ran is a normal problem.
 */

const manifest = {
  name: 'streamed',
  steps: [
    { key: 'A', model: 'openai:m', prompt: 'A says hello' },
    { key: 'B', depends_on: ['A'], step_type: 'compute', compute_contract: { executor: 'lab', inputs: [], outputs: ['sample'], verification: 'operator_attest' } },
    { key: 'C', depends_on: ['B'], model: 'openai:m', prompt: 'C after {{steps.A.output}}' },
  ],
};
const NDJSON = { accept: 'application/x-ndjson', 'content-type': 'application/json' };

type Line = RunEvent | { kind?: undefined; id: string; status: string; step_runs: Array<{ step_key: string; status: string; id: string }> };

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function serve(database: Database, llm: GatedLlm, faults?: ReturnType<typeof armFault>) {
  const deps = testDeps(database, { openaiBaseUrl: llm.baseUrl, openaiTimeoutMs: 30_000, ...(faults ? { faults } : {}) });
  const app: App = await buildApp(deps, { auth: AUTH_OFF });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  cleanup.push(() => app.close());
  const stored = await app.inject({ method: 'POST', url: '/api/manifests', payload: manifest });
  expect([200, 201], stored.body).toContain(stored.statusCode);
  return { app, deps, base, manifestId: stored.json().id as string };
}

async function eventsOf(database: Database, runId: string): Promise<string[]> {
  const rows = await queryRows<{ id: string; kind: string; step_key: string | null }>(
    database.db,
    sql`SELECT id::text, kind, step_key FROM run_events e WHERE e.run_id = ${runId} ORDER BY e.id`,
  );
  return rows.map((r) => `${r.id}:${r.kind}${r.step_key ? `:${r.step_key}` : ''}`);
}

const label = (e: RunEvent) => `${e.id}:${e.kind}${e.step_key ? `:${e.step_key}` : ''}`;

describeEachDriver('streamed runs (NDJSON)', (ctx) => {
  it('streams each event as the runner works — the first before the LLM replied — in order, and ends with the run', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const llm = await startGatedLlm((prompt) => (prompt.startsWith('A ') ? { reply: 'a-out', after: released } : { reply: 'c-out' }));
    cleanup.push(() => llm.close());
    const { app, base, manifestId } = await serve(ctx.database, llm);

    const stream = await openLines(`${base}/api/runs`, { method: 'POST', headers: NDJSON, body: JSON.stringify({ manifest_id: manifestId }) });
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const first = (await stream.next()) as RunEvent;
    const second = (await stream.next()) as RunEvent;
    // Both arrived while A's LLM call was still held.
    const call = await llm.arrival((p) => p.startsWith('A '));
    expect(call.answered).toBe(false);
    expect([first.kind, second.kind]).toEqual(['run_started', 'step_started']);
    expect(second).toMatchObject({ step_key: 'A', attempt: 1, status: 'RUNNING', run_id: first.run_id });
    expect(first).toMatchObject({ step_key: null, step_run_id: null, attempt: null, status: 'running' });
    expect(first.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    release();
    const rest = (await stream.rest()) as Line[];
    const run = rest.pop() as Extract<Line, { step_runs: unknown }>;
    expect(run.kind).toBeUndefined();
    expect(run).toMatchObject({ id: first.run_id, status: 'waiting' });
    expect(run.step_runs.map((s) => `${s.step_key}:${s.status}`)).toEqual(['A:SUCCESS', 'B:WAITING_FOR_ATTESTATION']);
    const events = [first, second, ...(rest as RunEvent[])];
    expect(events.map((e) => e.kind)).toEqual(['run_started', 'step_started', 'step_succeeded', 'step_waiting', 'run_waiting']);
    // Exactly the run's events, in id order, none missing, none twice.
    expect(events.map(label)).toEqual(await eventsOf(ctx.database, run.id));
    // The plain answer's run, line for line.
    const shown = await app.inject({ method: 'GET', url: `/api/runs/${run.id}` });
    expect(run.step_runs).toEqual(shown.json().step_runs);

    // resume, streamed: only this request's events, then the run.
    const waiting = run.step_runs.find((s) => s.step_key === 'B')!;
    const attested = await app.inject({
      method: 'POST',
      url: `/api/runs/${run.id}/steps/${waiting.id}/attest`,
      payload: { outcome: 'SUCCESS', attested_by: 'ana', artifacts: [{ name: 'sample', uri: 'file:///lab/s', sha256: DIGEST, bytes: 1 }] },
    });
    expect(attested.statusCode, attested.body).toBe(201);
    const resumed = await openLines(`${base}/api/runs/${run.id}/resume`, { method: 'POST', headers: { accept: 'application/x-ndjson' } });
    expect(resumed.status).toBe(200);
    const lines = (await resumed.rest()) as Line[];
    const done = lines.pop() as Extract<Line, { step_runs: unknown }>;
    expect(done).toMatchObject({ id: run.id, status: 'success' });
    expect((lines as RunEvent[]).map((e) => `${e.kind}${e.step_key ? `:${e.step_key}` : ''}`)).toEqual(['run_resumed', 'step_started:C', 'step_succeeded:C', 'run_succeeded']);
    const all = await eventsOf(ctx.database, run.id);
    expect(all.slice(-4)).toEqual((lines as RunEvent[]).map(label));
    expect(all.map((e) => e.split(':').slice(1).join(':'))).toEqual([
      'run_started',
      'step_started:A',
      'step_succeeded:A',
      'step_waiting:B',
      'run_waiting',
      'step_attested:B',
      'run_resumed',
      'step_started:C',
      'step_succeeded:C',
      'run_succeeded',
    ]);
  }, 60_000);

  it('lets the run finish when the client goes away after the first event', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const llm = await startGatedLlm(() => ({ reply: 'a-out', after: released }));
    cleanup.push(() => llm.close());
    const { app, deps, base, manifestId } = await serve(ctx.database, llm);
    const runId = crypto.randomUUID();
    let parked!: () => void;
    const waitingSeen = new Promise<void>((resolve) => (parked = resolve));
    const unsubscribe = await deps.events.subscribe(() => parked(), { runId, kinds: ['run_waiting'] });
    cleanup.push(async () => unsubscribe());

    const stream = await openLines(`${base}/api/runs`, { method: 'POST', headers: NDJSON, body: JSON.stringify({ manifest_id: manifestId, id: runId }) });
    expect(stream.status).toBe(200);
    expect(stream.headers.location).toBe(`/api/runs/${runId}`);
    expect(await stream.next()).toMatchObject({ kind: 'run_started', run_id: runId });
    stream.abort();
    release();
    await waitingSeen;
    const shown = await app.inject({ method: 'GET', url: `/api/runs/${runId}` });
    expect(shown.json()).toMatchObject({ status: 'waiting' });
    expect(shown.json().step_runs.map((s: { step_key: string; status: string }) => `${s.step_key}:${s.status}`)).toEqual(['A:SUCCESS', 'B:WAITING_FOR_ATTESTATION']);
    expect(llm.requests).toHaveLength(1);
    expect(llm.requests[0]!.abandoned).toBe(false);
  }, 60_000);

  it('answers a refusal before anything ran as a normal problem, and without the header as before', async () => {
    const llm = await startGatedLlm(() => ({ reply: 'a-out' }));
    cleanup.push(() => llm.close());
    const { app, base, manifestId } = await serve(ctx.database, llm);
    const missing = await fetch(`${base}/api/runs/${crypto.randomUUID()}/resume`, { method: 'POST', headers: { accept: 'application/x-ndjson' } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await missing.json()).toMatchObject({ status: 404, code: 'RUN_NOT_FOUND' });
    const noManifest = await fetch(`${base}/api/runs`, { method: 'POST', headers: NDJSON, body: JSON.stringify({ manifest_id: crypto.randomUUID() }) });
    expect(noManifest.status).toBe(404);
    expect(await noManifest.json()).toMatchObject({ code: 'MANIFEST_NOT_FOUND' });

    const plain = await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: manifestId } });
    expect(plain.statusCode).toBe(201);
    expect(plain.headers['content-type']).toMatch(/^application\/json/);
    const runId = plain.json().id as string;
    const notWaiting = await fetch(`${base}/api/runs/${runId}/retry`, { method: 'POST', headers: { accept: 'application/x-ndjson' } });
    expect(notWaiting.status).toBe(409);
    expect(await notWaiting.json()).toMatchObject({ code: 'RUN_NOT_RETRYABLE' });
    const twice = await fetch(`${base}/api/runs`, { method: 'POST', headers: NDJSON, body: JSON.stringify({ manifest_id: manifestId, id: runId }) });
    expect(twice.status).toBe(409);
    expect(await twice.json()).toMatchObject({ code: 'RUN_EXISTS' });
    const dup = await queryRows<{ n: number }>(ctx.database.db, sql`SELECT count(*)::int AS n FROM run_events WHERE run_id = ${runId} AND kind = 'run_started'`);
    expect(dup[0]!.n).toBe(1);
  }, 60_000);

  it('ends with an error line when the run fails after streaming began, its committed events before it', async () => {
    const llm = await startGatedLlm(() => ({ reply: 'a-out' }));
    cleanup.push(() => llm.close());
    const { base } = await serve(ctx.database, llm, armFault('afterPromptBeforeLlm', { kind: 'failure' }));
    const { manifestId } = await serve(ctx.database, llm);
    const stream = await openLines(`${base}/api/runs`, { method: 'POST', headers: NDJSON, body: JSON.stringify({ manifest_id: manifestId }) });
    expect(stream.status).toBe(200);
    const lines = (await stream.rest()) as Array<{ kind: string; step_key?: string; problem?: { status: number; code: string; request_id: string } }>;
    expect(lines.map((l) => `${l.kind}${l.step_key ? `:${l.step_key}` : ''}`)).toEqual(['run_started', 'step_started:A', 'error']);
    expect(lines.at(-1)!.problem).toMatchObject({ status: 500, code: 'INTERNAL' });
    expect(llm.requests).toHaveLength(0);
  }, 60_000);
});
