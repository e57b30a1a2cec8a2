import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngineDeps } from '../src/engine/create-deps.js';
import { buildApp, type App } from '../src/http/app.js';
import { AUTH_OFF } from './support/app.js';
import { CONSOLE_CSP } from '../src/http/console.js';
import type { Db } from '../src/storage/database.js';

// Static serving touches no database: the routes that would are not called here.
const deps = createEngineDeps({ db: undefined as unknown as Db, providers: new Map(), defaultModel: 'offline:echo', leaseMs: 1 });
const INDEX = '<!doctype html><title>console</title><script type="module" src="/assets/app-1a2b3c.js"></script>';

describe('the console served at /', () => {
  let dir: string;
  let app: App;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stepgate-console-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), INDEX);
    writeFileSync(join(dir, 'assets', 'app-1a2b3c.js'), 'console.log(1)');
    writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    app = await buildApp(deps, { consoleDir: dir, auth: AUTH_OFF });
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / with a strict CSP and no caching', async () => {
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toBe(INDEX);
    expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("default-src 'self'");
    expect(CONSOLE_CSP).not.toContain('unsafe-inline');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });

  it('caches hashed assets for a year, immutable', async () => {
    const res = await app.inject({ method: 'GET', url: '/assets/app-1a2b3c.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it("answers the console's own routes with index.html (history routing)", async () => {
    for (const url of ['/inbox', '/runs/0b7c1e38-0000-4000-8000-000000000000?step=B', '/manifests']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toBe(INDEX);
      expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
      expect(res.headers['cache-control']).toBe('no-cache');
    }
  });

  it('never answers an unknown API route or a missing file with the console', async () => {
    for (const url of ['/api/nope', '/api', '/api/runs/x/nope', '/assets/missing-123.js']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status: 404, code: 'ROUTE_NOT_FOUND' });
    }
    const post = await app.inject({ method: 'POST', url: '/inbox' });
    expect(post.statusCode).toBe(404);
    expect(post.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
  });

  it('keeps the console out of the OpenAPI document', async () => {
    const paths = Object.keys((await app.inject({ method: 'GET', url: '/api/openapi.json' })).json().paths);
    expect(paths.filter((p) => !p.startsWith('/api/') && p !== '/healthz' && p !== '/metrics')).toEqual([]);
  });

  it('says how to build the console when it is not built', async () => {
    const bare = await buildApp(deps, { consoleDir: join(dir, 'not-built'), auth: AUTH_OFF });
    try {
      const res = await bare.inject({ method: 'GET', url: '/' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ code: 'CONSOLE_NOT_BUILT' });
      expect(res.json().detail).toContain('npm run build');
      expect((await bare.inject({ method: 'GET', url: '/api/nope' })).statusCode).toBe(404);
    } finally {
      await bare.close();
    }
  });
});
