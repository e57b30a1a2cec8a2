import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { queryRows, type Database } from '../src/storage/database.js';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { DIGEST } from './support/runs.js';

/**
 * SPEC §12 ("every transition of every run"): the transitions beyond the runner's own —
 * attest, retry, cancel — record their events too, in their own statement; and `run_events`
 * is append-only: the database refuses to change or remove an event.
 */
const contract = { executor: 'lab', inputs: [], outputs: ['sample'], verification: 'operator_attest' };
const manifest = {
  name: 'two-waits',
  steps: [
    { key: 'A', prompt: 'a' },
    { key: 'B', depends_on: ['A'], step_type: 'compute', compute_contract: contract },
    { key: 'C', depends_on: ['A'], step_type: 'compute', compute_contract: contract },
  ],
};

async function kinds(database: Database, runId: string): Promise<string[]> {
  const rows = await queryRows<{ kind: string; step_key: string | null; attempt: number | null; status: string }>(
    database.db,
    sql`SELECT e.kind, e.step_key, e.attempt, e.status FROM run_events e WHERE e.run_id = ${runId} ORDER BY e.id`,
  );
  return rows.map((r) => `${r.kind}${r.step_key ? `:${r.step_key}${r.attempt}` : ''}:${r.status}`);
}

describeEachDriver('run events of attest, retry and cancel', (ctx) => {
  it('records a FAIL attestation, the waits it cancels and the run failing; then the retry; then the cancel', async () => {
    const app = await testApp(ctx.database);
    try {
      const stored = await app.inject({ method: 'POST', url: '/api/manifests', payload: manifest });
      const run = (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: stored.json().id } })).json();
      expect(run.status).toBe('waiting');
      const b = run.step_runs.find((s: { step_key: string }) => s.step_key === 'B');
      const failed = await app.inject({ method: 'POST', url: `/api/runs/${run.id}/steps/${b.id}/attest`, payload: { outcome: 'FAIL', attested_by: 'ana', notes: 'broken', artifacts: [] } });
      expect(failed.statusCode, failed.body).toBe(201);
      expect(await kinds(ctx.database, run.id)).toEqual([
        'run_started:running',
        'step_started:A1:RUNNING',
        'step_succeeded:A1:SUCCESS',
        'step_waiting:B1:WAITING_FOR_ATTESTATION',
        'step_waiting:C1:WAITING_FOR_ATTESTATION',
        'run_waiting:waiting',
        'step_attested:B1:FAIL',
        'step_cancelled:C1:CANCELLED',
        'run_failed:error',
      ]);
      const retried = await app.inject({ method: 'POST', url: `/api/runs/${run.id}/retry` });
      expect(retried.json().status).toBe('waiting');
      expect((await kinds(ctx.database, run.id)).slice(9)).toEqual([
        'run_retried:running',
        'step_waiting:B2:WAITING_FOR_ATTESTATION',
        'step_waiting:C2:WAITING_FOR_ATTESTATION',
        'run_waiting:waiting',
      ]);
      const b2 = retried.json().step_runs.find((s: { step_key: string; attempt: number }) => s.step_key === 'B' && s.attempt === 2);
      const ok = await app.inject({
        method: 'POST',
        url: `/api/runs/${run.id}/steps/${b2.id}/attest`,
        payload: { outcome: 'SUCCESS', attested_by: 'ana', artifacts: [{ name: 'sample', uri: 'file:///s', sha256: DIGEST, bytes: 1 }] },
      });
      expect(ok.statusCode, ok.body).toBe(201);
      expect((await app.inject({ method: 'POST', url: `/api/runs/${run.id}/cancel`, payload: { reason: 'enough' } })).statusCode).toBe(200);
      expect((await kinds(ctx.database, run.id)).slice(13)).toEqual(['step_attested:B2:SUCCESS', 'step_cancelled:C2:CANCELLED', 'run_cancelled:cancelled']);

      // Append-only: no change, no removal.
      const refusal = (query: ReturnType<typeof sql>) =>
        ctx.database.db.execute(query).then(
          () => 'allowed',
          (err: Error & { cause?: Error }) => (err.cause ?? err).message,
        );
      expect(await refusal(sql`UPDATE run_events SET kind = 'run_succeeded' WHERE run_id = ${run.id}`)).toMatch(/run_events is append-only: UPDATE/);
      expect(await refusal(sql`DELETE FROM run_events WHERE run_id = ${run.id}`)).toMatch(/run_events is append-only: DELETE/);
      expect(await refusal(sql`TRUNCATE run_events`)).toMatch(/run_events is append-only: TRUNCATE/);
      expect(await kinds(ctx.database, run.id)).toHaveLength(16);
    } finally {
      await app.close();
    }
  }, 60_000);
});

describeEachDriver('what failed events say', (ctx) => {
  it("step_failed carries the step's error message and run_failed the run's: a failed LLM call, a missed deadline, a FAIL attestation", async () => {
    // The openai provider of the test deps points at a port where nothing listens: its call fails.
    const app = await testApp(ctx.database);
    try {
      const messages = async (runId: string) =>
        queryRows<{ kind: string; step_key: string | null; message: string | null }>(
          ctx.database.db,
          sql`SELECT e.kind, e.step_key, e.error_message AS message FROM run_events e WHERE e.run_id = ${runId} AND e.error_message IS NOT NULL ORDER BY e.tx_id, e.id`,
        );
      const call = (await app.inject({ method: 'POST', url: '/api/manifests', payload: { name: 'calls', steps: [{ key: 'A', model: 'openai:m', prompt: 'a' }] } })).json();
      const failed = (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: call.id } })).json();
      expect(failed.status).toBe('error');
      expect(await messages(failed.id)).toEqual([
        { kind: 'step_failed', step_key: 'A', message: failed.step_runs[0].error.message },
        { kind: 'run_failed', step_key: null, message: failed.error.message },
      ]);
      expect(failed.step_runs[0].error.message).toMatch(/^the LLM call failed/);

      const waits = (
        await app.inject({ method: 'POST', url: '/api/manifests', payload: { name: 'late', steps: [{ key: 'B', step_type: 'compute', compute_contract: { ...contract, deadline: 'PT1H' } }] } })
      ).json();
      const late = (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: waits.id } })).json();
      await ctx.database.db.execute(sql`UPDATE dag_step_runs SET started_at = started_at - interval '2 hours', due_at = due_at - interval '2 hours' WHERE run_id = ${late.id}`);
      const ended = (await app.inject({ method: 'POST', url: `/api/runs/${late.id}/resume` })).json();
      expect(ended.status).toBe('error');
      expect(await messages(late.id)).toEqual([
        { kind: 'step_failed', step_key: 'B', message: expect.stringMatching(/^deadline passed: no attestation came by /) },
        { kind: 'run_failed', step_key: null, message: ended.error.message },
      ]);

      const attested = (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: waits.id } })).json();
      const b = attested.step_runs[0];
      expect((await app.inject({ method: 'POST', url: `/api/runs/${attested.id}/steps/${b.id}/attest`, payload: { outcome: 'FAIL', attested_by: 'ana', artifacts: [] } })).statusCode).toBe(201);
      expect(await messages(attested.id)).toEqual([{ kind: 'run_failed', step_key: null, message: 'compute step B was attested FAIL' }]);

      // As the stream carries them: `error: { message }`, null on the other kinds.
      const replay = await app.inject({ method: 'GET', url: `/api/events?run=${failed.id}&last_event_id=0&follow=false` });
      const events = replay.body
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => JSON.parse(line.slice(6)) as { kind: string; error: unknown });
      expect(events.map((e) => [e.kind, e.error])).toEqual([
        ['run_started', null],
        ['step_started', null],
        ['step_failed', { message: failed.step_runs[0].error.message }],
        ['run_failed', { message: failed.error.message }],
      ]);
    } finally {
      await app.close();
    }
  }, 60_000);
});
