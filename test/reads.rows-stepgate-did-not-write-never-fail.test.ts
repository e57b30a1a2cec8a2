import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { storeManifest } from './support/runs.js';

/**
 * A database outlives the program that writes it: rows restored from a backup, written by a
 * script, by another version, or by hand. Their ids are UUIDs of any version (PostgreSQL's
 * uuid type takes any 128 bits), and columns stepgate always fills may be NULL where the schema
 * allows it. Every read answers them; none becomes a 5xx.
 */
const foreign = {
  run: '12345678-1234-0234-0234-123456789abc', // version 0, variant 0: not RFC 9562
  pending: '00000000-0000-0000-0000-000000000001',
  stepA: 'abcdefab-cdef-1bcd-cbcd-abcdefabcdef', // version 1, variant 3 (reserved)
  stepB: 'ffffffff-ffff-ffff-ffff-fffffffffffe',
  stray: '11111111-2222-f333-4444-555555555555', // version 15
  attestation: '99999999-9999-9999-9999-999999999999',
  artifact: '88888888-8888-0888-0888-888888888888',
  audit: '77777777-7777-0777-0777-777777777777',
  manifest: '66666666-6666-0666-0666-666666666666',
};

const manifest = {
  name: 'by-hand',
  steps: [
    { key: 'A', prompt: 'a' },
    { key: 'B', step_type: 'compute', depends_on: ['A'], compute_contract: { executor: 'x', inputs: [{ name: 'plan', from: 'steps.A.output' }], outputs: ['out'], verification: 'operator_attest' } },
  ],
};

describeEachDriver('reads of rows stepgate did not write', (ctx) => {
  it('answers runs, step runs, the inbox, plans, provenance, manifests and the audit log whatever their ids', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, manifest);
    const db = ctx.database.db;
    await db.execute(sql`
      INSERT INTO manifests (id, name, version, description, document, content_hash)
      VALUES (${foreign.manifest}, 'restored', 1, NULL, '{"name": "restored", "steps": []}', ${'c'.repeat(64)})`);
    // A waiting run whose ids are of no RFC version, a task step that succeeded, a compute step
    // waiting, and a stray step run whose key its manifest does not have (ended, attested FAIL).
    await db.execute(sql`
      INSERT INTO dag_runs (id, manifest_id, status, inputs, created_at, started_at)
      VALUES (${foreign.run}, ${manifestId}, 'waiting', 'null', now() - interval '1 hour', NULL),
             (${foreign.pending}, ${manifestId}, 'pending', '[1, "two"]', now(), NULL)`);
    await db.execute(sql`
      INSERT INTO dag_step_runs (id, run_id, manifest_step_id, step_key, status, attempt, started_at, ended_at, output)
      SELECT ${foreign.stepA}, ${foreign.run}, id, 'A', 'SUCCESS', 1, now() - interval '59 minutes', now() - interval '58 minutes', '"a plan"'
      FROM manifest_steps WHERE manifest_id = ${manifestId} AND key = 'A'`);
    await db.execute(sql`
      INSERT INTO dag_step_runs (id, run_id, manifest_step_id, step_key, status, attempt, started_at)
      SELECT ${foreign.stepB}, ${foreign.run}, id, 'B', 'WAITING_FOR_ATTESTATION', 1, now() - interval '58 minutes'
      FROM manifest_steps WHERE manifest_id = ${manifestId} AND key = 'B'`);
    await db.execute(sql`
      INSERT INTO dag_step_runs (id, run_id, manifest_step_id, step_key, status, attempt, started_at, ended_at, error)
      SELECT ${foreign.stray}, ${foreign.run}, id, 'Z', 'FAIL', 1, now() - interval '57 minutes', now() - interval '56 minutes', '"not an object"'
      FROM manifest_steps WHERE manifest_id = ${manifestId} AND key = 'B'`);
    await db.execute(sql`
      INSERT INTO compute_attestations (id, step_run_id, attested_by, outcome, notes, contract_snapshot)
      VALUES (${foreign.attestation}, ${foreign.stray}, 'someone', 'FAIL', NULL, '{"executor": "x", "inputs": [], "outputs": ["out"], "verification": "operator_attest"}')`);
    await db.execute(sql`
      INSERT INTO compute_artifacts (id, attestation_id, name, uri, sha256, bytes)
      VALUES (${foreign.artifact}, ${foreign.attestation}, 'out', 'file:///x', ${'d'.repeat(64)}, 9007199254740993)`);
    await db.execute(sql`
      INSERT INTO audit_events (id, actor, token_id, action, target, outcome, code, request_id, address)
      VALUES (${foreign.audit}, NULL, NULL, 'POST /api/runs', '/api/runs', 201, NULL, 'restored', NULL)`);

    const reads = [
      '/api/runs',
      '/api/runs?status=waiting',
      '/api/runs?status=pending',
      `/api/runs?manifest_id=${manifestId}`,
      `/api/runs?manifest_id=${foreign.manifest}`,
      `/api/runs/${foreign.run}`,
      `/api/runs/${foreign.pending}`,
      `/api/runs/${foreign.run}/steps/${foreign.stepA}`,
      `/api/runs/${foreign.run}/steps/${foreign.stepB}`,
      `/api/runs/${foreign.run}/steps/${foreign.stray}`,
      `/api/runs/${foreign.run}/plan`,
      `/api/runs/${foreign.pending}/plan`,
      `/api/runs/${foreign.run}/provenance`,
      `/api/runs/${foreign.run}/provenance?envelope=dsse`,
      `/api/runs/${foreign.run}/steps/${foreign.stray}/provenance`,
      '/api/attestations/pending',
      '/api/manifests',
      `/api/manifests/${foreign.manifest}`,
      '/api/audit',
    ];
    for (const url of reads) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
    }

    const list = (await app.inject({ method: 'GET', url: '/api/runs?limit=1' })).json();
    expect(list.items[0].id).toBe(foreign.pending);
    const next = (await app.inject({ method: 'GET', url: `/api/runs?limit=1&cursor=${list.next_cursor}` })).json();
    expect(next.items).toEqual([expect.objectContaining({ id: foreign.run, status: 'waiting', started_at: null, inputs: null, ready_to_resume: false })]);

    const run = (await app.inject({ method: 'GET', url: `/api/runs/${foreign.run}` })).json();
    expect(run.waiting_on).toEqual([{ step_run_id: foreign.stepB, step_key: 'B' }]);
    expect(run.step_runs.map((s: { id: string; step_type: string }) => [s.id, s.step_type])).toEqual([
      [foreign.stepA, 'task'],
      [foreign.stepB, 'compute'],
      [foreign.stray, 'compute'],
    ]);
    const stray = (await app.inject({ method: 'GET', url: `/api/runs/${foreign.run}/steps/${foreign.stray}` })).json();
    expect(stray).toMatchObject({ step_key: 'Z', step_type: 'compute', compute_contract: manifest.steps[1]!.compute_contract, attestation: { id: foreign.attestation, notes: null } });

    const inbox = (await app.inject({ method: 'GET', url: '/api/attestations/pending' })).json();
    expect(inbox.items).toEqual([expect.objectContaining({ step_run_id: foreign.stepB, run_id: foreign.run, inputs: [{ name: 'plan', from: 'steps.A.output', value: 'a plan' }] })]);
    const bundle = (await app.inject({ method: 'GET', url: `/api/runs/${foreign.run}/provenance` })).body.trim().split('\n');
    expect(bundle.map((line) => JSON.parse(line).predicate.step.step_run_id)).toEqual([foreign.stray]);
    const audit = (await app.inject({ method: 'GET', url: '/api/audit' })).json();
    expect(audit.items.map((e: { id: string }) => e.id)).toContain(foreign.audit);
  });
});
