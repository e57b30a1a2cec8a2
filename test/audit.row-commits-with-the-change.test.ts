import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { armFault } from '../src/engine/faults.js';
import { queryRows } from '../src/storage/database.js';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';
import { attest, DIGEST, resume, snapshot, startRun, stepOf, storeManifest } from './support/runs.js';

const manifest = {
  name: 'audited-in-place',
  steps: [
    { key: 'A', step_type: 'task', prompt: 'draft', model: 'offline:echo' },
    { key: 'B', step_type: 'compute', depends_on: ['A'], compute_contract: { executor: 'excel', inputs: [], outputs: ['out'], verification: 'operator_attest' } },
    { key: 'C', step_type: 'task', depends_on: ['B'], prompt: 'final', model: 'offline:echo' },
  ],
};
const artifacts = [{ name: 'out', uri: 'file:///out.xlsx', sha256: DIGEST, bytes: 1 }];

interface AuditRow {
  request_id: string;
  action: string;
  target: string;
  outcome: number;
  code: string | null;
  tx: string;
}

describeEachDriver('the audit row of a change', (ctx) => {
  /** Every audit row, oldest first, with the id of the transaction that inserted it. */
  const auditRows = () => queryRows<AuditRow>(ctx.database.db, sql`SELECT request_id, action, target, outcome, code, xmin::text AS tx FROM audit_events ORDER BY at, id`);
  /** The transaction that last wrote the run's row, and the one that inserted the attestation. */
  const runTx = async (runId: string) => (await queryRows<{ tx: string }>(ctx.database.db, sql`SELECT xmin::text AS tx FROM dag_runs WHERE id = ${runId}`))[0]!.tx;
  const attestationTx = async (stepRunId: string) =>
    (await queryRows<{ tx: string }>(ctx.database.db, sql`SELECT xmin::text AS tx FROM compute_attestations WHERE step_run_id = ${stepRunId}`))[0]!.tx;
  const rowOf = (rows: AuditRow[], requestId: unknown) => rows.filter((r) => r.request_id === requestId);

  it('commits in the transaction that makes the change: a run started, an attestation, a resume, a cancel', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, manifest);

    const started = await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: manifestId } });
    expect(started.statusCode, started.body).toBe(201);
    const run = started.json();
    expect(run.status).toBe('waiting');
    const waitTx = await runTx(run.id);

    const stepRunId = stepOf(run, 'B')!.id;
    const attested = await attest(app, run.id, stepRunId, { outcome: 'SUCCESS', attested_by: 'ops', artifacts });
    expect(attested.statusCode, attested.body).toBe(201);

    const resumed = await resume(app, run.id);
    expect(resumed.statusCode, resumed.body).toBe(200);
    expect(resumed.json().status).toBe('success');
    const successTx = await runTx(run.id);

    const other = await startRun(app, manifestId);
    const cancelled = await app.inject({ method: 'POST', url: `/api/runs/${other.id}/cancel`, payload: { reason: 'not needed' } });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    const cancelTx = await runTx(other.id);

    const rows = await auditRows();
    const [create] = rowOf(rows, started.headers['x-request-id']);
    const [attestRow] = rowOf(rows, attested.headers['x-request-id']);
    const [resumeRow] = rowOf(rows, resumed.headers['x-request-id']);
    const [cancelRow] = rowOf(rows, cancelled.headers['x-request-id']);
    // Each row as it always read: what was asked, of what, and what was answered.
    expect(create).toMatchObject({ action: 'POST /api/runs', target: `/api/runs/${run.id}`, outcome: 201, code: null });
    expect(attestRow).toMatchObject({ action: 'POST /api/runs/:run_id/steps/:step_run_id/attest', target: `/api/runs/${run.id}/steps/${stepRunId}/attest`, outcome: 201 });
    expect(resumeRow).toMatchObject({ action: 'POST /api/runs/:run_id/resume', target: `/api/runs/${run.id}/resume`, outcome: 200 });
    expect(cancelRow).toMatchObject({ action: 'POST /api/runs/:run_id/cancel', target: `/api/runs/${other.id}/cancel`, outcome: 200 });
    // ... inserted by the very transaction that made the change: the release that parked the
    // run, the attestation's, the release that ended it, the cancel's.
    expect(create!.tx).toBe(waitTx);
    expect(attestRow!.tx).toBe(await attestationTx(stepRunId));
    expect(resumeRow!.tx).toBe(successTx);
    expect(cancelRow!.tx).toBe(cancelTx);
    // One row per request, no more.
    expect(rows.filter((r) => r.action !== 'POST /api/manifests')).toHaveLength(5); // the second run's start too
    await app.close();
  });

  it('records a refusal on its own, and changes nothing', async () => {
    const app = await testApp(ctx.database);
    const run = await startRun(app, await storeManifest(app, manifest));
    const stepRunId = stepOf(run, 'B')!.id;
    expect((await attest(app, run.id, stepRunId, { outcome: 'SUCCESS', attested_by: 'ops', artifacts })).statusCode).toBe(201);
    const before = await snapshot(ctx.database);
    const again = await attest(app, run.id, stepRunId, { outcome: 'FAIL', attested_by: 'ops', artifacts });
    expectProblem(again, 409);
    expect(await snapshot(ctx.database)).toEqual(before);
    const [refused] = rowOf(await auditRows(), again.headers['x-request-id']);
    expect(refused).toMatchObject({ outcome: 409, code: 'ALREADY_ATTESTED' });
    expect(refused!.tx).not.toBe(await attestationTx(stepRunId));
    await app.close();
  });

  it('records the answer too when it is not the one committed with the change (a failure after the commit)', async () => {
    const app = await testApp(ctx.database, { faults: armFault('afterAttest', { kind: 'failure' }) });
    const run = await startRun(app, await storeManifest(app, manifest));
    const stepRunId = stepOf(run, 'B')!.id;
    const attested = await attest(app, run.id, stepRunId, { outcome: 'SUCCESS', attested_by: 'ops', artifacts });
    expectProblem(attested, 500);
    const rows = rowOf(await auditRows(), attested.headers['x-request-id']);
    // The attestation was made (its row says so, in its transaction); the client was told 500.
    expect(rows.map((r) => r.outcome)).toEqual([201, 500]);
    expect(rows[0]!.tx).toBe(await attestationTx(stepRunId));
    await app.close();
  });

  it('makes no change whose row cannot be written', async () => {
    const app = await testApp(ctx.database);
    const run = await startRun(app, await storeManifest(app, manifest));
    // The database refuses every audit row of a cancel from now on.
    await ctx.database.db.execute(sql.raw(`
      CREATE FUNCTION refuse_cancel_rows() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.action LIKE '%/cancel' THEN RAISE EXCEPTION 'no audit row for a cancel'; END IF;
        RETURN NEW;
      END $$`));
    await ctx.database.db.execute(sql.raw(`CREATE TRIGGER refuse_cancel_rows BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_cancel_rows()`));
    const before = await snapshot(ctx.database);
    const cancelled = await app.inject({ method: 'POST', url: `/api/runs/${run.id}/cancel` });
    expectProblem(cancelled, 500);
    // The cancel went with its row: the run still waits, its wait still open.
    expect(await snapshot(ctx.database)).toEqual(before);
    const shown = await app.inject({ method: 'GET', url: `/api/runs/${run.id}` });
    expect(shown.json().status).toBe('waiting');
    await app.close();
  });
});
