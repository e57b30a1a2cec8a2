import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { SimulatedCrash, SimulatedFailure, armFault } from '../src/engine/faults.js';
import { resumeRun } from '../src/engine/resume.js';
import { queryRows } from '../src/storage/database.js';
import { buildApp } from '../src/http/app.js';
import { AUTH_OFF, testDeps } from './support/app.js';
import { startChatCompletionsServer } from './support/chat-completions-server.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';
import { attest, DIGEST, resume, startRun, stepOf, storeManifest } from './support/runs.js';

const manifest = {
  name: 'crash',
  steps: [
    { key: 'B', step_type: 'compute', compute_contract: { executor: 'lab', inputs: [], outputs: ['x'], verification: 'operator_attest' } },
    { key: 'C', depends_on: ['B'], model: 'openai:m', prompt: 'use {{steps.B.artifacts.x.uri}}' },
  ],
};

describeEachDriver('a process that dies in the middle of a step', (ctx) => {
  it('leaves a run that another process recovers once its lease expires, repeating the LLM call at most once, as attempt 2', async () => {
    const llm = await startChatCompletionsServer({ reply: 'done' });
    try {
      const crashing = testDeps(ctx.database, { openaiBaseUrl: llm.baseUrl, leaseMs: 3_000, faults: armFault('afterLlmBeforeCommit') });
      const app = await buildApp(crashing, { auth: AUTH_OFF });
      const run = await startRun(app, await storeManifest(app, manifest));
      expect((await attest(app, run.id, stepOf(run, 'B')!.id, { outcome: 'SUCCESS', attested_by: 'ana', artifacts: [{ name: 'x', uri: 'file:///x', sha256: DIGEST, bytes: 1 }] })).statusCode).toBe(201);

      await expect(resumeRun(crashing, run.id)).rejects.toBeInstanceOf(SimulatedCrash);
      expect(llm.requests).toHaveLength(1);
      const [left] = await queryRows<{ status: string; lease_owner: string | null; c_status: string; c_attempt: number }>(
        ctx.database.db,
        sql`SELECT r.status, r.lease_owner, s.status AS c_status, s.attempt AS c_attempt
            FROM dag_runs r JOIN dag_step_runs s ON s.run_id = r.id AND s.step_key = 'C' WHERE r.id = ${run.id}`,
      );
      expect(left).toEqual({ status: 'running', lease_owner: crashing.executorId, c_status: 'RUNNING', c_attempt: 1 });

      // While the dead process's lease lasts, nobody else may take the run.
      const other = await buildApp(testDeps(ctx.database, { openaiBaseUrl: llm.baseUrl }), { auth: AUTH_OFF });
      expect(expectProblem(await resume(other, run.id), 409, 'RUN_NOT_WAITING').detail).toContain('is running');

      // Wait, by the database's clock, until the dead process's lease has expired.
      for (;;) {
        const [state] = await queryRows<{ expired: boolean }>(ctx.database.db, sql`SELECT lease_expires_at < now() AS expired FROM dag_runs WHERE id = ${run.id}`);
        if (state!.expired) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const recovered = await resume(other, run.id);
      expect(recovered.statusCode, recovered.body).toBe(200);
      expect(recovered.json()).toMatchObject({ status: 'success' });
      expect(stepOf(recovered.json(), 'C')).toMatchObject({ status: 'SUCCESS', attempt: 2, output: 'done' });
      expect(stepOf(recovered.json(), 'B')).toMatchObject({ status: 'SUCCESS', attempt: 1 });
      expect(llm.requests).toHaveLength(2);

      const detail = (await other.inject({ method: 'GET', url: `/api/runs/${run.id}/steps/${stepOf(recovered.json(), 'C')!.id}` })).json();
      expect(detail.artifacts.prompts.map((p: { attempt: number }) => p.attempt)).toEqual([1, 2]);
      expect(detail.artifacts.llm_calls.map((p: { attempt: number }) => p.attempt)).toEqual([2]);
    } finally {
      await llm.close();
    }
  });

  it('hands a run whose resume failed midway back as stalled, so that the next resume takes it over at once', async () => {
    const llm = await startChatCompletionsServer({ reply: 'done' });
    try {
      const failing = testDeps(ctx.database, { openaiBaseUrl: llm.baseUrl, faults: armFault('afterPromptBeforeLlm', { kind: 'failure' }) });
      const app = await buildApp(failing, { auth: AUTH_OFF });
      const run = await startRun(app, await storeManifest(app, manifest));
      expect((await attest(app, run.id, stepOf(run, 'B')!.id, { outcome: 'SUCCESS', attested_by: 'ana', artifacts: [{ name: 'x', uri: 'file:///x', sha256: DIGEST, bytes: 1 }] })).statusCode).toBe(201);

      await expect(resumeRun(failing, run.id)).rejects.toBeInstanceOf(SimulatedFailure);
      const [left] = await queryRows<{ status: string; lease_owner: string | null }>(ctx.database.db, sql`SELECT status, lease_owner FROM dag_runs WHERE id = ${run.id}`);
      expect(left).toEqual({ status: 'running', lease_owner: failing.executorId });
      expect(llm.requests).toHaveLength(0);
      const shown = (await app.inject({ method: 'GET', url: `/api/runs/${run.id}` })).json();
      expect(shown).toMatchObject({ status: 'running', stalled: true });
      const stalled = (await app.inject({ method: 'GET', url: '/api/runs?status=stalled' })).json();
      expect(stalled.items.map((r: { id: string }) => r.id)).toEqual([run.id]);

      const resumed = await resume(app, run.id);
      expect(resumed.statusCode, resumed.body).toBe(200);
      // C was started (attempt 1) before the failure, so finishing it is attempt 2: visible, and the LLM was called once.
      expect(stepOf(resumed.json(), 'C')).toMatchObject({ status: 'SUCCESS', attempt: 2 });
      expect(llm.requests).toHaveLength(1);
    } finally {
      await llm.close();
    }
  });
});

