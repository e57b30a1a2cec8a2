import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { queryRows } from '../src/storage/database.js';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';
import { attest, DIGEST, resume, snapshot, stepOf, storeManifest, type RunJson } from './support/runs.js';

const contract = (extra: Record<string, unknown> = {}) => ({ executor: 'lab', inputs: [], outputs: ['x'], verification: 'operator_attest', ...extra });
const artifacts = [{ name: 'x', uri: 'file:///x', sha256: DIGEST, bytes: 1 }];
const manifest = {
  name: 'lifecycle',
  steps: [
    { key: 'A', prompt: 'plan' },
    { key: 'B', step_type: 'compute', depends_on: ['A'], compute_contract: contract({ deadline: 'PT48H' }) },
    { key: 'C', depends_on: ['B'], prompt: 'memo on {{steps.B.artifacts.x.uri}}' },
  ],
};
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

describeEachDriver('cancel, retry, deadlines and the resume plan over HTTP', (ctx) => {
  it('cancel ends a waiting run and its waits; every verb on it then answers 409; unknown runs 404', async () => {
    const app = await testApp(ctx.database);
    const run = (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: await storeManifest(app, manifest) } })).json() as RunJson;
    expect(run.status).toBe('waiting');
    const cancelled = await app.inject({ method: 'POST', url: `/api/runs/${run.id}/cancel`, payload: { reason: 'the quarter was dropped' } });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    const body = cancelled.json() as RunJson;
    expect(body).toMatchObject({ status: 'cancelled', cancel_reason: 'the quarter was dropped', waiting_on: [], ready_to_resume: false });
    expect(body.ended_at).not.toBeNull();
    expect(stepOf(body, 'A')).toMatchObject({ status: 'SUCCESS' });
    expect(stepOf(body, 'B')).toMatchObject({ status: 'CANCELLED', error: { message: 'the run was cancelled', reason: 'the quarter was dropped' } });

    const before = await snapshot(ctx.database);
    expectProblem(await app.inject({ method: 'POST', url: `/api/runs/${run.id}/cancel` }), 409, 'RUN_NOT_CANCELLABLE');
    expectProblem(await resume(app, run.id), 409, 'RUN_NOT_WAITING');
    expectProblem(await app.inject({ method: 'POST', url: `/api/runs/${run.id}/retry` }), 409, 'RUN_NOT_RETRYABLE');
    expectProblem(await attest(app, run.id, stepOf(body, 'B')!.id, { outcome: 'SUCCESS', attested_by: 'ana', artifacts }), 409, 'STEP_RUN_NOT_WAITING');
    expect(await snapshot(ctx.database)).toEqual(before);

    for (const verb of ['cancel', 'retry', 'resume']) expectProblem(await app.inject({ method: 'POST', url: `/api/runs/${UNKNOWN}/${verb}` }), 404, 'RUN_NOT_FOUND');
    expectProblem(await app.inject({ method: 'GET', url: `/api/runs/${UNKNOWN}/plan` }), 404, 'RUN_NOT_FOUND');
    expectProblem(await app.inject({ method: 'POST', url: `/api/runs/not-a-uuid/cancel` }), 404, 'RUN_NOT_FOUND');
    expectProblem(await app.inject({ method: 'POST', url: `/api/runs/${run.id}/cancel`, payload: { reason: 'x', extra: 1 } }), 422);
    expect((await app.inject({ method: 'GET', url: '/api/runs?status=cancelled' })).json().items.map((r: { id: string }) => r.id)).toEqual([run.id]);
  });

  it('retry gives a compute step attested FAIL a new attempt with a fresh deadline, keeps the old one with its attestation, and reuses SUCCESS steps', async () => {
    const app = await testApp(ctx.database);
    const run = (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: await storeManifest(app, manifest) } })).json() as RunJson;
    const b1 = stepOf(run, 'B')!;
    expect(b1.due_at).not.toBeNull();
    expect(new Date(b1.due_at!).getTime() - new Date(b1.started_at).getTime()).toBe(48 * 3600 * 1000);
    expectProblem(await app.inject({ method: 'POST', url: `/api/runs/${run.id}/retry` }), 409, 'RUN_NOT_RETRYABLE');

    const failed = (await attest(app, run.id, b1.id, { outcome: 'FAIL', attested_by: 'ana', notes: 'the model diverged' })).json() as RunJson;
    expect(failed.status).toBe('error');
    const plan = (await app.inject({ method: 'GET', url: `/api/runs/${run.id}/plan` })).json();
    expect(plan).toMatchObject({ action: 'retry', steps: [{ step_key: 'A', plan: 'done' }, { step_key: 'B', plan: 'waiting', attempt: 2 }, { step_key: 'C', plan: 'blocked' }] });

    const retried = await app.inject({ method: 'POST', url: `/api/runs/${run.id}/retry` });
    expect(retried.statusCode, retried.body).toBe(200);
    const again = retried.json() as RunJson;
    expect(again).toMatchObject({ status: 'waiting', error: null, ended_at: null });
    expect(again.step_runs.map((s) => `${s.step_key}:${s.status}:${s.attempt}`)).toEqual(['A:SUCCESS:1', 'B:FAIL:1', 'B:WAITING_FOR_ATTESTATION:2']);
    const b2 = again.step_runs.find((s) => s.step_key === 'B' && s.attempt === 2)!;
    expect(b2.id).not.toBe(b1.id);
    expect(again.step_runs.find((s) => s.id === b1.id)!.attestation).toMatchObject({ outcome: 'FAIL', notes: 'the model diverged' });
    expect(new Date(b2.due_at!).getTime()).toBeGreaterThan(new Date(b1.due_at!).getTime() - 1);
    expect(again.waiting_on).toEqual([{ step_run_id: b2.id, step_key: 'B' }]);

    expect((await attest(app, run.id, b2.id, { outcome: 'SUCCESS', attested_by: 'ana', artifacts })).json()).toMatchObject({ ready_to_resume: true });
    const done = (await resume(app, run.id)).json() as RunJson;
    expect(done.status).toBe('success');
    // A ran once: one prompt artifact in the whole run for A.
    const [counts] = await queryRows<{ a: number }>(ctx.database.db, sql`SELECT count(*)::int AS a FROM prompt_artifacts p JOIN dag_step_runs s ON s.id = p.step_run_id WHERE s.run_id = ${run.id} AND s.step_key = 'A'`);
    expect(counts!.a).toBe(1);
  });

  it('a wait past its due_at is overdue: listed first in the inbox, refused to attest, ended FAIL by resume, given a fresh attempt by retry', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, manifest);
    const late = (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: manifestId } })).json() as RunJson;
    const onTime = (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: manifestId } })).json() as RunJson;
    // The deadline passes (by the database's clock): move the wait two days into the past.
    await ctx.database.db.execute(sql`UPDATE dag_step_runs SET started_at = started_at - interval '50 hours', due_at = due_at - interval '50 hours' WHERE run_id = ${late.id} AND step_key = 'B'`);

    const shown = (await app.inject({ method: 'GET', url: `/api/runs/${late.id}` })).json() as RunJson;
    expect(stepOf(shown, 'B')).toMatchObject({ status: 'WAITING_FOR_ATTESTATION', overdue: true });
    const inbox = (await app.inject({ method: 'GET', url: '/api/attestations/pending' })).json();
    expect(inbox.items.map((i: { run_id: string; overdue: boolean }) => [i.run_id, i.overdue])).toEqual([
      [late.id, true],
      [onTime.id, false],
    ]);

    const before = await snapshot(ctx.database);
    expectProblem(await attest(app, late.id, stepOf(late, 'B')!.id, { outcome: 'SUCCESS', attested_by: 'ana', artifacts }), 409, 'DEADLINE_PASSED');
    expect(await snapshot(ctx.database)).toEqual(before);
    expect((await app.inject({ method: 'GET', url: `/api/runs/${late.id}/plan` })).json()).toMatchObject({ action: 'resume', steps: [{ plan: 'done' }, { plan: 'failed' }, { plan: 'blocked' }] });

    const ended = (await resume(app, late.id)).json() as RunJson;
    expect(ended).toMatchObject({ status: 'error', error: { step_key: 'B', message: 'compute step B missed its deadline' } });
    expect(stepOf(ended, 'B')).toMatchObject({ status: 'FAIL', overdue: false });
    expect(stepOf(ended, 'B')!.error!.message).toMatch(/^deadline passed/);

    const retried = (await app.inject({ method: 'POST', url: `/api/runs/${late.id}/retry` })).json() as RunJson;
    const fresh = retried.step_runs.find((s) => s.step_key === 'B' && s.attempt === 2)!;
    expect(fresh).toMatchObject({ status: 'WAITING_FOR_ATTESTATION', overdue: false });
    expect(new Date(fresh.due_at!).getTime()).toBeGreaterThan(Date.now() + 47 * 3600 * 1000);
  });

  it('refuses a deadline that is not an ISO 8601 duration, naming the step', async () => {
    const app = await testApp(ctx.database);
    const response = await app.inject({
      method: 'POST',
      url: '/api/manifests',
      payload: { name: 'bad-deadline', steps: [{ key: 'B', step_type: 'compute', compute_contract: contract({ deadline: '48 hours' }) }] },
    });
    const problem = expectProblem(response, 422, 'MANIFEST_INVALID');
    expect(problem.errors).toContainEqual(expect.objectContaining({ path: 'steps[0].compute_contract.deadline' }));
  });

  it('after a normal attest the run says ready_to_resume, in the run, the list and the inbox', async () => {
    const app = await testApp(ctx.database);
    const run = (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: await storeManifest(app, manifest) } })).json() as RunJson;
    expect(run.ready_to_resume).toBe(false);
    const attested = (await attest(app, run.id, stepOf(run, 'B')!.id, { outcome: 'SUCCESS', attested_by: 'ana', artifacts })).json() as RunJson;
    expect(attested).toMatchObject({ status: 'waiting', waiting_on: [], ready_to_resume: true });
    const list = (await app.inject({ method: 'GET', url: '/api/runs?status=waiting' })).json();
    expect(list.items[0]).toMatchObject({ id: run.id, ready_to_resume: true, stalled: false });
    const inbox = (await app.inject({ method: 'GET', url: '/api/attestations/pending' })).json();
    expect(inbox).toMatchObject({ items: [], ready_to_resume: [{ run_id: run.id, resume_url: `/api/runs/${run.id}/resume` }] });
    expect((await app.inject({ method: 'GET', url: `/api/runs/${run.id}/plan` })).json()).toMatchObject({
      action: 'resume',
      steps: [{ step_key: 'A', plan: 'done' }, { step_key: 'B', plan: 'done' }, { step_key: 'C', plan: 'will_run', attempt: 1 }],
    });
  });
});
