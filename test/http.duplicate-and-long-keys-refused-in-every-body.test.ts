import { expect, it } from 'vitest';
import type { App } from '../src/http/app.js';
import { bearer, securedApp } from './support/access.js';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { operationsOf } from './support/fuzz.js';
import { expectProblem, postManifest } from './support/http.js';
import { DIGEST, snapshot, startRun, stepOf, storeManifest } from './support/runs.js';

/**
 * SPEC §11 "duplicate keys" is about every JSON body: JSON.parse keeps the last of two equal
 * keys, so `outcome` twice would be read as whichever came last. Object keys are held to
 * STEPGATE_MAX_STRING_LENGTH as strings are.
 */
const contract = { executor: 'lab', inputs: [], outputs: ['out'], verification: 'operator_attest' };
const waitingManifest = { name: 'waits', steps: [{ key: 'B', step_type: 'compute', compute_contract: contract }] };

const post = (app: App, url: string, raw: string, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: raw });

describeEachDriver('duplicate and over-long keys in request bodies', (ctx) => {
  it('refuses an attestation with `outcome` twice (422 naming the key), stores nothing, and accepts the same body with it once', async () => {
    const app = await testApp(ctx.database);
    const run = await startRun(app, await storeManifest(app, waitingManifest));
    const url = `/api/runs/${run.id}/steps/${stepOf(run, 'B')!.id}/attest`;
    const artifacts = JSON.stringify([{ name: 'out', uri: 's3://bucket/out', sha256: DIGEST, bytes: 1 }]);
    const before = await snapshot(ctx.database);
    for (const raw of [
      `{"outcome": "FAIL", "attested_by": "ana", "artifacts": ${artifacts}, "outcome": "SUCCESS"}`,
      // The same key spelled with an escape is the same key.
      `{"outcome": "FAIL", "attested_by": "ana", "artifacts": ${artifacts}, "\\u006futcome": "SUCCESS"}`,
    ]) {
      const refused = expectProblem(await post(app, url, raw), 422, 'REQUEST_INVALID');
      expect(refused.errors).toEqual([{ path: 'outcome', message: 'the key "outcome" appears more than once in one object: send each key once' }]);
      expect(refused.detail).toContain('outcome');
    }
    expect(await snapshot(ctx.database)).toEqual(before);
    const attested = await post(app, url, `{"outcome": "SUCCESS", "attested_by": "ana", "artifacts": ${artifacts}}`);
    expect(attested.statusCode, attested.body).toBe(201);
    expect(attested.json().step_runs[0].status).toBe('SUCCESS');
  });

  it('names where a nested duplicate is, and lets equal keys live in different objects', async () => {
    const app = await testApp(ctx.database);
    const id = await storeManifest(app, { name: 'inputs', steps: [{ key: 'A', prompt: 'about {{inputs.topic}}' }] });
    const cases: Array<[string, string]> = [
      [`{"manifest_id": "${id}", "inputs": {"topic": "a", "topic": "b"}}`, 'inputs.topic'],
      [`{"manifest_id": "${id}", "inputs": {"topic": "a", "list": [1, {"x": 1}, {"y": [], "y": {}}]}}`, 'inputs.list[2].y'],
      [`{"manifest_id": "${id}", "inputs": {"topic": "a", "deep": {"a": {"b": {"c": 1, "c": 1}}}}}`, 'inputs.deep.a.b.c'],
      [`{"manifest_id": "${id}", "manifest_id": "${id}", "inputs": {"topic": "a"}}`, 'manifest_id'],
    ];
    for (const [raw, path] of cases) {
      const refused = expectProblem(await post(app, '/api/runs', raw), 422, 'REQUEST_INVALID');
      expect(refused.errors?.map((e) => e.path), raw).toEqual([path]);
    }
    expect((await snapshot(ctx.database)).run_statuses).toBeNull();
    // The same key in sibling objects, in an array, and inside strings is no duplicate.
    const fine = await post(app, '/api/runs', `{"manifest_id": "${id}", "inputs": {"topic": "{\\"topic\\": 1, \\"topic\\": 2}", "a": {"topic": 1}, "b": [{"topic": 1}, {"topic": 2}]}}`);
    expect(fine.statusCode, fine.body).toBe(201);
  });

  it('refuses a duplicate key in the JSON body of every operation that takes one (manifests: 400 with its line, as YAML)', async () => {
    const { app, tokens } = await securedApp(ctx.database);
    await app.ready();
    const ops = operationsOf(app.swagger() as Parameters<typeof operationsOf>[0]).filter((op) => op.consumes.includes('application/json'));
    expect(ops.map((op) => `${op.method} ${op.path}`)).toEqual(
      expect.arrayContaining(['POST /api/manifests', 'POST /api/runs', 'POST /api/runs/{run_id}/steps/{step_run_id}/attest', 'POST /api/tokens', 'POST /api/runs/{run_id}/cancel']),
    );
    const id = '00000000-0000-4000-8000-000000000000';
    for (const op of ops) {
      const url = op.path.replace(/\{\w+\}/g, id);
      const response = await app.inject({ method: op.method, url, headers: { 'content-type': 'application/json', ...bearer(tokens.admin) }, payload: '{"dup": 1, "dup": 2}' });
      if (op.consumes.some((type) => type.includes('yaml'))) {
        expect(expectProblem(response, 400, 'MALFORMED_BODY').detail, `${op.method} ${op.path}`).toContain('"dup" appears twice');
      } else {
        expect(expectProblem(response, 422, 'REQUEST_INVALID').errors, `${op.method} ${op.path}`).toEqual([{ path: 'dup', message: expect.stringContaining('"dup"') }]);
      }
    }
    await app.close();
  });

  it('holds object keys to STEPGATE_MAX_STRING_LENGTH as strings are: exactly the limit accepted, one more refused without echoing the key whole', async () => {
    const app = await testApp(ctx.database, { limits: { maxSteps: 1000, maxStringLength: 500, maxDepth: 64 } });
    const id = await storeManifest(app, { name: 'keys', steps: [{ key: 'A', prompt: 'about {{inputs.topic}}' }] });
    const at = 'k'.repeat(500);
    const over = 'k'.repeat(501);
    const shown = `${'k'.repeat(40)}…(501 characters)`;
    const message = 'key: expected at most 500 characters (STEPGATE_MAX_STRING_LENGTH), found 501';

    expect((await startRun(app, id, { topic: 't', nested: { [at]: 1 } })).status).toBe('success');
    const refused = await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: id, inputs: { topic: 't', nested: { [over]: 1 } } } });
    expect(expectProblem(refused, 422, 'REQUEST_INVALID').errors).toEqual([{ path: `inputs.nested.${shown}`, message }]);
    expect(refused.body.length).toBeLessThan(1000);

    // Manifests, JSON and YAML.
    const manifest = (key: string) => ({ name: 'long-key', steps: [{ key: 'A', prompt: 'p', params: { [key]: 1 } }] });
    expect((await postManifest(app, manifest(at))).statusCode).toBe(201);
    expect(expectProblem(await postManifest(app, manifest(over)), 422, 'MANIFEST_INVALID').errors).toEqual([{ path: `steps[0].params.${shown}`, message }]);
    const yaml = `name: long-key-yaml\nsteps:\n  - key: A\n    prompt: p\n    params:\n      ${over}: 1\n`;
    expect(expectProblem(await postManifest(app, yaml, 'application/yaml'), 422, 'MANIFEST_INVALID').errors).toEqual([{ path: `steps[0].params.${shown}`, message }]);

    // Query strings.
    expect(expectProblem(await app.inject({ method: 'GET', url: `/api/runs?${over}=1` }), 422, 'REQUEST_INVALID').errors).toEqual([{ path: shown, message }]);
    expect((await snapshot(ctx.database)).run_statuses).toBe('success');
  });
});
