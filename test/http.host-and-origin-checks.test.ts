import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { queryRows } from '../src/storage/database.js';
import { bearer, securedApp } from './support/access.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';

const manifest = (name: string) => ({ name, steps: [{ key: 'A', prompt: 'hi' }] });

describeEachDriver('browser protections: Host allow-list, Origin check, security headers', (ctx) => {
  it('refuses a Host it does not answer to (DNS rebinding) with 421, and answers loopback names, HOST and STEPGATE_ALLOWED_HOSTS', async () => {
    const { app, tokens } = await securedApp(ctx.database, { auth: { host: '10.1.2.3', allowedHosts: ['stepgate.internal'] } });
    const get = (host: string, url = '/api/runs') => app.inject({ method: 'GET', url, headers: { host, ...bearer(tokens.viewer) } });
    for (const host of ['evil.example:8080', 'evil.example', 'localhost.evil.example', '127.0.0.1.nip.io:8080']) {
      expectProblem(await get(host), 421, 'HOST_NOT_ALLOWED');
      expectProblem(await get(host, '/healthz'), 421, 'HOST_NOT_ALLOWED');
    }
    for (const host of ['localhost:8080', '127.0.0.1:8080', '[::1]:8080', 'LOCALHOST', '10.1.2.3:8080', 'stepgate.internal']) {
      expect((await get(host)).statusCode, host).toBe(200);
    }
    await app.close();
  });

  it('refuses state-changing requests from another origin with 403 and stores nothing; same-origin and allowed origins work', async () => {
    const { app, tokens } = await securedApp(ctx.database, { auth: { allowedOrigins: ['https://console.example'] } });
    const post = (origin: string | undefined, name: string) =>
      app.inject({ method: 'POST', url: '/api/manifests', payload: manifest(name), headers: { host: '127.0.0.1:8080', ...bearer(tokens.author), ...(origin ? { origin } : {}) } });
    for (const origin of ['http://evil.example', 'null', 'http://127.0.0.1:9999', 'https://127.0.0.1.evil.example:8080', 'not a url']) {
      expect(expectProblem(await post(origin, 'refused'), 403, 'ORIGIN_NOT_ALLOWED').detail).toContain('STEPGATE_ALLOWED_ORIGINS');
    }
    const [row] = await queryRows<{ n: number }>(ctx.database.db, sql`SELECT count(*)::int AS n FROM manifests`);
    expect(row!.n).toBe(0);
    expect((await post('http://127.0.0.1:8080', 'same-origin')).statusCode).toBe(201);
    expect((await post('https://console.example', 'allowed')).statusCode).toBe(201);
    expect((await post(undefined, 'no-origin')).statusCode).toBe(201); // curl, the CLI

    // A read from another origin is answered, but without any CORS permission to read it.
    const read = await app.inject({ method: 'GET', url: '/api/manifests', headers: { origin: 'http://evil.example', ...bearer(tokens.viewer) } });
    expect(read.statusCode).toBe(200);
    expect(read.headers['access-control-allow-origin']).toBeUndefined();
    await app.close();
  });

  it('compares an Origin as scheme, host and port: the server\'s host and port under another scheme is another origin unless STEPGATE_ALLOWED_ORIGINS lists it', async () => {
    const post = (app: Awaited<ReturnType<typeof securedApp>>['app'], token: string, host: string, origin: string, name: string) =>
      app.inject({ method: 'POST', url: '/api/manifests', payload: manifest(name), headers: { host, origin, ...bearer(token) } });
    const strict = await securedApp(ctx.database);
    for (const [host, origin] of [
      ['127.0.0.1:8080', 'https://127.0.0.1:8080'],
      ['127.0.0.1:8080', 'ws://127.0.0.1:8080'],
      ['127.0.0.1:8080', 'ftp://127.0.0.1:8080'],
      ['127.0.0.1', 'https://127.0.0.1'],
      ['localhost:8080', 'http://localhost:8081'],
      ['localhost:8080', 'http://127.0.0.1:8080'],
    ] as const) {
      expect(expectProblem(await post(strict.app, strict.tokens.author, host, origin, 'refused'), 403, 'ORIGIN_NOT_ALLOWED').detail, `${origin} to ${host}`).toContain(origin);
    }
    const [row] = await queryRows<{ n: number }>(ctx.database.db, sql`SELECT count(*)::int AS n FROM manifests`);
    expect(row!.n).toBe(0);
    // The same origin however it is spelled: case, the scheme's default port.
    for (const [host, origin, name] of [
      ['127.0.0.1:8080', 'HTTP://127.0.0.1:8080', 'upper-case'],
      ['127.0.0.1', 'http://127.0.0.1:80', 'default-port'],
      ['LOCALHOST:8080', 'http://localhost:8080', 'host-case'],
    ] as const) {
      expect((await post(strict.app, strict.tokens.author, host, origin, name)).statusCode, `${origin} to ${host}`).toBe(201);
    }
    await strict.app.close();
  });

  it('allows an origin of another scheme or port that STEPGATE_ALLOWED_ORIGINS lists, however it is spelled there', async () => {
    const post = (app: Awaited<ReturnType<typeof securedApp>>['app'], token: string, host: string, origin: string, name: string) =>
      app.inject({ method: 'POST', url: '/api/manifests', payload: manifest(name), headers: { host, origin, ...bearer(token) } });
    // A proxy serving the console over https in front of this server: its origin is listed.
    const proxied = await securedApp(ctx.database, { auth: { allowedOrigins: ['https://127.0.0.1:8443/', 'HTTPS://Console.Example:443'] } });
    expect((await post(proxied.app, proxied.tokens.author, '127.0.0.1:8080', 'https://127.0.0.1:8443', 'proxied')).statusCode).toBe(201);
    expect((await post(proxied.app, proxied.tokens.author, '127.0.0.1:8080', 'https://console.example', 'listed')).statusCode).toBe(201);
    expectProblem(await post(proxied.app, proxied.tokens.author, '127.0.0.1:8080', 'http://127.0.0.1:8443', 'not-listed'), 403, 'ORIGIN_NOT_ALLOWED');
    await proxied.app.close();
  });

  it('sends security headers and a strict CSP on every response, errors included', async () => {
    const { app, tokens } = await securedApp(ctx.database);
    const responses = [
      await app.inject({ method: 'GET', url: '/healthz' }),
      await app.inject({ method: 'GET', url: '/api/runs', headers: bearer(tokens.viewer) }),
      await app.inject({ method: 'GET', url: '/api/runs' }),
      await app.inject({ method: 'GET', url: '/api/nothing', headers: bearer(tokens.viewer) }),
      await app.inject({ method: 'GET', url: '/healthz', headers: { host: 'evil.example' } }),
      await app.inject({ method: 'POST', url: '/api/tokens', headers: bearer(tokens.viewer), payload: {} }),
      await app.inject({ method: 'OPTIONS', url: '/api/runs', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } }),
    ];
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 401, 404, 421, 403, 401]);
    for (const response of responses) {
      const csp = String(response.headers['content-security-policy']);
      for (const directive of ["default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"]) expect(csp).toContain(directive);
      expect(csp).not.toContain('unsafe-inline');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
    }
    await app.close();
  });
});
