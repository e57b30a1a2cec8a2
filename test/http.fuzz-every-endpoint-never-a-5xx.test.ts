import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import { beforeAll, expect, it } from 'vitest';
import type { App } from '../src/http/app.js';
import { queryRows, type Database } from '../src/storage/database.js';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { formatPath } from '../src/core/manifest/parse.js';
import { hostileRequests, operationsOf } from './support/fuzz.js';

/**
 * SPEC §11: every hostile request, on every endpoint the OpenAPI document lists (so routes
 * added later are fuzzed too), is answered with a 4xx problem+json carrying its request id,
 * writes no row in any table, and leaves the server healthy. A body with a key twice (an
 * otherwise plausible body) is refused for that very reason, naming the key. Seeded: a failure prints the
 * seed and the shrunk request, and FUZZ_SEED reproduces it.
 */
const LIMITS = { maxSteps: 20, maxStringLength: 2_000, maxDepth: 16 };
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261129);

/** Rows in every table, in one statement. */
async function rowCounts(database: Database): Promise<Record<string, number>> {
  // audit_events is left out: every state-changing request, refused ones too, is audited by design (SPEC §10).
  const tables = await queryRows<{ name: string }>(
    database.db,
    sql`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'audit_events' ORDER BY 1`,
  );
  const counts = sql.join(tables.map((t) => sql`(SELECT count(*)::int FROM ${sql.identifier(t.name)}) AS ${sql.identifier(t.name)}`), sql`, `);
  const [row] = await queryRows<Record<string, number>>(database.db, sql`SELECT ${counts}`);
  return row!;
}

describeEachDriver(
  'hostile requests on every endpoint',
  (ctx) => {
    let app: App;
    beforeAll(async () => {
      app = await testApp(ctx.database, { limits: LIMITS });
      await app.ready();
    });

    it('answers each with a 4xx problem+json and its request id, writes no row, and stays healthy', { timeout: 600_000 }, async () => {
      const doc = app.swagger() as Parameters<typeof operationsOf>[0];
      const ops = operationsOf(doc);
      expect(ops.length).toBeGreaterThanOrEqual(12);
      const before = await rowCounts(ctx.database);
      expect(Object.keys(before).length).toBeGreaterThanOrEqual(8);
      await fc.assert(
        fc.asyncProperty(hostileRequests(ops, doc, LIMITS), async ({ request, sentRequestId, what, duplicate }) => {
          const response = await app.inject(request);
          const label = `${String(request.method)} ${String(request.url).slice(0, 120)} (${what}) → ${response.statusCode} ${response.body.slice(0, 300)}`;
          expect(response.statusCode, label).toBeGreaterThanOrEqual(400);
          expect(response.statusCode, label).toBeLessThan(500);
          expect(String(response.headers['content-type']), label).toMatch(/^application\/problem\+json/);
          const body = JSON.parse(response.body) as { status: number; detail: string; request_id: string };
          expect(body.status, label).toBe(response.statusCode);
          expect(body.detail.length, label).toBeGreaterThan(0);
          const id = response.headers['x-request-id'];
          expect(body.request_id, label).toBe(id);
          if (sentRequestId !== undefined && /^[A-Za-z0-9._:-]{1,128}$/.test(sentRequestId)) expect(id, label).toBe(sentRequestId);
          else expect(id, label).toMatch(/^[0-9a-f-]{36}$/);
          if (duplicate) {
            // Refused for the duplicate itself, whatever else is wrong: manifests as malformed
            // (400, like YAML's duplicate keys, with the line), every other body with 422 at its path.
            const refusal = JSON.parse(response.body) as { code: string; detail: string; errors?: Array<{ path: string; message: string }> };
            if (String(request.url).startsWith('/api/manifests')) {
              expect(refusal.code, label).toBe('MALFORMED_BODY');
              expect(refusal.detail, label).toContain('appears twice');
            } else {
              expect(refusal.code, label).toBe('REQUEST_INVALID');
              expect(refusal.errors, label).toContainEqual({ path: formatPath(duplicate), message: expect.stringContaining('appears more than once') });
            }
          }
          expect(await rowCounts(ctx.database), label).toEqual(before);
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: false },
      );
      const health = await app.inject({ method: 'GET', url: '/healthz' });
      expect(health.statusCode).toBe(200);
    });
  },
  { shared: true },
);
