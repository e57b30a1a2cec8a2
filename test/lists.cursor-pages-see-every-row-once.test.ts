import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { encodeCursor } from '../src/core/cursor.js';
import type { App } from '../src/http/app.js';
import { queryRows } from '../src/storage/database.js';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';
import { startRun, storeManifest } from './support/runs.js';

const compute = { key: 'B', step_type: 'compute', compute_contract: { executor: 'x', inputs: [], outputs: [], verification: 'operator_attest' } };

interface Page {
  items: Array<{ id: string; status?: string; manifest_id?: string }>;
  next_cursor: string | null;
  total?: number;
}

async function page(app: App, url: string): Promise<Page> {
  const response = await app.inject({ method: 'GET', url });
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as Page;
}

/** Every page of a list from its first, following next_cursor; `between` runs after each page. */
async function walk(app: App, path: string, between: () => Promise<void> = async () => {}): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const body: Page = await page(app, cursor === null ? path : `${path}${separator}cursor=${encodeURIComponent(cursor)}`);
    pages.push(body.items.map((item) => item.id));
    cursor = body.next_cursor;
    await between();
  } while (cursor !== null);
  return pages;
}

describeEachDriver('lists page by cursor', (ctx) => {
  it('sees every run exactly once, newest first, while runs are inserted between pages', async () => {
    const app = await testApp(ctx.database);
    const waits = await storeManifest(app, { name: 'waits', steps: [compute] });
    const ends = await storeManifest(app, { name: 'ends', steps: [{ key: 'A', prompt: 'a' }] });
    for (let i = 0; i < 13; i++) await startRun(app, i % 3 === 0 ? ends : waits);
    // Five runs share one creation time to the microsecond: the id breaks the tie.
    await ctx.database.db.execute(sql`UPDATE dag_runs SET created_at = '2026-01-02T03:04:05.123456Z' WHERE id IN (SELECT id FROM dag_runs ORDER BY id LIMIT 5)`);
    const before = (await queryRows<{ id: string }>(ctx.database.db, sql`SELECT id FROM dag_runs ORDER BY created_at DESC, id DESC`)).map((r) => r.id);

    const inserted: string[] = [];
    const pages = await walk(app, '/api/runs?limit=4', async () => {
      inserted.push((await startRun(app, waits)).id, (await startRun(app, ends)).id);
    });
    expect(pages.slice(0, -1).every((p) => p.length === 4)).toBe(true);
    const seen = pages.flat();
    // Runs created meanwhile are newer than the page the walk is at: none of them shows up.
    expect(seen).toEqual(before);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => inserted.includes(id))).toEqual([]);

    // A new walk from the first page sees them all, each once.
    const again = (await walk(app, '/api/runs?limit=7')).flat();
    expect(again.length).toBe(before.length + inserted.length);
    expect(new Set(again)).toEqual(new Set([...before, ...inserted]));
  });

  it('combines filters with cursors, and counts only when asked', async () => {
    const app = await testApp(ctx.database);
    const waits = await storeManifest(app, { name: 'waits', steps: [compute] });
    const ends = await storeManifest(app, { name: 'ends', steps: [{ key: 'A', prompt: 'a' }] });
    const waiting: string[] = [];
    for (let i = 0; i < 9; i++) {
      const run = await startRun(app, i % 2 === 0 ? waits : ends);
      if (run.status === 'waiting') waiting.unshift(run.id);
    }
    const walked = await walk(app, `/api/runs?status=waiting&manifest_id=${waits}&limit=2`);
    expect(walked.flat()).toEqual(waiting);
    expect(walked.at(-1)!.length).toBeGreaterThan(0);

    const byManifest = (await walk(app, `/api/runs?manifest_id=${ends}&limit=3`)).flat();
    expect(byManifest.length).toBe(4);
    const ofEnds = await page(app, `/api/runs?manifest_id=${ends}&limit=100`);
    expect(ofEnds.items.every((r) => r.manifest_id === ends && r.status === 'success')).toBe(true);

    // The total is the exact count, and only when asked for.
    const first = await page(app, '/api/runs?status=waiting&limit=2');
    expect(first.total).toBeUndefined();
    expect((await page(app, '/api/runs?status=waiting&limit=2&count=true')).total).toBe(5);
    // The last page says so: no next cursor.
    expect((await page(app, '/api/runs?limit=9')).next_cursor).toBeNull();
    expect((await page(app, '/api/runs?limit=8')).next_cursor).not.toBeNull();

    // offset still works (compatibility), and cannot be combined with a cursor.
    const offsetPage = await page(app, '/api/runs?limit=3&offset=3');
    const all = (await page(app, '/api/runs?limit=100')).items.map((r) => r.id);
    expect(offsetPage.items.map((r) => r.id)).toEqual(all.slice(3, 6));
    const both = expectProblem(await app.inject({ method: 'GET', url: `/api/runs?limit=3&offset=3&cursor=${first.next_cursor}` }), 422, 'REQUEST_INVALID');
    expect(both.errors!.map((e) => e.path)).toEqual(['offset']);
  });

  it('refuses a malformed, edited, foreign or forged cursor with a 422 naming it', async () => {
    const app = await testApp(ctx.database);
    const waits = await storeManifest(app, { name: 'waits', steps: [compute] });
    for (let i = 0; i < 3; i++) await startRun(app, waits);
    const good = (await page(app, '/api/runs?status=waiting&limit=1')).next_cursor!;
    expect((await page(app, `/api/runs?status=waiting&limit=1&cursor=${good}`)).items.length).toBe(1);

    const [payload, check] = good.split('.') as [string, string];
    const flip = (text: string, at: number) => `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
    const position = { at: '2026-01-02T03:04:05.123456Z', id: '6f1c1a52-8a55-4a8e-9d4e-0b3c5a1e2f10' };
    const refused = [
      'garbage',
      '',
      `${payload}`,
      `${payload}.${check}.x`,
      `${flip(payload, 5)}.${check}`, // an edited position
      `${payload}.${flip(check, 0)}`,
      `${payload}%00.${check}`,
      'x'.repeat(600),
      `/api/runs?status=success&limit=1&cursor=${good}`, // with other filters than it was made with
      encodeCursor('audit', {}, position), // another list's
      encodeCursor('runs', { status: 'waiting' }, { ...position, at: 'yesterday' }), // forged with a valid checksum: not a position
      encodeCursor('runs', { status: 'waiting' }, { ...position, at: '2026-02-30T03:04:05.123456Z' }),
      encodeCursor('runs', { status: 'waiting' }, { ...position, id: "1' OR '1'='1" }),
      `${Buffer.from(JSON.stringify([2, 'runs', 'x', position.at, position.id])).toString('base64url')}.aaaaaaaaaaaa`,
    ];
    for (const cursor of refused) {
      const url = cursor.startsWith('/api/') ? cursor : `/api/runs?status=waiting&limit=1&cursor=${encodeURIComponent(cursor)}`;
      const problem = expectProblem(await app.inject({ method: 'GET', url }), 422, 'REQUEST_INVALID');
      expect(problem.errors!.map((e) => e.path), cursor).toEqual(['cursor']);
    }
    // A cursor of the runs list means nothing to the audit log or the manifests.
    expectProblem(await app.inject({ method: 'GET', url: `/api/audit?cursor=${good}` }), 422, 'REQUEST_INVALID');
    expectProblem(await app.inject({ method: 'GET', url: `/api/manifests?cursor=${good}` }), 422, 'REQUEST_INVALID');
  });

  it('says which waiting runs are ready to resume, in the list and in the inbox, from their open waits', async () => {
    const app = await testApp(ctx.database);
    const contract = { executor: 'x', inputs: [], outputs: [], verification: 'operator_attest' };
    const twoWaits = await storeManifest(app, { name: 'two-waits', steps: [{ key: 'B', step_type: 'compute', compute_contract: contract }, { key: 'C', step_type: 'compute', compute_contract: contract }] });
    const attest = (runId: string, stepRunId: string) => app.inject({ method: 'POST', url: `/api/runs/${runId}/steps/${stepRunId}/attest`, payload: { outcome: 'SUCCESS', attested_by: 'ana' } });
    const untouched = await startRun(app, twoWaits);
    const half = await startRun(app, twoWaits);
    const ready = await startRun(app, twoWaits);
    expect((await attest(half.id, half.waiting_on[0]!.step_run_id)).statusCode).toBe(201);
    for (const wait of ready.waiting_on) expect((await attest(ready.id, wait.step_run_id)).statusCode).toBe(201);
    const listed = (await page(app, '/api/runs?status=waiting')).items as Array<{ id: string; ready_to_resume: boolean }>;
    expect(listed.map((run) => [run.id, run.ready_to_resume])).toEqual([
      [ready.id, true],
      [half.id, false],
      [untouched.id, false],
    ]);
    const inbox = (await app.inject({ method: 'GET', url: '/api/attestations/pending' })).json();
    expect(inbox.ready_to_resume.map((run: { run_id: string }) => run.run_id)).toEqual([ready.id]);
    expect(inbox.items.map((item: { run_id: string }) => item.run_id).sort()).toEqual([untouched.id, untouched.id, half.id].sort());
  });

  // JIT doubled the time of the statements that read many rows (count=true, a deep offset) at a million runs: off.
  if (ctx.driver.name === 'postgres') {
    it('runs its PostgreSQL sessions without JIT', async () => {
      const settings = await Promise.all(Array.from({ length: 4 }, () => queryRows<{ jit: string }>(ctx.database.db, sql`SHOW jit`)));
      expect(settings.map(([row]) => row!.jit)).toEqual(['off', 'off', 'off', 'off']);
    });
  }

  it('pages the audit log and the manifests the same way', async () => {
    const app = await testApp(ctx.database);
    for (let i = 0; i < 7; i++) await storeManifest(app, { name: `m${i}`, steps: [{ key: 'A', prompt: 'a' }] });
    // Every state-changing request is audited: seven manifests stored, and two refused requests.
    for (let i = 0; i < 2; i++) await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: 'nope' } });
    const audit = (await walk(app, '/api/audit?limit=2', async () => void (await storeManifest(app, { name: 'later', steps: [{ key: 'A', prompt: 'b' }] })))).flat();
    expect(audit.length).toBe(9);
    expect(new Set(audit).size).toBe(9);
    const refusedOnly = (await walk(app, '/api/audit?limit=1&outcome=404')).flat();
    expect(refusedOnly.length).toBe(2);
    expect((await page(app, '/api/audit?limit=1&count=true')).total).toBeGreaterThanOrEqual(9);

    const manifests = (await walk(app, '/api/manifests?limit=3')).flat();
    const stored = (await queryRows<{ id: string }>(ctx.database.db, sql`SELECT id FROM manifests ORDER BY created_at DESC, id DESC`)).map((r) => r.id);
    expect(manifests).toEqual(stored);
    expect((await walk(app, '/api/manifests?limit=1&name=m3')).flat().length).toBe(1);
  });
});
