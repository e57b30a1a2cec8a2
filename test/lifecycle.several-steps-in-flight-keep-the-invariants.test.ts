import { sql } from 'drizzle-orm';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { SimulatedCrash, type FaultPoints } from '../src/engine/faults.js';
import { startRun } from '../src/engine/runs.js';
import type { App } from '../src/http/app.js';
import { queryRows, type Database } from '../src/storage/database.js';
import { testApp, testDeps } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { startLatencyLlm, type LatencyLlm } from './support/latency-llm.js';
import { attest, DIGEST, resume, stepOf, storeManifest, type RunJson } from './support/runs.js';

/**
 * SPEC §15: every interleaving of §9 keeps its guarantees with several steps in flight —
 * attest SUCCESS and FAIL, cancel, resume racing a take-over, a crash with several steps
 * RUNNING. The calls in flight are held at a local OpenAI-compatible server (model `gate`
 * answers when the test opens the gate, `hold` never), so each interleaving is exact.
 */

const contract = { executor: 'lab', inputs: [], outputs: ['x'], verification: 'operator_attest' };

// B waits for an attestation while T1…T3 are in flight; D needs B and T1.
const waitBesideThree = (model: string) => ({
  name: 'wait-beside-three',
  steps: [
    { key: 'B', step_type: 'compute', compute_contract: contract },
    { key: 'T1', model, prompt: 'one' },
    { key: 'T2', model, prompt: 'two' },
    { key: 'T3', model, prompt: 'three' },
    { key: 'D', depends_on: ['B', 'T1'], model: 'openai:lat-5', prompt: 'after {{steps.B.outcome}} and {{steps.T1.output}}' },
  ],
});

/** Sends a request now (inject() without a callback waits to be awaited) and answers its response. */
function send(app: App, options: InjectOptions): Promise<LightMyRequestResponse> {
  return new Promise((resolve, reject) => {
    void app.inject(options, (err, response) => (err ? reject(err) : resolve(response!)));
  });
}

async function theRun(database: Database): Promise<string> {
  const [row] = await queryRows<{ id: string }>(database.db, sql`SELECT id FROM dag_runs`);
  return row!.id;
}

async function waitingStepRunId(database: Database, key: string): Promise<string> {
  const [row] = await queryRows<{ id: string }>(database.db, sql`SELECT id FROM dag_step_runs WHERE step_key = ${key} AND status = 'WAITING_FOR_ATTESTATION'`);
  return row!.id;
}

/** After the runner returned: nothing RUNNING, nobody holds the run, waits only on a waiting run. */
async function expectInvariants(database: Database, runId: string) {
  const [run] = await queryRows<{ status: string; lease_owner: string | null; running: number; waits: number }>(
    database.db,
    sql`SELECT r.status, r.lease_owner,
               (SELECT count(*) FROM dag_step_runs s WHERE s.run_id = r.id AND s.status = 'RUNNING')::int AS running,
               (SELECT count(*) FROM dag_step_runs s WHERE s.run_id = r.id AND s.status = 'WAITING_FOR_ATTESTATION')::int AS waits
        FROM dag_runs r WHERE r.id = ${runId}`,
  );
  expect(run!.running).toBe(0);
  expect(run!.lease_owner).toBeNull();
  if (run!.status === 'waiting') expect(run!.waits).toBeGreaterThan(0);
  else expect(run!.waits).toBe(0);
}

describeEachDriver('lifecycle with several steps in flight', (ctx) => {
  let llm: LatencyLlm;
  beforeEach(async () => {
    llm = await startLatencyLlm();
  });
  afterEach(async () => {
    await llm.close();
  });

  it('an attestation (SUCCESS) while three calls are in flight: the runner sees it and runs what it unblocked once they are recorded', async () => {
    const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    const started = send(app, { method: 'POST', url: '/api/runs', payload: { manifest_id: await storeManifest(app, waitBesideThree('openai:gate')) } });
    await llm.inFlightReaches(3);
    const runId = await theRun(ctx.database);
    const attested = await attest(app, runId, await waitingStepRunId(ctx.database, 'B'), { outcome: 'SUCCESS', attested_by: 'ana', artifacts: [{ name: 'x', uri: 'file:///x', sha256: DIGEST, bytes: 1 }] });
    expect(attested.statusCode, attested.body).toBe(201);
    llm.openGate();
    const run = (await started).json() as RunJson;
    expect(run.status).toBe('success');
    expect(run.step_runs.map((s) => `${s.step_key}:${s.status}:${s.attempt}`)).toEqual(['B:SUCCESS:1', 'T1:SUCCESS:1', 'T2:SUCCESS:1', 'T3:SUCCESS:1', 'D:SUCCESS:1']);
    expect(llm.calls.map((c) => c.prompt).sort()).toEqual(['after SUCCESS and one ✓', 'one', 'three', 'two']);
    await expectInvariants(ctx.database, runId);
  });

  it('an attestation (FAIL) while three calls are in flight: they finish and are recorded, nothing new starts, the run ends error naming B', async () => {
    const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    const started = send(app, { method: 'POST', url: '/api/runs', payload: { manifest_id: await storeManifest(app, waitBesideThree('openai:gate')) } });
    await llm.inFlightReaches(3);
    const runId = await theRun(ctx.database);
    expect((await attest(app, runId, await waitingStepRunId(ctx.database, 'B'), { outcome: 'FAIL', attested_by: 'ana', notes: 'broken' })).statusCode).toBe(201);
    llm.openGate();
    const run = (await started).json() as RunJson;
    expect(run.status).toBe('error');
    expect(run.error).toMatchObject({ step_key: 'B', message: 'compute step B was attested FAIL' });
    expect(run.step_runs.map((s) => `${s.step_key}:${s.status}`)).toEqual(['B:FAIL', 'T1:SUCCESS', 'T2:SUCCESS', 'T3:SUCCESS']);
    expect(llm.calls).toHaveLength(3);
    await expectInvariants(ctx.database, runId);
  });

  it('a cancel with three calls in flight aborts each request, records each step CANCELLED with the abort in its evidence, and starts nothing more', async () => {
    const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    const started = send(app, { method: 'POST', url: '/api/runs', payload: { manifest_id: await storeManifest(app, waitBesideThree('openai:hold')) } });
    await llm.inFlightReaches(3);
    const runId = await theRun(ctx.database);
    const cancelled = await app.inject({ method: 'POST', url: `/api/runs/${runId}/cancel`, payload: { reason: 'wrong inputs' } });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    const run = (await started).json() as RunJson;
    expect(run.status).toBe('cancelled');
    expect(run.step_runs.map((s) => `${s.step_key}:${s.status}`)).toEqual(['B:CANCELLED', 'T1:CANCELLED', 'T2:CANCELLED', 'T3:CANCELLED']);
    // The provider saw each request go away unanswered.
    await llm.idle();
    expect(llm.calls.map((c) => c.abandoned)).toEqual([true, true, true]);
    for (const key of ['T1', 'T2', 'T3']) {
      expect(stepOf(run, key)!.error).toMatchObject({ kind: 'aborted' });
      const detail = (await app.inject({ method: 'GET', url: `/api/runs/${runId}/steps/${stepOf(run, key)!.id}` })).json();
      expect(detail.artifacts.llm_calls).toHaveLength(1);
      expect(detail.artifacts.llm_calls[0].error).toMatchObject({ kind: 'aborted', message: expect.stringContaining('the run was cancelled') });
    }
    await expectInvariants(ctx.database, runId);
  });

  it('a cancel made by another process reaches the calls in flight at the runner\'s next lease renewal', async () => {
    // A lease of 900 ms is renewed every 300 ms: that is how soon the executing process hears of it.
    const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl, leaseMs: 900 });
    const other = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    const started = send(app, { method: 'POST', url: '/api/runs', payload: { manifest_id: await storeManifest(app, waitBesideThree('openai:hold')) } });
    await llm.inFlightReaches(3);
    const runId = await theRun(ctx.database);
    expect((await other.inject({ method: 'POST', url: `/api/runs/${runId}/cancel` })).statusCode).toBe(200);
    const run = (await started).json() as RunJson;
    expect(run.status).toBe('cancelled');
    expect(run.step_runs.map((s) => `${s.step_key}:${s.status}`)).toEqual(['B:CANCELLED', 'T1:CANCELLED', 'T2:CANCELLED', 'T3:CANCELLED']);
    await llm.idle();
    expect(llm.calls.map((c) => c.abandoned)).toEqual([true, true, true]);
    await expectInvariants(ctx.database, runId);
  });

  it('a crash with three steps RUNNING: racing resumes take it over once, each step runs again as attempt 2, no call more than once per crash', async () => {
    const manifest = {
      name: 'crash-fan-out',
      steps: [
        { key: 'plan', model: 'openai:lat-5', prompt: 'plan' },
        ...['s1', 's2', 's3'].map((key) => ({ key, depends_on: ['plan'], model: 'openai:lat-30', prompt: key })),
        { key: 'merge', depends_on: ['s1', 's2', 's3'], model: 'openai:lat-5', prompt: 'merge' },
      ],
    };
    // The process dies when the first section's reply is in (before it is written): the plan
    // is recorded, the three sections are all RUNNING, the other two calls cut off with it.
    let replies = 0;
    const crashAtFirstSection: FaultPoints = {
      hit(point) {
        if (point === 'afterLlmBeforeCommit' && ++replies === 2) throw new SimulatedCrash(point);
      },
    };
    const crashing = testDeps(ctx.database, { openaiBaseUrl: llm.baseUrl, leaseMs: 600, faults: crashAtFirstSection });
    const app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    const manifestId = await storeManifest(app, manifest);
    const runId = crypto.randomUUID();
    await expect(startRun(crashing, { manifestId, inputs: {}, runId })).rejects.toBeInstanceOf(SimulatedCrash);
    const [state] = await queryRows<{ running: number; calls: number }>(
      ctx.database.db,
      sql`SELECT (SELECT count(*) FROM dag_step_runs WHERE run_id = ${runId} AND status = 'RUNNING')::int AS running,
                 (SELECT count(*) FROM llm_call_artifacts a JOIN dag_step_runs s ON s.id = a.step_run_id WHERE s.run_id = ${runId})::int AS calls`,
    );
    expect(state).toEqual({ running: 3, calls: 1 });
    await waitForLeaseToExpire(ctx.database, runId);
    const [a, b] = [await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl }), await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl })];
    const answers = await Promise.all([resume(a, runId), resume(b, runId)]);
    expect(answers.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    const done = answers.find((r) => r.statusCode === 200)!.json() as RunJson;
    expect(done.status).toBe('success');
    expect(done.step_runs.map((s) => `${s.step_key}:${s.status}:${s.attempt}`)).toEqual(['plan:SUCCESS:1', 's1:SUCCESS:2', 's2:SUCCESS:2', 's3:SUCCESS:2', 'merge:SUCCESS:1']);
    // Each call at most once more per crash: the plan once (recorded), each section at most
    // twice (the first call may have been cut off before it left), the merge once.
    const count = (prompt: string) => llm.calls.filter((c) => c.prompt === prompt).length;
    expect([count('plan'), count('merge')]).toEqual([1, 1]);
    for (const key of ['s1', 's2', 's3']) expect(count(key)).toBeGreaterThanOrEqual(1);
    for (const key of ['s1', 's2', 's3']) expect(count(key)).toBeLessThanOrEqual(2);
    const recorded = await queryRows<{ step_key: string; attempt: number }>(
      ctx.database.db,
      sql`SELECT s.step_key, a.attempt FROM llm_call_artifacts a JOIN dag_step_runs s ON s.id = a.step_run_id WHERE s.run_id = ${runId} ORDER BY s.step_key`,
    );
    expect(recorded.map((r) => `${r.step_key}:${r.attempt}`)).toEqual(['merge:1', 'plan:1', 's1:2', 's2:2', 's3:2']);
    await expectInvariants(ctx.database, runId);
  });
});

async function waitForLeaseToExpire(database: Database, runId: string) {
  for (;;) {
    const [row] = await queryRows<{ expired: boolean }>(database.db, sql`SELECT lease_expires_at < now() AS expired FROM dag_runs WHERE id = ${runId}`);
    if (row!.expired) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
