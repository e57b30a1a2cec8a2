import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { App } from '../src/http/app.js';
import { queryRows } from '../src/storage/database.js';
import { testApp } from './support/app.js';
import { startChatCompletionsServer, type ChatCompletionsServer } from './support/chat-completions-server.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';
import { attest, DIGEST, resume, snapshot, startRun, stepOf, storeManifest, type RunJson } from './support/runs.js';

const contract = { executor: 'excel', inputs: [{ name: 'assumptions', from: 'steps.A.output' }], outputs: ['forecast_csv'], verification: 'operator_attest' };
const manifest = {
  name: 'abc',
  steps: [
    { key: 'A', prompt: 'Assumptions for {{inputs.region}}', model: 'openai:m' },
    { key: 'B', step_type: 'compute', depends_on: ['A'], compute_contract: contract },
    { key: 'C', depends_on: ['B'], model: 'openai:m', prompt: 'Memo on {{steps.A.output}} from {{steps.B.artifacts.forecast_csv.uri}} ({{steps.B.artifacts.forecast_csv.bytes}} bytes, {{steps.B.outcome}}: {{steps.B.notes}})' },
  ],
};
const artifact = { name: 'forecast_csv', uri: 's3://models/q3/forecast.csv', sha256: DIGEST, bytes: 1234 };
const success = { outcome: 'SUCCESS', attested_by: 'ana', notes: 'ran the Q3 workbook', artifacts: [artifact] };

describeEachDriver('attest and resume A → B → C', (ctx) => {
  let llm: ChatCompletionsServer;
  let app: App;
  let run: RunJson;
  beforeEach(async () => {
    llm = await startChatCompletionsServer({ reply: 'growth 3%' }, { reply: 'the memo' });
    app = await testApp(ctx.database, { openaiBaseUrl: llm.baseUrl });
    run = await startRun(app, await storeManifest(app, manifest), { region: 'EMEA' });
  });
  afterEach(async () => {
    await llm.close();
  });
  const b = () => stepOf(run, 'B')!;

  it('waits at B, attests it, resumes to run C once with the upstream outputs, and refuses a second resume', async () => {
    expect(run.status).toBe('waiting');
    expect(run.step_runs.map((s) => [s.step_key, s.status])).toEqual([['A', 'SUCCESS'], ['B', 'WAITING_FOR_ATTESTATION']]);
    expect(llm.requests).toHaveLength(1);

    const attested = await attest(app, run.id, b().id, success);
    expect(attested.statusCode, attested.body).toBe(201);
    const afterAttest = attested.json() as RunJson;
    expect(afterAttest.status).toBe('waiting');
    expect(stepOf(afterAttest, 'B')).toMatchObject({
      status: 'SUCCESS',
      output: { outcome: 'SUCCESS', notes: 'ran the Q3 workbook', artifacts: { forecast_csv: { uri: artifact.uri, sha256: DIGEST, bytes: 1234 } } },
      attestation: { outcome: 'SUCCESS', attested_by: 'ana', notes: 'ran the Q3 workbook', contract_snapshot: contract, artifacts: [expect.objectContaining(artifact)] },
    });
    expect(stepOf(afterAttest, 'B')!.ended_at).not.toBeNull();
    expect(stepOf(afterAttest, 'C')).toBeUndefined();

    const resumed = await resume(app, run.id);
    expect(resumed.statusCode, resumed.body).toBe(200);
    const done = resumed.json() as RunJson;
    expect(done.id).toBe(run.id);
    expect(done.status).toBe('success');
    expect(done.ended_at).not.toBeNull();
    expect(done.step_runs.map((s) => [s.step_key, s.status, s.attempt])).toEqual([['A', 'SUCCESS', 1], ['B', 'SUCCESS', 1], ['C', 'SUCCESS', 1]]);
    expect(stepOf(done, 'C')!.output).toBe('the memo');
    expect(llm.requests).toHaveLength(2);
    expect(llm.requests[1]!.body.messages).toEqual([
      { role: 'user', content: 'Memo on growth 3% from s3://models/q3/forecast.csv (1234 bytes, SUCCESS: ran the Q3 workbook)' },
    ]);

    const before = await snapshot(ctx.database);
    const again = expectProblem(await resume(app, run.id), 409, 'RUN_NOT_WAITING');
    expect(again.detail).toContain('is success');
    expect(await snapshot(ctx.database)).toEqual(before);
    expect(llm.requests).toHaveLength(2);
  });

  it('ends the run in error on a FAIL attestation; resume is 409 and C never runs', async () => {
    const failed = await attest(app, run.id, b().id, { outcome: 'FAIL', attested_by: 'ana', notes: 'the workbook crashed' });
    expect(failed.statusCode, failed.body).toBe(201);
    const body = failed.json() as RunJson;
    expect(body.status).toBe('error');
    expect(body.ended_at).not.toBeNull();
    expect(stepOf(body, 'B')).toMatchObject({ status: 'FAIL', output: null, attestation: { outcome: 'FAIL', artifacts: [] } });
    expectProblem(await resume(app, run.id), 409, 'RUN_NOT_WAITING');
    expect(stepOf((await app.inject({ method: 'GET', url: `/api/runs/${run.id}` })).json(), 'C')).toBeUndefined();
    expect(llm.requests).toHaveLength(1);
  });

  it('accepts exactly one of 20 concurrent attestations of one step run', async () => {
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => attest(app, run.id, b().id, { ...success, attested_by: `operator-${i}` })));
    const codes = responses.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 201)).toHaveLength(1);
    expect(codes.filter((c) => c === 409)).toHaveLength(19);
    for (const r of responses.filter((r) => r.statusCode === 409)) expect(['ALREADY_ATTESTED', 'STEP_RUN_NOT_WAITING']).toContain(r.json().code);
    const rows = await queryRows<{ n: number; artifacts: number }>(
      ctx.database.db,
      sql`SELECT (SELECT count(*) FROM compute_attestations)::int AS n, (SELECT count(*) FROM compute_artifacts)::int AS artifacts`,
    );
    expect(rows).toEqual([{ n: 1, artifacts: 1 }]);
  });

  it('lets exactly one of 20 concurrent resumes advance the run, calling the LLM for C once', async () => {
    expect((await attest(app, run.id, b().id, success)).statusCode).toBe(201);
    const responses = await Promise.all(Array.from({ length: 20 }, () => resume(app, run.id)));
    const codes = responses.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 200)).toHaveLength(1);
    expect(codes.filter((c) => c === 409)).toHaveLength(19);
    expect(responses.find((r) => r.statusCode === 200)!.json().status).toBe('success');
    expect(llm.requests).toHaveLength(2);
    const [count] = await queryRows<{ n: number }>(ctx.database.db, sql`SELECT count(*)::int AS n FROM dag_step_runs WHERE run_id = ${run.id}`);
    expect(count).toEqual({ n: 3 });
  });

  it('answers a resume before the attestation with the run, still waiting on B', async () => {
    // As curl sends it with a JSON content type and no body.
    const response = await app.inject({ method: 'POST', url: `/api/runs/${run.id}/resume`, headers: { 'content-type': 'application/json' }, payload: '' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'waiting', waiting_on: [{ step_run_id: b().id, step_key: 'B' }] });
    expect(llm.requests).toHaveLength(1);
  });

  it('answers every bad attestation with a problem and writes nothing', async () => {
    const before = await snapshot(ctx.database);
    const unknown = '00000000-0000-4000-8000-000000000000';
    expectProblem(await attest(app, unknown, b().id, success), 404, 'RUN_NOT_FOUND');
    expectProblem(await attest(app, run.id, unknown, success), 404, 'STEP_RUN_NOT_FOUND');
    expectProblem(await attest(app, 'x', 'y', success), 404, 'RUN_NOT_FOUND');
    const other = await startRun(app, run.manifest_id, { region: 'APAC' });
    const otherBefore = await snapshot(ctx.database);
    expectProblem(await attest(app, other.id, b().id, success), 404, 'STEP_RUN_NOT_FOUND');
    expectProblem(await attest(app, run.id, stepOf(run, 'A')!.id, success), 409, 'STEP_RUN_NOT_WAITING');

    const invalid = async (body: Record<string, unknown>, path: string, message: RegExp) => {
      const problem = expectProblem(await attest(app, run.id, b().id, body), 422);
      expect(problem.errors).toContainEqual({ path, message: expect.stringMatching(message) });
    };
    await invalid({ ...success, outcome: 'DONE' }, 'outcome', /expected one of "SUCCESS", "FAIL"/);
    await invalid({ ...success, attested_by: undefined }, 'attested_by', /required/);
    await invalid({ ...success, artifacts: [{ ...artifact, sha256: 'abc' }] }, 'artifacts[0].sha256', /64 hexadecimal/);
    await invalid({ ...success, artifacts: [{ ...artifact, bytes: -1 }] }, 'artifacts[0].bytes', /0 bytes or more/);
    await invalid({ ...success, artifacts: [{ ...artifact, bytes: 1.5 }] }, 'artifacts[0].bytes', /whole number/);
    await invalid({ ...success, artifacts: [{ ...artifact, uri: '/tmp/forecast.csv' }] }, 'artifacts[0].uri', /with a scheme/);
    await invalid({ ...success, artifacts: [artifact, artifact] }, 'artifacts[1].name', /duplicate artifact name "forecast_csv"/);
    await invalid({ ...success, artifacts: [] }, 'artifacts', /declares the output "forecast_csv"/);
    await invalid({ ...success, artifacts: [{ ...artifact, name: 'other' }] }, 'artifacts', /declares the output "forecast_csv"/);
    expectProblem(await app.inject({ method: 'POST', url: `/api/runs/${run.id}/steps/${b().id}/attest`, headers: { 'content-type': 'application/json' }, payload: '{"outcome":' }), 400);
    expect(await snapshot(ctx.database)).toEqual(otherBefore);
    expect(before.attestations).toBe(0);

    expect((await attest(app, run.id, b().id, success)).statusCode).toBe(201);
    const afterOne = await snapshot(ctx.database);
    expectProblem(await attest(app, run.id, b().id, success), 409, 'ALREADY_ATTESTED');
    expect(await snapshot(ctx.database)).toEqual(afterOne);
    expectProblem(await resume(app, unknown), 404, 'RUN_NOT_FOUND');
    expectProblem(await resume(app, 'nope'), 404, 'RUN_NOT_FOUND');
  });
});
