import { expect, it } from 'vitest';
import type { App } from '../src/http/app.js';
import { describeEachDriver } from './support/databases.js';
import { testApp } from './support/app.js';
import { expectProblem } from './support/http.js';
import { paeBytes, sha256, signatureVerifies, statementErrors, type Envelope } from './support/provenance.js';
import { attest, resume, startRun, stepOf, storeManifest } from './support/runs.js';

const contract = (outputs: string[]) => ({
  executor: 'excel',
  inputs: [{ name: 'assumptions', from: 'steps.A.output' }, 'region', 'missing'],
  outputs,
  verification: 'operator_attest',
});
const manifest = {
  name: 'provenance-demo',
  steps: [
    { key: 'A', prompt: 'List the assumptions for {{inputs.region}}.' },
    { key: 'B', step_type: 'compute', depends_on: ['A'], compute_contract: contract(['forecast_csv', 'workbook']) },
    { key: 'D', step_type: 'compute', depends_on: ['A'], compute_contract: contract([]) },
    { key: 'C', depends_on: ['B', 'D'], prompt: 'Memo on {{steps.B.artifacts.forecast_csv.uri}}.' },
  ],
};
const artifacts = [
  { name: 'forecast_csv', uri: 'file:///data/q3/forecast.csv', sha256: sha256('quarter,revenue\n'), bytes: 16 },
  { name: 'workbook', uri: 's3://models/q3.xlsx', sha256: 'b'.repeat(64), bytes: 4096 },
];

async function attestedRun(app: App) {
  const run = await startRun(app, await storeManifest(app, manifest), { region: 'EMEA' });
  const b = stepOf(run, 'B')!;
  const d = stepOf(run, 'D')!;
  expect((await attest(app, run.id, b.id, { outcome: 'SUCCESS', attested_by: 'ana', notes: 'Q3 workbook', artifacts })).statusCode).toBe(201);
  expect((await attest(app, run.id, d.id, { outcome: 'SUCCESS', attested_by: 'bo' })).statusCode).toBe(201);
  return { run, b, d };
}

const get = async (app: App, url: string) => app.inject({ method: 'GET', url });

describeEachDriver('provenance: every attestation as a signed in-toto statement', (ctx) => {
  it('answers an in-toto Statement v1 whose subjects are the attested artifacts and whose predicate follows the published schema', async () => {
    const app = await testApp(ctx.database);
    const { run, b } = await attestedRun(app);
    const response = await get(app, `/api/runs/${run.id}/steps/${b.id}/provenance`);
    expect(response.statusCode, response.body).toBe(200);
    const statement = response.json();
    expect(statementErrors(statement)).toEqual([]);
    expect(statement._type).toBe('https://in-toto.io/Statement/v1');
    expect(statement.predicateType).toBe('https://stepgate.dev/attestation/v1');
    expect(statement.subject).toEqual(artifacts.map((a) => ({ name: a.name, digest: { sha256: a.sha256 } })));

    const manifestRow = (await get(app, `/api/manifests/${run.manifest_id}`)).json();
    const a = stepOf(run, 'A')!;
    expect(statement.predicate).toEqual({
      attestation_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      run: { id: run.id, inputs_digest: { sha256: sha256('{"region":"EMEA"}') } },
      step: { key: 'B', step_run_id: b.id, attempt: 1 },
      manifest: { id: run.manifest_id, name: 'provenance-demo', version: 1, content_hash: manifestRow.content_hash },
      contract: contract(['forecast_csv', 'workbook']),
      inputs: [
        { name: 'assumptions', from: 'steps.A.output', digest: { sha256: sha256(JSON.stringify(a.output)) } },
        { name: 'region', from: null, digest: { sha256: sha256('"EMEA"') } },
        { name: 'missing', from: null, digest: null },
      ],
      outcome: 'SUCCESS',
      notes: 'Q3 workbook',
      attester: { name: 'ana', token: null, verified: false },
      attested_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      artifacts: [
        { ...artifacts[0], sha256: undefined, digest: { sha256: artifacts[0]!.sha256 }, verified: false, verification: 'no_artifact_roots' },
        { ...artifacts[1], sha256: undefined, digest: { sha256: artifacts[1]!.sha256 }, verified: false, verification: 'scheme_not_verified' },
      ].map(({ sha256: _, ...rest }) => rest),
    });
    const shown = (await get(app, `/api/runs/${run.id}/steps/${b.id}`)).json();
    expect(statement.predicate.attestation_id).toBe(shown.attestation.id);
    expect(statement.predicate.attested_at).toBe(shown.attestation.attested_at);
  });

  it('gives an attestation without artifacts one subject: the sha256 of its predicate as canonical JSON', async () => {
    const app = await testApp(ctx.database);
    const { run, d } = await attestedRun(app);
    const statement = (await get(app, `/api/runs/${run.id}/steps/${d.id}/provenance`)).json();
    expect(statementErrors(statement)).toEqual([]);
    expect(statement.predicate.artifacts).toEqual([]);
    expect(statement.subject).toHaveLength(1);
    expect(statement.subject[0].name).toBe(`stepgate-attestation:${statement.predicate.attestation_id}`);
    // Canonical JSON (RFC 8785) of this predicate: its keys sorted at every level, no spaces.
    const canonical = (value: unknown): string =>
      value === null || typeof value !== 'object'
        ? JSON.stringify(value)
        : Array.isArray(value)
          ? `[${value.map(canonical).join(',')}]`
          : `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
    expect(statement.subject[0].digest.sha256).toBe(sha256(canonical(statement.predicate)));
  });

  it('signs with ?envelope=dsse: the Ed25519 signature verifies on the PAE bytes with the published key, and fails once any payload byte changes', async () => {
    const app = await testApp(ctx.database);
    const { run, b } = await attestedRun(app);
    const envelope = (await get(app, `/api/runs/${run.id}/steps/${b.id}/provenance?envelope=dsse`)).json() as Envelope;
    expect(envelope.payloadType).toBe('application/vnd.in-toto+json');
    const statement = (await get(app, `/api/runs/${run.id}/steps/${b.id}/provenance`)).json();
    expect(JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'))).toEqual(statement);

    const { keys } = (await get(app, '/api/keys')).json() as { keys: Array<{ keyid: string; public_key: string; active: boolean }> };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ keyid: envelope.signatures[0]!.keyid, active: true });
    expect(signatureVerifies(envelope, keys[0]!.public_key)).toBe(true);

    const payload = Buffer.from(envelope.payload, 'base64');
    for (let i = 0; i < payload.length; i++) {
      const changed = Buffer.from(payload);
      changed[i] = changed[i]! ^ 0x01;
      if (signatureVerifies(envelope, keys[0]!.public_key, changed)) throw new Error(`the signature still verifies after byte ${i} changed`);
    }
    expect(signatureVerifies({ ...envelope, payloadType: 'application/json' }, keys[0]!.public_key)).toBe(false);
    expect(paeBytes('t', Buffer.from('xy')).toString()).toBe('DSSEv1 1 t 2 xy');
  });

  it('keeps statements signed before a key rotation verifiable with the retired key, listed at /api/keys', async () => {
    const app = await testApp(ctx.database);
    const { run, b } = await attestedRun(app);
    const before = (await get(app, `/api/runs/${run.id}/steps/${b.id}/provenance?envelope=dsse`)).json() as Envelope;
    // A body the API does not read is refused, and rotates nothing (found by the fuzz suite).
    const plain = await app.inject({ method: 'POST', url: '/api/keys/rotate', headers: { 'content-type': 'text/plain' }, payload: 'name: x' });
    expect(plain.statusCode, plain.body).toBe(415);
    expect((await get(app, '/api/keys')).json().keys).toHaveLength(1);
    const rotated = await app.inject({ method: 'POST', url: '/api/keys/rotate' });
    expect(rotated.statusCode, rotated.body).toBe(201);
    const { active, retired } = rotated.json();
    expect(retired.map((k: { keyid: string }) => k.keyid)).toEqual([before.signatures[0]!.keyid]);
    const after = (await get(app, `/api/runs/${run.id}/steps/${b.id}/provenance?envelope=dsse`)).json() as Envelope;
    expect(after.signatures[0]!.keyid).toBe(active.keyid);
    expect(after.signatures[0]!.keyid).not.toBe(before.signatures[0]!.keyid);

    const { keys } = (await get(app, '/api/keys')).json() as { keys: Array<{ keyid: string; public_key: string; active: boolean; retired_at: string | null }> };
    expect(keys.map((k) => [k.keyid, k.active])).toEqual([
      [active.keyid, true],
      [before.signatures[0]!.keyid, false],
    ]);
    expect(keys[1]!.retired_at).not.toBeNull();
    const keyOf = (envelope: Envelope) => keys.find((k) => k.keyid === envelope.signatures[0]!.keyid)!.public_key;
    expect(signatureVerifies(before, keyOf(before))).toBe(true);
    expect(signatureVerifies(after, keyOf(after))).toBe(true);
    expect(signatureVerifies(before, keyOf(after))).toBe(false);
  });

  it('keeps one active key when processes create or rotate it at the same time', async () => {
    const app = await testApp(ctx.database);
    const lists = await Promise.all(Array.from({ length: 4 }, () => get(app, '/api/keys')));
    expect(new Set(lists.map((r) => r.json().keys.map((k: { keyid: string }) => k.keyid).join()))).toHaveProperty('size', 1);
    const rotations = await Promise.all(Array.from({ length: 3 }, () => app.inject({ method: 'POST', url: '/api/keys/rotate' })));
    expect(rotations.map((r) => r.statusCode)).toEqual([201, 201, 201]);
    const { keys } = (await get(app, '/api/keys')).json();
    expect(keys).toHaveLength(4);
    expect(keys.filter((k: { active: boolean }) => k.active)).toHaveLength(1);
  });

  it('bundles every attestation of the run as JSON Lines, signed with ?envelope=dsse', async () => {
    const app = await testApp(ctx.database);
    const { run, b, d } = await attestedRun(app);
    expect((await resume(app, run.id)).json().status).toBe('success');
    const plain = await get(app, `/api/runs/${run.id}/provenance`);
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toMatch(/^application\/jsonl/);
    const statements = plain.body.trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(statements.map((s) => s.predicate.step.step_run_id)).toEqual([b.id, d.id]);
    for (const statement of statements) expect(statementErrors(statement)).toEqual([]);

    const signed = (await get(app, `/api/runs/${run.id}/provenance?envelope=dsse`)).body.trimEnd().split('\n').map((line) => JSON.parse(line) as Envelope);
    const { keys } = (await get(app, '/api/keys')).json();
    expect(signed).toHaveLength(2);
    signed.forEach((envelope, i) => {
      expect(signatureVerifies(envelope, keys[0].public_key)).toBe(true);
      expect(JSON.parse(Buffer.from(envelope.payload, 'base64').toString())).toEqual(statements[i]);
    });
  });

  it('answers 404 problems for a step run without attestation, a task step, an unknown run or step run, and 422 for an unknown envelope', async () => {
    const app = await testApp(ctx.database);
    const run = await startRun(app, await storeManifest(app, manifest), { region: 'EMEA' });
    const waiting = expectProblem(await get(app, `/api/runs/${run.id}/steps/${stepOf(run, 'B')!.id}/provenance`), 404, 'NOT_ATTESTED');
    expect(waiting.detail).toMatch(/WAITING_FOR_ATTESTATION and has no attestation yet/);
    expect(expectProblem(await get(app, `/api/runs/${run.id}/steps/${stepOf(run, 'A')!.id}/provenance`), 404, 'NOT_ATTESTED').detail).toMatch(/task step/);
    expectProblem(await get(app, `/api/runs/${crypto.randomUUID()}/steps/${stepOf(run, 'B')!.id}/provenance`), 404, 'RUN_NOT_FOUND');
    expectProblem(await get(app, `/api/runs/${run.id}/steps/${crypto.randomUUID()}/provenance`), 404, 'STEP_RUN_NOT_FOUND');
    expectProblem(await get(app, `/api/runs/not-a-uuid/provenance`), 404, 'RUN_NOT_FOUND');
    expectProblem(await get(app, `/api/runs/${run.id}/steps/${stepOf(run, 'B')!.id}/provenance?envelope=jws`), 422);
    const empty = await get(app, `/api/runs/${run.id}/provenance`);
    expect([empty.statusCode, empty.body]).toEqual([200, '']);
  });
});
