import { sql } from 'drizzle-orm';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect, it } from 'vitest';
import { pauseAt } from '../src/engine/faults.js';
import { buildApp, type App } from '../src/http/app.js';
import { queryRows, type Database } from '../src/storage/database.js';
import { AUTH_OFF, testDeps } from './support/app.js';
import { startChatCompletionsServer } from './support/chat-completions-server.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';
import { attest, DIGEST, resume, stepOf, storeManifest, type RunJson } from './support/runs.js';

/**
 * SPEC §9 "interleavings", made deterministic with named fault points that hold the engine
 * at an exact place while the test does something else — no sleeps.
 */

const contract = (outputs: string[]) => ({ executor: 'lab', inputs: [], outputs, verification: 'operator_attest' });
const artifact = (name: string) => ({ name, uri: `file:///${name}`, sha256: DIGEST, bytes: 1 });

// B (compute) waits on its own branch while T1 → T2 run; D needs B.
const branches = {
  name: 'branches',
  steps: [
    { key: 'B', step_type: 'compute', compute_contract: contract(['x']) },
    { key: 'T1', prompt: 'one' },
    { key: 'T2', depends_on: ['T1'], prompt: 'two after {{steps.T1.output}}' },
    { key: 'D', depends_on: ['B'], prompt: 'uses {{steps.B.artifacts.x.uri}}' },
  ],
};

/** Invariants that hold after every interleaving (SPEC §9). */
async function expectInvariants(database: Database, runId: string) {
  const rows = await queryRows<{ status: string; lease_owner: string | null; running: number; waits: number }>(
    database.db,
    sql`SELECT r.status, r.lease_owner,
               (SELECT count(*) FROM dag_step_runs s WHERE s.run_id = r.id AND s.status = 'RUNNING')::int AS running,
               (SELECT count(*) FROM dag_step_runs s WHERE s.run_id = r.id AND s.status = 'WAITING_FOR_ATTESTATION')::int AS waits
        FROM dag_runs r WHERE r.id = ${runId}`,
  );
  const run = rows[0]!;
  // The runner returned: nothing is RUNNING, nobody holds the run.
  expect(run.running).toBe(0);
  expect(run.lease_owner).toBeNull();
  // Never "waiting" for nothing: a waiting run either has a wait or says it is ready to resume.
  if (run.status === 'waiting') expect(run.waits).toBeGreaterThan(0);
  // Only waiting runs have waits.
  if (run.status !== 'waiting') expect(run.waits).toBe(0);
}

/** Sends a request now (inject() without a callback waits to be awaited) and answers its response. */
function send(app: App, options: InjectOptions): Promise<LightMyRequestResponse> {
  return new Promise((resolve, reject) => {
    void app.inject(options, (err, response) => (err ? reject(err) : resolve(response!)));
  });
}

/** Starts a run of `manifest` in the background, held at `point`; answers when it is there. */
async function startHeldAt(app: App, manifestId: string, pause: ReturnType<typeof pauseAt>) {
  const response = send(app, { method: 'POST', url: '/api/runs', payload: { manifest_id: manifestId } });
  const first = await Promise.race([pause.reached.then(() => undefined), response]);
  if (first) throw new Error(`the run was not held at the fault point; it answered ${first.statusCode} ${first.body}`);
  // Wrapped: an async function returning the promise itself would wait for it.
  return { response };
}

async function waitingStepRunId(database: Database, key: string): Promise<string> {
  const [row] = await queryRows<{ id: string }>(database.db, sql`SELECT id FROM dag_step_runs WHERE step_key = ${key} AND status = 'WAITING_FOR_ATTESTATION'`);
  return row!.id;
}

describeEachDriver('interleavings of attest, resume, cancel and retry with a live runner', (ctx) => {
  it('an attestation (SUCCESS) made while the runner executes another branch is seen before it parks: the run goes on', async () => {
    const pause = pauseAt('afterPromptBeforeLlm');
    const app = await buildApp(testDeps(ctx.database, { faults: pause }), { auth: AUTH_OFF });
    const manifestId = await storeManifest(app, branches);
    const { response: started } = await startHeldAt(app, manifestId, pause); // B parked, T1 in flight
    const b = await waitingStepRunId(ctx.database, 'B');
    const runId = (await queryRows<{ run_id: string }>(ctx.database.db, sql`SELECT run_id FROM dag_step_runs WHERE id = ${b}`))[0]!.run_id;
    const attested = await attest(app, runId, b, { outcome: 'SUCCESS', attested_by: 'ana', artifacts: [artifact('x')] });
    expect(attested.statusCode, attested.body).toBe(201);
    expect(attested.json()).toMatchObject({ status: 'running', ready_to_resume: false });
    pause.release();
    const run = (await started).json() as RunJson;
    // Without the re-check it would answer `waiting` with nothing to wait on (a lost wake-up).
    expect(run.status).toBe('success');
    expect(run.step_runs.map((s) => `${s.step_key}:${s.status}:${s.attempt}`)).toEqual(['B:SUCCESS:1', 'T1:SUCCESS:1', 'T2:SUCCESS:1', 'D:SUCCESS:1']);
    await expectInvariants(ctx.database, run.id);
  });

  it('an attestation (FAIL) made while the runner executes another branch ends the run in error once the step in flight is recorded; nothing new starts', async () => {
    const pause = pauseAt('afterPromptBeforeLlm');
    const app = await buildApp(testDeps(ctx.database, { faults: pause }), { auth: AUTH_OFF });
    const { response: started } = await startHeldAt(app, await storeManifest(app, branches), pause);
    const b = await waitingStepRunId(ctx.database, 'B');
    const runId = (await queryRows<{ run_id: string }>(ctx.database.db, sql`SELECT run_id FROM dag_step_runs WHERE id = ${b}`))[0]!.run_id;
    expect((await attest(app, runId, b, { outcome: 'FAIL', attested_by: 'ana', notes: 'broken' })).statusCode).toBe(201);
    pause.release();
    const run = (await started).json() as RunJson;
    expect(run.status).toBe('error');
    expect(run.error).toMatchObject({ step_key: 'B', message: 'compute step B was attested FAIL' });
    expect(run.ended_at).not.toBeNull();
    // T1 was in flight: recorded. T2 and D never started.
    expect(run.step_runs.map((s) => `${s.step_key}:${s.status}`)).toEqual(['B:FAIL', 'T1:SUCCESS']);
    await expectInvariants(ctx.database, run.id);
  });

  it('a cancel while a step is in flight: its call is aborted and the step recorded CANCELLED, nothing more starts, the run stays cancelled', async () => {
    const pause = pauseAt('afterPromptBeforeLlm');
    const app = await buildApp(testDeps(ctx.database, { faults: pause }), { auth: AUTH_OFF });
    const { response: started } = await startHeldAt(app, await storeManifest(app, branches), pause);
    const [{ id: runId }] = (await queryRows<{ id: string }>(ctx.database.db, sql`SELECT id FROM dag_runs`)) as [{ id: string }];
    const cancelled = await app.inject({ method: 'POST', url: `/api/runs/${runId}/cancel`, payload: { reason: 'superseded' } });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', cancel_reason: 'superseded' });
    expect(stepOf(cancelled.json(), 'B')).toMatchObject({ status: 'CANCELLED' });
    expect(stepOf(cancelled.json(), 'T1')).toMatchObject({ status: 'RUNNING' });
    pause.release();
    const run = (await started).json() as RunJson;
    expect(run.status).toBe('cancelled');
    // SPEC §15: the call in flight is aborted, and the step says so (its evidence too).
    expect(run.step_runs.map((s) => `${s.step_key}:${s.status}`)).toEqual(['B:CANCELLED', 'T1:CANCELLED']);
    expect(stepOf(run, 'T1')!.error).toMatchObject({ kind: 'aborted', message: expect.stringMatching(/aborted: the run was cancelled/) });
    const evidence = (await app.inject({ method: 'GET', url: `/api/runs/${runId}/steps/${stepOf(run, 'T1')!.id}` })).json() as { artifacts: { llm_calls: Array<{ error: unknown }> } };
    expect(evidence.artifacts.llm_calls.at(-1)!.error).toMatchObject({ kind: 'aborted' });
    await expectInvariants(ctx.database, run.id);
    // A cancelled run is final for every verb.
    expectProblem(await resume(app, runId), 409, 'RUN_NOT_WAITING');
    expectProblem(await app.inject({ method: 'POST', url: `/api/runs/${runId}/retry` }), 409, 'RUN_NOT_RETRYABLE');
    expectProblem(await app.inject({ method: 'POST', url: `/api/runs/${runId}/cancel` }), 409, 'RUN_NOT_CANCELLABLE');
    expectProblem(await attest(app, runId, stepOf(run, 'B')!.id, { outcome: 'SUCCESS', attested_by: 'ana', artifacts: [artifact('x')] }), 409, 'STEP_RUN_NOT_WAITING');
  });

  it('a resume that races an attestation re-checks before it parks, and goes on instead of answering waiting for nothing', async () => {
    const manifest = {
      name: 'two-waits',
      steps: [
        { key: 'B', step_type: 'compute', compute_contract: contract(['x']) },
        { key: 'E', step_type: 'compute', compute_contract: contract(['y']) },
        { key: 'D', depends_on: ['B'], prompt: 'after B' },
        { key: 'F', depends_on: ['E'], prompt: 'after E' },
      ],
    };
    const pause = pauseAt('beforeRelease');
    const plain = await buildApp(testDeps(ctx.database), { auth: AUTH_OFF });
    const manifestId = await storeManifest(plain, manifest);
    const first = (await plain.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: manifestId } })).json() as RunJson;
    expect(first.status).toBe('waiting');
    expect((await attest(plain, first.id, stepOf(first, 'B')!.id, { outcome: 'SUCCESS', attested_by: 'ana', artifacts: [artifact('x')] })).statusCode).toBe(201);

    const app = await buildApp(testDeps(ctx.database, { faults: pause }), { auth: AUTH_OFF });
    const resuming = send(app, { method: 'POST', url: `/api/runs/${first.id}/resume` });
    await pause.reached; // D ran; the resume is about to park the run on E
    expect((await attest(plain, first.id, stepOf(first, 'E')!.id, { outcome: 'SUCCESS', attested_by: 'bo', artifacts: [artifact('y')] })).statusCode).toBe(201);
    pause.release();
    const run = (await resuming).json() as RunJson;
    expect(run.status).toBe('success');
    expect(run.step_runs.map((s) => `${s.step_key}:${s.status}`)).toEqual(['B:SUCCESS', 'E:SUCCESS', 'D:SUCCESS', 'F:SUCCESS']);
    await expectInvariants(ctx.database, run.id);
  });

  it('retry racing resume and another retry: exactly one advances the run, every step once', async () => {
    const llm = await startChatCompletionsServer({ status: 400 }, { reply: 'fine' });
    try {
      const app = await buildApp(testDeps(ctx.database, { openaiBaseUrl: llm.baseUrl }), { auth: AUTH_OFF });
      const manifestId = await storeManifest(app, { name: 'flaky', steps: [{ key: 'A', prompt: 'hi' }, { key: 'B', depends_on: ['A'], model: 'openai:m', prompt: 'again' }] });
      const failed = (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: manifestId } })).json() as RunJson;
      expect(failed.status).toBe('error');
      const other = await buildApp(testDeps(ctx.database, { openaiBaseUrl: llm.baseUrl }), { auth: AUTH_OFF });
      const answers = await Promise.all([
        app.inject({ method: 'POST', url: `/api/runs/${failed.id}/retry` }),
        other.inject({ method: 'POST', url: `/api/runs/${failed.id}/retry` }),
        resume(other, failed.id),
      ]);
      const codes = answers.map((a) => a.statusCode).sort();
      expect(codes).toEqual([200, 409, 409]);
      const winner = answers.find((a) => a.statusCode === 200)!.json() as RunJson;
      expect(winner.status).toBe('success');
      expect(winner.step_runs.map((s) => `${s.step_key}:${s.status}:${s.attempt}`)).toEqual(['A:SUCCESS:1', 'B:FAIL:1', 'B:SUCCESS:2']);
      expect(llm.requests).toHaveLength(2); // the failed call, and one retried call
      await expectInvariants(ctx.database, winner.id);
    } finally {
      await llm.close();
    }
  });
});
