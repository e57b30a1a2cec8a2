import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { queryRows, type Database } from '../src/storage/database.js';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem, postManifest } from './support/http.js';
import { attest, DIGEST, startRun, stepOf, storeManifest } from './support/runs.js';

/** Each limit exactly at its value (accepted) and one past it (refused, naming the limit, storing nothing). */

const chain = (name: string, n: number) => ({
  name,
  steps: Array.from({ length: n }, (_, i) => ({ key: `s${i}`, prompt: i === 0 ? 'start' : `after {{steps.s${i - 1}.output}}`, depends_on: i === 0 ? [] : [`s${i - 1}`] })),
});

async function count(database: Database, table: 'manifests' | 'manifest_steps' | 'dag_runs' | 'compute_attestations') {
  const [row] = await queryRows<{ n: number }>(database.db, sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)}`);
  return row!.n;
}

/** `levels` objects nested inside one another. */
const nested = (levels: number): unknown => (levels === 0 ? 1 : { a: nested(levels - 1) });

describeEachDriver('limits at the edge', (ctx) => {
  it('stores a manifest of exactly 1,000 steps (the default STEPGATE_MAX_STEPS) and refuses 1,001 before any other check', async () => {
    const app = await testApp(ctx.database);
    expect((await postManifest(app, chain('at-limit', 1000))).statusCode).toBe(201);
    expect(await count(ctx.database, 'manifest_steps')).toBe(1000);
    const over = chain('over-limit', 1001);
    over.steps[5]!.depends_on = ['s900']; // a cycle, which is not even looked at
    const problem = expectProblem(await postManifest(app, over), 422, 'MANIFEST_INVALID');
    expect(problem.errors).toEqual([{ path: 'steps', message: 'expected at most 1000 steps (STEPGATE_MAX_STEPS), found 1001' }]);
    expect(await count(ctx.database, 'manifests')).toBe(1);
  });

  it('stores 7,000 steps as one parameter, past the 65,535 bind parameters one per column would need', async () => {
    const app = await testApp(ctx.database, { limits: { maxSteps: 7000, maxStringLength: 100_000, maxDepth: 64 } });
    const response = await postManifest(app, chain('seven-thousand', 7000));
    expect(response.statusCode, response.body.slice(0, 300)).toBe(201);
    expect(await count(ctx.database, 'manifest_steps')).toBe(7000);
    const [last] = await queryRows<{ key: string; depends_on: string[]; position: number }>(ctx.database.db, sql`SELECT key, depends_on, position FROM manifest_steps WHERE key = 's6999'`);
    expect(last).toEqual({ key: 's6999', depends_on: ['s6998'], position: 6999 });
  });

  it('accepts a string of exactly STEPGATE_MAX_STRING_LENGTH characters and refuses one more, in manifests and in inputs', async () => {
    const app = await testApp(ctx.database, { limits: { maxSteps: 1000, maxStringLength: 500, maxDepth: 64 } });
    const id = await storeManifest(app, { name: 'strings', description: 'd'.repeat(500), steps: [{ key: 'A', prompt: 'about {{inputs.topic}}' }] });
    const longer = expectProblem(await postManifest(app, { name: 'strings-2', description: 'd'.repeat(501), steps: [{ key: 'A', prompt: 'p' }] }), 422);
    expect(longer.errors).toEqual([{ path: 'description', message: 'expected at most 500 characters (STEPGATE_MAX_STRING_LENGTH), found 501' }]);
    expect((await startRun(app, id, { topic: 't'.repeat(500) })).status).toBe('success');
    const refused = expectProblem(await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: id, inputs: { topic: 't'.repeat(501) } } }), 422, 'REQUEST_INVALID');
    expect(refused.errors).toEqual([{ path: 'inputs.topic', message: 'expected at most 500 characters (STEPGATE_MAX_STRING_LENGTH), found 501' }]);
    expect(await count(ctx.database, 'manifests')).toBe(1);
    expect(await count(ctx.database, 'dag_runs')).toBe(1);
  });

  it('accepts a body nested exactly STEPGATE_MAX_DEPTH levels deep and refuses one level more', async () => {
    const app = await testApp(ctx.database, { limits: { maxSteps: 1000, maxStringLength: 100_000, maxDepth: 8 } });
    const id = await storeManifest(app, { name: 'deep', steps: [{ key: 'A', prompt: 'p' }] });
    // The body is level 1 and `inputs` level 2: 6 more objects reach the limit of 8.
    expect((await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: id, inputs: { x: nested(6) } } })).statusCode).toBe(201);
    const refused = expectProblem(await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: id, inputs: { x: nested(7) } } }), 422);
    expect(refused.errors).toEqual([{ path: 'inputs.x.a.a.a.a.a.a', message: 'nested deeper than the limit of 8 levels (STEPGATE_MAX_DEPTH)' }]);
    const yaml = `name: deep-yaml\nsteps:\n  - key: A\n    prompt: p\n    params: ${'['.repeat(40)}${']'.repeat(40)}\n`;
    expect(expectProblem(await postManifest(app, yaml, 'application/yaml'), 400, 'MALFORMED_BODY').detail).toContain('nested deeper than the limit of 8 levels (STEPGATE_MAX_DEPTH)');
    expect(await count(ctx.database, 'dag_runs')).toBe(1);
    expect(await count(ctx.database, 'manifests')).toBe(1);
  });

  it('accepts version 2,147,483,647 and refuses 2,147,483,648', async () => {
    const app = await testApp(ctx.database);
    expect((await postManifest(app, { name: 'v', version: 2_147_483_647, steps: [{ key: 'A', prompt: 'p' }] })).statusCode).toBe(201);
    const refused = expectProblem(await postManifest(app, { name: 'v', version: 2_147_483_648, steps: [{ key: 'A', prompt: 'p' }] }), 422);
    expect(refused.errors).toEqual([{ path: 'version', message: 'expected a number ≤ 2147483647, found number 2147483648' }]);
    expect(await count(ctx.database, 'manifests')).toBe(1);
  });

  it('accepts an artifact of Number.MAX_SAFE_INTEGER bytes and refuses one byte more', async () => {
    const app = await testApp(ctx.database);
    const contract = { executor: 'lab', inputs: [], outputs: ['out'], verification: 'operator_attest' };
    const id = await storeManifest(app, { name: 'bytes', steps: [{ key: 'B', step_type: 'compute', compute_contract: contract }] });
    const run = await startRun(app, id);
    const b = stepOf(run, 'B')!.id;
    const artifact = (bytes: number) => ({ outcome: 'SUCCESS', attested_by: 'ana', artifacts: [{ name: 'out', uri: 's3://bucket/out', sha256: DIGEST, bytes }] });
    const refused = expectProblem(await attest(app, run.id, b, artifact(Number.MAX_SAFE_INTEGER + 1)), 422);
    expect(refused.errors?.[0]?.path).toBe('artifacts[0].bytes');
    expect(await count(ctx.database, 'compute_attestations')).toBe(0);
    const attested = await attest(app, run.id, b, artifact(Number.MAX_SAFE_INTEGER));
    expect(attested.statusCode, attested.body).toBe(201);
    expect(attested.json().step_runs[0].attestation.artifacts[0].bytes).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('accepts a body of exactly STEPGATE_BODY_LIMIT bytes and answers one byte more with 413', async () => {
    const app = await testApp(ctx.database, { bodyLimit: 2000 });
    const body = (size: number) => {
      const json = JSON.stringify({ name: 'sized', steps: [{ key: 'A', prompt: 'p' }] });
      return json.slice(0, -1) + ' '.repeat(size - json.length) + '}';
    };
    expect(Buffer.byteLength(body(2000))).toBe(2000);
    expect((await postManifest(app, body(2000))).statusCode).toBe(201);
    expect(expectProblem(await postManifest(app, body(2001)), 413, 'BODY_TOO_LARGE').detail).toContain('2000 bytes');
  });
});
