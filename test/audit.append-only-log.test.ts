import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { authOn, bearer, securedApp } from './support/access.js';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';
import { DIGEST } from './support/runs.js';

const manifest = {
  name: 'audited',
  steps: [{ key: 'B', step_type: 'compute', compute_contract: { executor: 'excel', inputs: [], outputs: ['out'], verification: 'operator_attest' } }],
};

interface AuditEvent {
  actor: string | null;
  token_id: string | null;
  action: string;
  target: string;
  outcome: number;
  code: string | null;
  request_id: string;
  address: string | null;
}

describeEachDriver('the audit log', (ctx) => {
  it('appends one row per state-changing request, allowed or refused, and none for reads', async () => {
    const { app, tokens } = await securedApp(ctx.database, { auth: { rateLimit: { perToken: 4, perAddress: 100, windowMs: 60_000 } } });
    const stored = await app.inject({ method: 'POST', url: '/api/manifests', payload: manifest, headers: bearer(tokens.author) });
    const run = await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: stored.json().id }, headers: bearer(tokens.author) });
    const stepRunId = run.json().step_runs[0].id;
    const attestUrl = `/api/runs/${run.json().id}/steps/${stepRunId}/attest`;
    await app.inject({ method: 'GET', url: '/api/runs', headers: bearer(tokens.viewer) });
    expectProblem(await app.inject({ method: 'POST', url: attestUrl, payload: { outcome: 'SUCCESS' }, headers: bearer(tokens.operator) }), 422);
    const attested = await app.inject({ method: 'POST', url: attestUrl, payload: { outcome: 'SUCCESS', artifacts: [{ name: 'out', uri: 'file:///o', sha256: DIGEST, bytes: 1 }] }, headers: bearer(tokens.operator) });
    expect(attested.statusCode).toBe(201);
    expectProblem(await app.inject({ method: 'POST', url: `/api/runs/${run.json().id}/resume`, headers: bearer(tokens.viewer) }), 403);
    expectProblem(await app.inject({ method: 'POST', url: '/api/manifests', payload: manifest }), 401);
    expectProblem(await app.inject({ method: 'POST', url: '/api/manifests', payload: manifest, headers: { host: 'evil.example', ...bearer(tokens.author) } }), 421);
    expectProblem(await app.inject({ method: 'DELETE', url: '/api/tokens/viewer', headers: { origin: 'http://evil.example', ...bearer(tokens.admin) } }), 403);
    // The author's fifth request in the window: 429.
    for (let i = 0; i < 2; i++) await app.inject({ method: 'POST', url: '/api/manifests/validate', payload: manifest, headers: bearer(tokens.author) });
    expectProblem(await app.inject({ method: 'POST', url: '/api/manifests/validate', payload: manifest, headers: bearer(tokens.author) }), 429);

    // Another process reads the log (its own rate-limit budget).
    await app.close();
    const reader = await testApp(ctx.database, { auth: authOn() });
    const audit = await reader.inject({ method: 'GET', url: '/api/audit?limit=100', headers: bearer(tokens.admin) });
    expect(audit.statusCode, audit.body).toBe(200);
    const events = (audit.json().items as AuditEvent[]).reverse();
    expect(events.map((e) => `${e.actor ?? '-'} ${e.action} ${e.outcome} ${e.code ?? ''}`.trim())).toEqual([
      'author POST /api/manifests 201',
      'author POST /api/runs 201',
      'operator POST /api/runs/:run_id/steps/:step_run_id/attest 422 REQUEST_INVALID',
      'operator POST /api/runs/:run_id/steps/:step_run_id/attest 201',
      'viewer POST /api/runs/:run_id/resume 403 ROLE_TOO_LOW',
      '- POST /api/manifests 401 UNAUTHENTICATED',
      '- POST /api/manifests 421 HOST_NOT_ALLOWED',
      '- DELETE /api/tokens/:id 403 ORIGIN_NOT_ALLOWED',
      'author POST /api/manifests/validate 200',
      'author POST /api/manifests/validate 200',
      'author POST /api/manifests/validate 429 RATE_LIMITED',
    ]);
    expect(events[0]!.target).toBe(`/api/manifests/${stored.json().id}`); // what it created
    expect(events[1]!.target).toBe(`/api/runs/${run.json().id}`);
    expect(events[3]!.target).toBe(attestUrl);
    for (const event of events) {
      expect(event.request_id.length).toBeGreaterThan(0);
      expect(event.address).toBe('127.0.0.1');
    }
    expect(new Set(events.map((e) => e.request_id)).size).toBe(events.length);
    expect(events[3]!.token_id).not.toBeNull();

    // Filters.
    const query = async (q: string) => ((await reader.inject({ method: 'GET', url: `/api/audit?${q}`, headers: bearer(tokens.admin) })).json().items as AuditEvent[]).length;
    expect(await query('actor=operator')).toBe(2);
    expect(await query('outcome=403')).toBe(2);
    expect(await query(`action=${encodeURIComponent('POST /api/runs/:run_id/steps/:step_run_id/attest')}`)).toBe(2);
    expect(await query(`since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).toBe(0);
    expect(await query('limit=3')).toBe(3);
    expectProblem(await reader.inject({ method: 'GET', url: '/api/audit?outcome=abc', headers: bearer(tokens.admin) }), 422);
    expectProblem(await reader.inject({ method: 'GET', url: '/api/audit', headers: bearer(tokens.author) }), 403);
    await reader.close();
  });

  it('is append-only: the database refuses UPDATE, DELETE and TRUNCATE', async () => {
    const { app, tokens } = await securedApp(ctx.database);
    await app.inject({ method: 'POST', url: '/api/manifests', payload: manifest, headers: bearer(tokens.author) });
    const count = async () => (await ctx.database.db.execute(sql`SELECT count(*)::int AS n FROM audit_events`)) as unknown as { rows: Array<{ n: number }> };
    expect((await count()).rows[0]!.n).toBe(1);
    for (const statement of [sql`UPDATE audit_events SET outcome = 200`, sql`DELETE FROM audit_events`, sql`TRUNCATE audit_events`]) {
      const refused = await ctx.database.db.execute(statement).then(
        () => undefined,
        (err: Error & { cause?: { message?: string } }) => err.cause?.message ?? err.message,
      );
      expect(refused).toMatch(/audit_events is append-only/);
    }
    expect((await count()).rows[0]!.n).toBe(1);
    await app.close();
  });
});
