import { Writable } from 'node:stream';
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { buildApp } from '../src/http/app.js';
import { queryRows } from '../src/storage/database.js';
import { authOn, bearer, mintToken } from './support/access.js';
import { testDeps } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';

describeEachDriver('token lifecycle', (ctx) => {
  const appWithLog = async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const app = await buildApp(testDeps(ctx.database), { auth: authOn(), logger: { level: 'trace', stream } });
    return { app, lines };
  };

  it('shows a token once, stores only its hash, and never writes it to a log line', async () => {
    const { app, lines } = await appWithLog();
    const admin = await mintToken(ctx.database, 'root', 'admin');
    const created = await app.inject({ method: 'POST', url: '/api/tokens', headers: bearer(admin), payload: { name: 'ana', role: 'operator' } });
    expect(created.statusCode, created.body).toBe(201);
    const { token, id } = created.json();
    expect(token).toMatch(/^sg_[A-Za-z0-9_-]{43}$/);
    expect(created.json()).toMatchObject({ name: 'ana', role: 'operator', expires_at: null, revoked_at: null, status: 'active' });

    const me = await app.inject({ method: 'GET', url: '/api/me', headers: bearer(token) });
    expect(me.json()).toEqual({ name: 'ana', role: 'operator', expires_at: null, authentication: 'on' });
    await app.inject({ method: 'GET', url: '/api/runs', headers: { authorization: `Bearer ${token}x` } });
    await app.inject({ method: 'POST', url: '/api/manifests', headers: bearer(token), payload: {} }); // 403: operator

    const listed = await app.inject({ method: 'GET', url: '/api/tokens', headers: bearer(admin) });
    expect(listed.json().items.map((t: { name: string }) => t.name)).toEqual(['root', 'ana']);
    expect(listed.body).not.toContain(token);
    expect(listed.body).not.toContain(admin);

    // Every column of every table, as text: the secrets are nowhere, the hash is in api_tokens.
    const tables = await queryRows<{ table_name: string }>(ctx.database.db, sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`);
    expect(tables.length).toBeGreaterThan(8);
    for (const { table_name: table } of tables) {
      for (const secret of [token, admin, token.slice(3)]) {
        const [row] = await queryRows<{ n: number }>(ctx.database.db, sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)} t WHERE t::text LIKE ${`%${secret}%`}`);
        expect(row!.n, `${table} holds a token`).toBe(0);
      }
    }
    const [stored] = await queryRows<{ token_hash: string }>(ctx.database.db, sql`SELECT token_hash FROM api_tokens WHERE id = ${id}`);
    expect(stored!.token_hash).toBe(createHash('sha256').update(token).digest('hex'));

    await app.close();
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      expect(line).not.toContain(token);
      expect(line).not.toContain(admin);
      expect(line).not.toContain(token.slice(3));
    }
  });

  it('refuses an expired token, and a revoked one from its very next request', async () => {
    const { app } = await appWithLog();
    const admin = await mintToken(ctx.database, 'root', 'admin');
    const ana = await mintToken(ctx.database, 'ana', 'viewer', new Date(Date.now() + 3_600_000));
    const bob = await mintToken(ctx.database, 'bob', 'viewer');
    expect((await app.inject({ method: 'GET', url: '/api/runs', headers: bearer(ana) })).statusCode).toBe(200);

    // Time passes: the database's clock decides.
    await ctx.database.db.execute(sql`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE name = 'ana'`);
    const expired = expectProblem(await app.inject({ method: 'GET', url: '/api/runs', headers: bearer(ana) }), 401, 'UNAUTHENTICATED');
    expect(expired.detail).toContain('expired');
    const listed = await app.inject({ method: 'GET', url: '/api/tokens', headers: bearer(admin) });
    expect(listed.json().items.find((t: { name: string }) => t.name === 'ana').status).toBe('expired');

    expect((await app.inject({ method: 'GET', url: '/api/runs', headers: bearer(bob) })).statusCode).toBe(200);
    const revoked = await app.inject({ method: 'DELETE', url: '/api/tokens/bob', headers: bearer(admin) });
    expect(revoked.statusCode, revoked.body).toBe(200);
    expect(revoked.json()).toMatchObject({ name: 'bob', status: 'revoked' });
    const refused = await app.inject({ method: 'GET', url: '/api/runs', headers: bearer(bob) });
    expect(expectProblem(refused, 401, 'UNAUTHENTICATED').detail).toContain('revoked');
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="stepgate", error="invalid_token"');
    expectProblem(await app.inject({ method: 'DELETE', url: `/api/tokens/${revoked.json().id}`, headers: bearer(admin) }), 409, 'TOKEN_ALREADY_REVOKED');
    expectProblem(await app.inject({ method: 'DELETE', url: '/api/tokens/nobody', headers: bearer(admin) }), 404, 'TOKEN_NOT_FOUND');
    await app.close();
  });

  it('refuses a malformed header, a taken name, an unknown role and a past expiry, storing nothing', async () => {
    const { app } = await appWithLog();
    const admin = await mintToken(ctx.database, 'root', 'admin');
    expect(expectProblem(await app.inject({ method: 'GET', url: '/api/runs', headers: { authorization: `Basic ${admin}` } }), 401).detail).toContain('Bearer');
    expect(expectProblem(await app.inject({ method: 'GET', url: '/api/runs' }), 401).detail).toContain('needs a token');
    const create = (payload: object) => app.inject({ method: 'POST', url: '/api/tokens', headers: bearer(admin), payload });
    expectProblem(await create({ name: 'root', role: 'viewer' }), 409, 'TOKEN_NAME_TAKEN');
    expectProblem(await create({ name: 'x', role: 'superuser' }), 422);
    expectProblem(await create({ name: 'has space', role: 'viewer' }), 422);
    expectProblem(await create({ name: 'late', role: 'viewer', expires_at: '2000-01-01T00:00:00Z' }), 422);
    const [row] = await queryRows<{ n: number }>(ctx.database.db, sql`SELECT count(*)::int AS n FROM api_tokens`);
    expect(row!.n).toBe(1);
    await app.close();
  });
});
