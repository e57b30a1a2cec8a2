import { expect, it } from 'vitest';
import { bearer, mintToken, securedApp } from './support/access.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';

describeEachDriver('rate limits', (ctx) => {
  it('answers 429 with Retry-After past the limit of a token, per token, and stays healthy', async () => {
    const { app, tokens } = await securedApp(ctx.database, { auth: { rateLimit: { perToken: 5, perAddress: 3, windowMs: 60_000 } } });
    const get = (token: string) => app.inject({ method: 'GET', url: '/api/runs', headers: bearer(token) });
    for (let i = 0; i < 5; i++) expect((await get(tokens.viewer)).statusCode).toBe(200);
    const limited = await get(tokens.viewer);
    expect(expectProblem(limited, 429, 'RATE_LIMITED').detail).toContain('Retry in');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);

    // Another token has its own budget; health checks are never limited.
    expect((await get(tokens.operator)).statusCode).toBe(200);
    for (let i = 0; i < 10; i++) expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const fresh = await mintToken(ctx.database, 'fresh', 'viewer');
    expect((await get(fresh)).statusCode).toBe(200);
    await app.close();
  });

  it('limits requests without a valid token per address, so guessing tokens is slow', async () => {
    const { app, tokens } = await securedApp(ctx.database, { auth: { rateLimit: { perToken: 100, perAddress: 3, windowMs: 60_000 } } });
    const guess = (address: string) => app.inject({ method: 'GET', url: '/api/runs', remoteAddress: address, headers: bearer(`sg_${'g'.repeat(43)}`) });
    for (let i = 0; i < 3; i++) expectProblem(await guess('10.0.0.7'), 401);
    const limited = expectProblem(await guess('10.0.0.7'), 429, 'RATE_LIMITED');
    expect(limited.status).toBe(429);
    expectProblem(await guess('10.0.0.8'), 401); // another address
    expect((await app.inject({ method: 'GET', url: '/api/runs', remoteAddress: '10.0.0.7', headers: bearer(tokens.viewer) })).statusCode).toBe(200);
    await app.close();
  });
});
