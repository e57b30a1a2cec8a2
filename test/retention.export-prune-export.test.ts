import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import type { App } from '../src/http/app.js';
import { queryRows, type Database } from '../src/storage/database.js';
import { bearer, securedApp } from './support/access.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';

const manifest = {
  name: 'retained',
  steps: [
    { key: 'A', prompt: 'assumptions for {{inputs.region}}' },
    { key: 'B', step_type: 'compute', depends_on: ['A'], compute_contract: { executor: 'excel', inputs: [], outputs: ['out'], verification: 'operator_attest' } },
    { key: 'C', depends_on: ['B'], prompt: 'memo on {{steps.B.artifacts.out.uri}}' },
  ],
};
const artifacts = [{ name: 'out', uri: 'file:///data/out.csv', sha256: 'a'.repeat(64), bytes: 7 }];

interface ExportLine {
  kind: 'run';
  run: { id: string; status: string; step_runs: Array<{ id: string; step_key: string }> };
  evidence: Record<string, { prompts: unknown[]; llm_calls: unknown[]; parsed_outputs: unknown[] }>;
  events: Array<{ kind: string; run_id: string }>;
  provenance: Array<{ payloadType: string; signatures: unknown[] }>;
}

/** Rows of every table that holds a part of these runs' record. */
async function recordRows(database: Database, runIds: string[]) {
  const ids = `{${runIds.join(',')}}`;
  const [row] = await queryRows<Record<string, number>>(
    database.db,
    sql`SELECT
      (SELECT count(*) FROM dag_runs WHERE id = ANY(${ids}::uuid[]))::int AS runs,
      (SELECT count(*) FROM dag_step_runs WHERE run_id = ANY(${ids}::uuid[]))::int AS step_runs,
      (SELECT count(*) FROM prompt_artifacts p JOIN dag_step_runs s ON s.id = p.step_run_id WHERE s.run_id = ANY(${ids}::uuid[]))::int AS prompts,
      (SELECT count(*) FROM llm_call_artifacts c JOIN dag_step_runs s ON s.id = c.step_run_id WHERE s.run_id = ANY(${ids}::uuid[]))::int AS calls,
      (SELECT count(*) FROM compute_attestations a JOIN dag_step_runs s ON s.id = a.step_run_id WHERE s.run_id = ANY(${ids}::uuid[]))::int AS attestations,
      (SELECT count(*) FROM compute_artifacts x JOIN compute_attestations a ON a.id = x.attestation_id JOIN dag_step_runs s ON s.id = a.step_run_id WHERE s.run_id = ANY(${ids}::uuid[]))::int AS artifacts,
      (SELECT count(*) FROM run_events WHERE run_id = ANY(${ids}::uuid[]))::int AS events`,
  );
  return row!;
}

async function exportAll(app: App, admin: string, query = ''): Promise<ExportLine[]> {
  const response = await app.inject({ method: 'GET', url: `/api/runs/export${query}`, headers: bearer(admin) });
  expect(response.statusCode, response.body).toBe(200);
  expect(response.headers['content-type']).toMatch(/^application\/x-ndjson/);
  return response.body
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ExportLine);
}

describeEachDriver('retention: export, prune, export again', (ctx) => {
  it('removes exactly the final runs that ended before the date, with their whole record; the audit log keeps everything and records the prune', async () => {
    const { app, tokens } = await securedApp(ctx.database);
    const as = (token: string, method: 'GET' | 'POST', url: string, payload?: unknown) =>
      app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });
    const manifestId = (await as(tokens.author, 'POST', '/api/manifests', manifest)).json().id as string;
    const start = async () => (await as(tokens.author, 'POST', '/api/runs', { manifest_id: manifestId, inputs: { region: 'EMEA' } })).json();
    const attest = (run: { id: string; waiting_on: Array<{ step_run_id: string }> }, outcome: 'SUCCESS' | 'FAIL') =>
      as(tokens.operator, 'POST', `/api/runs/${run.id}/steps/${run.waiting_on[0]!.step_run_id}/attest`, { outcome, artifacts: outcome === 'SUCCESS' ? artifacts : [] });

    const succeeded = await start();
    await attest(succeeded, 'SUCCESS');
    expect((await as(tokens.operator, 'POST', `/api/runs/${succeeded.id}/resume`)).json().status).toBe('success');
    const failed = await start();
    expect((await attest(failed, 'FAIL')).json().status).toBe('error');
    const cancelled = await start();
    expect((await as(tokens.operator, 'POST', `/api/runs/${cancelled.id}/cancel`, {})).json().status).toBe('cancelled');
    const waiting = await start();
    const recent = await start();
    await attest(recent, 'SUCCESS');
    await as(tokens.operator, 'POST', `/api/runs/${recent.id}/resume`);
    // The first three ended long ago; the waiting run is as old, but not final; the last ended now.
    const old = [succeeded.id, failed.id, cancelled.id] as string[];
    await ctx.database.db.execute(sql`UPDATE dag_runs SET ended_at = '2020-01-01T00:00:00Z' WHERE id = ANY(${`{${old.join(',')}}`}::uuid[])`);
    await ctx.database.db.execute(sql`UPDATE dag_runs SET created_at = '2019-12-31T00:00:00Z' WHERE id = ${waiting.id}`);
    const cutoff = '2021-01-01T00:00:00Z';

    const before = await exportAll(app, tokens.admin);
    expect(before.map((line) => line.run.id).sort()).toEqual([succeeded.id, failed.id, cancelled.id, waiting.id, recent.id].sort());
    const doomed = await exportAll(app, tokens.admin, `?ended_before=${cutoff}`);
    expect(doomed.map((line) => line.run.id).sort()).toEqual([...old].sort());
    // Each line holds the run's whole record: its step runs, their task evidence, its events, its signed provenance.
    const full = before.find((line) => line.run.id === succeeded.id)!;
    expect(full.run.status).toBe('success');
    const taskSteps = full.run.step_runs.filter((s) => s.step_key !== 'B').map((s) => s.id);
    expect(Object.keys(full.evidence).sort()).toEqual(taskSteps.sort());
    expect(Object.values(full.evidence).every((e) => e.prompts.length === 1 && e.llm_calls.length === 1 && e.parsed_outputs.length === 1)).toBe(true);
    expect(full.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['run_started', 'step_waiting', 'step_attested', 'run_resumed', 'run_succeeded']));
    expect(full.events.every((e) => e.run_id === succeeded.id)).toBe(true);
    expect(full.provenance).toEqual([expect.objectContaining({ payloadType: 'application/vnd.in-toto+json', signatures: [expect.anything()] })]);
    expect(before.find((line) => line.run.id === failed.id)!.provenance.length).toBe(1);
    expect(before.find((line) => line.run.id === waiting.id)!.provenance).toEqual([]);
    expect((await exportAll(app, tokens.admin, '?status=waiting,cancelled')).map((l) => l.run.id).sort()).toEqual([waiting.id, cancelled.id].sort());

    // Refused: a status that is not final, a role below admin, a malformed date. Nothing is removed.
    const notFinal = expectProblem(await as(tokens.admin, 'POST', '/api/runs/prune', { ended_before: cutoff, status: ['success', 'waiting'] }), 422, 'REQUEST_INVALID');
    expect(notFinal.errors).toEqual([{ path: 'status', message: expect.stringContaining('waiting is not final') }]);
    expectProblem(await as(tokens.operator, 'POST', '/api/runs/prune', { ended_before: cutoff }), 403, 'ROLE_TOO_LOW');
    expectProblem(await as(tokens.operator, 'GET', '/api/runs/export'), 403, 'ROLE_TOO_LOW');
    expectProblem(await as(tokens.admin, 'POST', '/api/runs/prune', { ended_before: 'last year' }), 422, 'REQUEST_INVALID');
    expectProblem(await as(tokens.admin, 'POST', '/api/runs/prune', {}), 422, 'REQUEST_INVALID');
    const dry = (await as(tokens.admin, 'POST', '/api/runs/prune', { ended_before: cutoff, dry_run: true })).json();
    expect(dry).toEqual({ removed: 3, dry_run: true, ended_before: '2021-01-01T00:00:00.000Z', status: ['success', 'error', 'cancelled'] });
    expect(await recordRows(ctx.database, old)).toMatchObject({ runs: 3 });

    const auditBefore = (await queryRows<{ id: string }>(ctx.database.db, sql`SELECT id FROM audit_events ORDER BY at, id`)).map((r) => r.id);
    const pruned = await as(tokens.admin, 'POST', '/api/runs/prune', { ended_before: cutoff });
    expect(pruned.statusCode, pruned.body).toBe(200);
    expect(pruned.json()).toMatchObject({ removed: 3, dry_run: false });

    // What was pruned is gone, every part of it; nothing else changed.
    expect(await recordRows(ctx.database, old)).toEqual({ runs: 0, step_runs: 0, prompts: 0, calls: 0, attestations: 0, artifacts: 0, events: 0 });
    const after = await exportAll(app, tokens.admin);
    expect(after).toEqual(before.filter((line) => !old.includes(line.run.id)));
    for (const id of old) expectProblem(await as(tokens.viewer, 'GET', `/api/runs/${id}`), 404, 'RUN_NOT_FOUND');

    // The audit log lost nothing, and records the prune: who, when, which runs, how many.
    const auditAfter = (await queryRows<{ id: string }>(ctx.database.db, sql`SELECT id FROM audit_events ORDER BY at, id`)).map((r) => r.id);
    expect(auditAfter.slice(0, auditBefore.length)).toEqual(auditBefore);
    const log = (await as(tokens.admin, 'GET', '/api/audit?action=POST%20/api/runs/prune&outcome=200')).json().items as Array<{ actor: string; target: string }>;
    expect(log.map((e) => [e.actor, e.target])).toEqual([
      ['admin', '/api/runs?ended_before=2021-01-01T00:00:00.000Z&status=success,error,cancelled&removed=3'],
      ['admin', '/api/runs/prune'], // the dry run
    ]);
    expect((await as(tokens.admin, 'GET', '/api/audit?action=POST%20/api/runs/prune&count=true')).json().total).toBe(6);

    // Again: nothing left to remove.
    expect((await as(tokens.admin, 'POST', '/api/runs/prune', { ended_before: cutoff })).json().removed).toBe(0);
    await app.close();
  });
});
