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
