import { expect, it } from 'vitest';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';
import { startRun, storeManifest } from './support/runs.js';

const compute = { key: 'B', step_type: 'compute', compute_contract: { executor: 'x', inputs: [], outputs: [], verification: 'operator_attest' } };

describeEachDriver('listing and showing runs', (ctx) => {
  it('lists runs newest first, filtered by status and manifest, paginated', async () => {
    const app = await testApp(ctx.database);
    const waits = await storeManifest(app, { name: 'waits', steps: [compute] });
    const ends = await storeManifest(app, { name: 'ends', steps: [{ key: 'A', prompt: 'a' }] });
    const w1 = await startRun(app, waits);
    const e1 = await startRun(app, ends);
    const w2 = await startRun(app, waits);

    // The exact total is counted only when asked for (count=true): it reads every matching run.
    const all = (await app.inject({ method: 'GET', url: '/api/runs?count=true' })).json();
    expect(all.total).toBe(3);
    expect(all.items.map((r: { id: string }) => r.id)).toEqual([w2.id, e1.id, w1.id]);
    const waiting = (await app.inject({ method: 'GET', url: '/api/runs?status=waiting&limit=1&count=true' })).json();
    expect(waiting).toMatchObject({ total: 2, limit: 1 });
    expect(waiting.items.map((r: { id: string }) => r.id)).toEqual([w2.id]);
    const byManifest = (await app.inject({ method: 'GET', url: `/api/runs?manifest_id=${ends}` })).json();
    expect(byManifest.items.map((r: { id: string; status: string }) => [r.id, r.status])).toEqual([[e1.id, 'success']]);
    expectProblem(await app.inject({ method: 'GET', url: '/api/runs?status=finished' }), 422, 'REQUEST_INVALID');
  });

  it('answers unknown and malformed run, step run and manifest ids with 404', async () => {
    const app = await testApp(ctx.database);
    const unknown = '00000000-0000-4000-8000-000000000000';
    expectProblem(await app.inject({ method: 'GET', url: `/api/runs/${unknown}` }), 404, 'RUN_NOT_FOUND');
    expectProblem(await app.inject({ method: 'GET', url: '/api/runs/42' }), 404, 'RUN_NOT_FOUND');
    const run = await startRun(app, await storeManifest(app, { name: 'one', steps: [compute] }));
    expectProblem(await app.inject({ method: 'GET', url: `/api/runs/${run.id}/steps/${unknown}` }), 404, 'STEP_RUN_NOT_FOUND');
    expectProblem(await app.inject({ method: 'GET', url: `/api/runs/${run.id}/steps/nope` }), 404, 'STEP_RUN_NOT_FOUND');
    expectProblem(await app.inject({ method: 'GET', url: `/api/runs/${unknown}/steps/${run.step_runs[0]!.id}` }), 404, 'RUN_NOT_FOUND');
    expectProblem(await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: unknown, inputs: {} } }), 404, 'MANIFEST_NOT_FOUND');
    expectProblem(await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: 'x' } }), 404, 'MANIFEST_NOT_FOUND');
  });

  it('answers a malformed run request with 400 or 422', async () => {
    const app = await testApp(ctx.database);
    expectProblem(await app.inject({ method: 'POST', url: '/api/runs', headers: { 'content-type': 'application/json' }, payload: '{"manifest_id": ' }), 400, 'MALFORMED_BODY');
    const invalid = expectProblem(await app.inject({ method: 'POST', url: '/api/runs', payload: { inputs: [1] } }), 422, 'REQUEST_INVALID');
    expect(invalid.errors!.map((e) => e.path)).toEqual(['manifest_id', 'inputs']);
  });

  it('starts a run under an id the caller chose, once', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, { name: 'chosen', steps: [{ key: 'A', prompt: 'a' }] });
    const id = '6f1c1a52-8a55-4a8e-9d4e-0b3c5a1e2f10';
    const first = await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: manifestId, id } });
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json()).toMatchObject({ id, status: 'success' });
    const again = expectProblem(await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: manifestId, id } }), 409, 'RUN_EXISTS');
    expect(again.detail).toContain(id);
    expect((await app.inject({ method: 'GET', url: `/api/runs?manifest_id=${manifestId}&count=true` })).json().total).toBe(1);
    expectProblem(await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: manifestId, id: 'not-a-uuid' } }), 422, 'REQUEST_INVALID');
  });
});

