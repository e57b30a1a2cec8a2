import { expect, it } from 'vitest';
import { ROLES, roleIncludes, type Role } from '../src/core/access.js';
import { ACCESS, routeKey } from '../src/http/auth/access.js';
import { DEFAULT_RATE_LIMIT } from '../src/http/auth/options.js';
import { bearer, securedApp } from './support/access.js';
import { describeEachDriver } from './support/databases.js';
import { SAMPLES, type Sample } from './support/endpoint-samples.js';

/** The route's sample request; a parameterless GET (HEAD) needs none. */
function sampleFor(key: string, url: string): Sample | undefined {
  if (SAMPLES[key]) return SAMPLES[key];
  if (key.startsWith('GET ') && !url.includes(':')) return { status: 200, prepare: async () => ({ method: 'GET', url }) };
  return undefined;
}

type Caller = 'no token' | 'unknown token' | Role;
const CALLERS: Caller[] = ['no token', 'unknown token', ...ROLES];

describeEachDriver('every endpoint × every role, from the one access table', (ctx) => {
  it('has a line in ACCESS for every route, and a route for every line', async () => {
    const { app } = await securedApp(ctx.database);
    const registered = new Set(app.accessRoutes.map((r) => routeKey(r.method, r.url)));
    expect([...registered].sort()).toEqual(Object.keys(ACCESS).sort());
    await app.close();
  });

  it('answers 2xx to a role the line allows, 403 to a lower role and 401 without a valid token', { timeout: 120_000 }, async () => {
    // Every route is asked by six callers, most of them without a valid token: far more than the
    // per-address rate limit allows in a minute (its own test covers it), so it is raised here.
    const { app, tokens } = await securedApp(ctx.database, { auth: { rateLimit: { ...DEFAULT_RATE_LIMIT, perAddress: 100_000 } } });
    const seen: string[] = [];
    for (const route of app.accessRoutes) {
      const key = routeKey(route.method, route.url);
      const sample = sampleFor(key, route.url);
      expect(sample, `${key} needs a sample request in test/support/endpoint-samples.ts`).toBeDefined();
      for (const caller of CALLERS) {
        const request = await sample!.prepare({ app, admin: tokens.admin });
        const headers = caller === 'no token' ? {} : bearer(caller === 'unknown token' ? `sg_${'x'.repeat(43)}` : tokens[caller]);
        const response = await app.inject({ ...request, method: route.method as 'GET', headers: { ...request.headers, ...headers } });
        const expected =
          route.access === 'public' ? sample!.status : caller === 'no token' || caller === 'unknown token' ? 401 : roleIncludes(caller, route.access) ? sample!.status : 403;
        expect(response.statusCode, `${route.method} ${route.url} as ${caller}: ${response.body}`).toBe(expected);
        if (route.method === 'HEAD') continue; // no body to read
        if (expected === 401) expect(response.json()).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
        if (expected === 403) expect(response.json().detail).toContain(`needs ${route.access} or above`);
      }
      seen.push(key);
    }
    expect(seen.length).toBeGreaterThanOrEqual(Object.keys(ACCESS).length);
    await app.close();
  });

  it('refuses to build an app with a route that has no line in the table', async () => {
    const { app } = await securedApp(ctx.database);
    expect(() => app.get('/api/unlisted', async () => ({}))).toThrow(/GET \/api\/unlisted has no line in ACCESS/);
    await app.close();
  });
});
