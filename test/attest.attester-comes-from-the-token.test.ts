import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { queryRows } from '../src/storage/database.js';
import { bearer, securedApp } from './support/access.js';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';
import { DIGEST, snapshot, type RunJson } from './support/runs.js';

const manifest = {
  name: 'attester',
  steps: [{ key: 'B', step_type: 'compute', compute_contract: { executor: 'excel', inputs: [], outputs: ['out'], verification: 'operator_attest' } }],
};
const artifacts = [{ name: 'out', uri: 'file:///data/out.csv', sha256: DIGEST, bytes: 3 }];

describeEachDriver('the attester is the token', (ctx) => {
  it("stores the token's name and id as verified; refuses a body attested_by that differs, storing nothing", async () => {
    const { app, tokens } = await securedApp(ctx.database);
    const as = (token: string) => ({ headers: bearer(token) });
    const stored = await app.inject({ method: 'POST', url: '/api/manifests', payload: manifest, ...as(tokens.author) });
    const start = async () => (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: stored.json().id }, ...as(tokens.author) })).json() as RunJson;
    const attestUrl = (run: RunJson) => `/api/runs/${run.id}/steps/${run.step_runs[0]!.id}/attest`;

    const run = await start();
    const before = await snapshot(ctx.database);
    const spoofed = await app.inject({ method: 'POST', url: attestUrl(run), payload: { outcome: 'SUCCESS', attested_by: 'admin', artifacts }, ...as(tokens.operator) });
    const problem = expectProblem(spoofed, 422, 'REQUEST_INVALID');
    expect(problem.errors).toEqual([{ path: 'attested_by', message: expect.stringContaining('the token attests as "operator", not "admin"') }]);
    expect(await snapshot(ctx.database)).toEqual(before);

    const attested = await app.inject({ method: 'POST', url: attestUrl(run), payload: { outcome: 'SUCCESS', artifacts }, ...as(tokens.operator) });
    expect(attested.statusCode, attested.body).toBe(201);
    expect(attested.json().step_runs[0].attestation).toMatchObject({ attested_by: 'operator', attested_by_verified: true });
    const [row] = await queryRows<{ attested_by: string; verified: boolean; token_name: string }>(
      ctx.database.db,
      sql`SELECT a.attested_by, a.attested_by_verified AS verified, t.name AS token_name FROM compute_attestations a JOIN api_tokens t ON t.id = a.token_id`,
    );
    expect(row).toEqual({ attested_by: 'operator', verified: true, token_name: 'operator' });

    // Repeating the token's own name is fine.
    const second = await start();
    const same = await app.inject({ method: 'POST', url: attestUrl(second), payload: { outcome: 'FAIL', attested_by: 'admin', notes: 'broken' }, ...as(tokens.admin) });
    expect(same.statusCode, same.body).toBe(201);
    expect(same.json().step_runs[0].attestation.attested_by).toBe('admin');
    await app.close();
  });

  it('with authentication off, requires attested_by and stores it as not verified, without a token', async () => {
    const app = await testApp(ctx.database);
    const stored = await app.inject({ method: 'POST', url: '/api/manifests', payload: manifest });
    const run = (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: stored.json().id } })).json() as RunJson;
    const url = `/api/runs/${run.id}/steps/${run.step_runs[0]!.id}/attest`;
    const missing = expectProblem(await app.inject({ method: 'POST', url, payload: { outcome: 'SUCCESS', artifacts } }), 422);
    expect(missing.errors![0]).toMatchObject({ path: 'attested_by', message: expect.stringContaining('STEPGATE_AUTH=off') });
    const attested = await app.inject({ method: 'POST', url, payload: { outcome: 'SUCCESS', attested_by: 'carol', artifacts } });
    expect(attested.json().step_runs[0].attestation).toMatchObject({ attested_by: 'carol', attested_by_verified: false, token_id: null });
    const me = await app.inject({ method: 'GET', url: '/api/me' });
    expect(me.json()).toEqual({ name: null, role: 'admin', expires_at: null, authentication: 'off' });
    await app.close();
  });
});
