import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { beforeEach, expect, it } from 'vitest';
import type { App } from '../src/http/app.js';
import { testApp } from './support/app.js';
import { queryRows } from '../src/storage/database.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem, postManifest } from './support/http.js';

const abcYaml = readFileSync(new URL('../examples/quarterly-forecast.yaml', import.meta.url), 'utf8');

describeEachDriver('storing, listing and showing manifests', (ctx) => {
  let app: App;
  beforeEach(async () => {
    app = await testApp(ctx.database, { bodyLimit: 64 * 1024 });
  });

  it('stores a YAML manifest with its steps in order and shows it by id', async () => {
    const created = await postManifest(app, abcYaml, 'application/yaml');
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(created.headers.location).toBe(`/api/manifests/${body.id}`);
    expect(body).toMatchObject({ name: 'quarterly-forecast', version: 1, description: 'Forecast memo' });
    expect(body.content_hash).toMatch(/^[0-9a-f]{64}$/);

    const shown = await app.inject({ method: 'GET', url: `/api/manifests/${body.id}` });
    expect(shown.statusCode).toBe(200);
    expect(shown.json().steps.map((s: { key: string; step_type: string | null; depends_on: string[] }) => [s.key, s.step_type, s.depends_on])).toEqual([
      ['A', null, []],
      ['B', 'compute', ['A']],
      ['C', null, ['B']],
    ]);
    expect(shown.json().steps[1].compute_contract).toMatchObject({ executor: 'excel', outputs: ['forecast_csv'], verification: 'operator_attest' });
    expect(shown.json().created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('answers an identical manifest (same content, any format or key order) with the stored one', async () => {
    const first = (await postManifest(app, abcYaml, 'application/yaml')).json();
    const { value } = await import('../src/core/manifest/parse.js').then((m) => m.parseManifestSource(abcYaml));
    const reordered = Object.fromEntries(Object.entries(value as object).reverse());
    const again = await postManifest(app, reordered, 'application/json');
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.id);
    const rows = await queryRows<{ n: number }>(ctx.database.db, sql`SELECT count(*)::int AS n FROM manifests`);
    expect(rows[0]!.n).toBe(1);
  });

  it('refuses a different manifest under an existing (name, version) with 409, and accepts it as version 2', async () => {
    const first = (await postManifest(app, abcYaml, 'application/yaml')).json();
    const changed = abcYaml.replace('Forecast memo', 'Another memo');
    const conflict = expectProblem(await postManifest(app, changed, 'application/yaml'), 409, 'MANIFEST_CONFLICT');
    expect(conflict.detail).toContain(first.id);
    const v2 = await postManifest(app, changed.replace('version: 1', 'version: 2'), 'application/yaml');
    expect(v2.statusCode).toBe(201);
  });

  it('stores one manifest when identical posts race', async () => {
    const responses = await Promise.all(Array.from({ length: 8 }, () => postManifest(app, abcYaml, 'application/yaml')));
    expect(responses.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(responses.map((r) => r.json().id)).size).toBe(1);
  });

  it('lists manifests newest first, paginated', async () => {
    for (let version = 1; version <= 3; version++) {
      expect((await postManifest(app, abcYaml.replace('version: 1', `version: ${version}`), 'application/yaml')).statusCode).toBe(201);
    }
    // total only with count=true (it reads every manifest); the next page by cursor, or by offset.
    const page = await app.inject({ method: 'GET', url: '/api/manifests?limit=2&count=true' });
    expect(page.statusCode).toBe(200);
    expect(page.json()).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(page.json().items.map((m: { version: number }) => m.version)).toEqual([3, 2]);
    const next = await app.inject({ method: 'GET', url: '/api/manifests?limit=2&offset=2' });
    expect(next.json().items.map((m: { version: number }) => m.version)).toEqual([1]);
    const byCursor = await app.inject({ method: 'GET', url: `/api/manifests?limit=2&cursor=${page.json().next_cursor}` });
    expect(byCursor.json()).toMatchObject({ next_cursor: null, items: [{ version: 1 }] });
    expectProblem(await app.inject({ method: 'GET', url: '/api/manifests?limit=0' }), 422, 'REQUEST_INVALID');
  });

  it('answers unknown and malformed ids, and unknown routes, with 404 problems', async () => {
    expectProblem(await app.inject({ method: 'GET', url: '/api/manifests/00000000-0000-4000-8000-000000000000' }), 404, 'MANIFEST_NOT_FOUND');
    expectProblem(await app.inject({ method: 'GET', url: '/api/manifests/not-a-uuid' }), 404, 'MANIFEST_NOT_FOUND');
    expectProblem(await app.inject({ method: 'GET', url: '/api/nothing-here' }), 404, 'ROUTE_NOT_FOUND');
  });

  it('answers malformed JSON and YAML, and duplicate keys, with 400', async () => {
    expectProblem(await postManifest(app, '{"name": "x",', 'application/json'), 400, 'MALFORMED_BODY');
    expectProblem(await postManifest(app, 'name: x\nsteps: [\n', 'application/yaml'), 400, 'MALFORMED_BODY');
    const duplicate = expectProblem(await postManifest(app, 'name: x\nname: y\nsteps: []\n', 'application/yaml'), 400, 'MALFORMED_BODY');
    expect(duplicate.detail).toMatch(/line 2/);
  });

  it('answers an unsupported media type with 415 and a body over the limit with 413', async () => {
    expect(expectProblem(await postManifest(app, 'name,steps', 'text/csv'), 415, 'UNSUPPORTED_MEDIA_TYPE').detail).toContain('"text/csv" is not supported');
    const huge = { name: 'huge', steps: [{ key: 'A', prompt: 'x'.repeat(70 * 1024) }] };
    expect(expectProblem(await postManifest(app, huge), 413, 'BODY_TOO_LARGE').detail).toBe(
      'The request body is larger than the limit of 65536 bytes; send a smaller body or raise STEPGATE_BODY_LIMIT.',
    );
    const rows = await queryRows<{ n: number }>(ctx.database.db, sql`SELECT count(*)::int AS n FROM manifests`);
    expect(rows[0]!.n).toBe(0);
  });

  it('serves /healthz and an OpenAPI 3.1 document generated from the routes', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const doc = (await app.inject({ method: 'GET', url: '/api/openapi.json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/manifests', '/api/manifests/validate', '/api/manifests/{id}', '/healthz']));
    expect(doc.paths['/api/manifests'].post.responses['422'].content['application/problem+json']).toBeDefined();
    // What client generators need: a unique operationId on every operation, a license, and only used components.
    const operations = Object.values(doc.paths as Record<string, Record<string, { operationId?: string }>>).flatMap((path) => Object.values(path));
    const ids = operations.map((operation) => operation.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.paths['/api/runs'].post.operationId).toBe('createRun');
    expect(doc.info.license).toEqual({ name: 'Apache-2.0', identifier: 'Apache-2.0' });
    const text = JSON.stringify(doc);
    expect(Object.keys(doc.components.schemas).filter((name) => !text.includes(`"#/components/schemas/${name}"`))).toEqual([]);
  });
});
