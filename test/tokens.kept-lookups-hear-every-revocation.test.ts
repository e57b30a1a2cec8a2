import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngineDeps } from '../src/engine/deps.js';
import { authenticate, createToken, revokeToken } from '../src/engine/tokens.js';
import { queryRows, type Database } from '../src/storage/database.js';
import { openPostgres } from '../src/storage/postgres/connect.js';
import { testDeps } from './support/app.js';
import { describeEachDriver, testDrivers } from './support/databases.js';
import { withDatabase } from './support/global-setup.js';
import { testPostgresUrl } from './support/test-postgres.js';

/**
 * SPEC §10 with token lookups kept in memory (src/engine/token-cache.ts): a request costs one
 * round trip, not two, and still a revoked token is refused — at once in the process that
 * revoked it, as soon as the announcement arrives in every other one, and never from a
 * lookup kept while the announcements could not be heard.
 */
const bearer = (token: string) => `Bearer ${token}`;

/** A token whose lookup this process keeps: a revocation written behind the cache's back (no announcement) is not seen. */
async function keptToken(deps: EngineDeps, database: Database, name: string, expiresAt: Date | null = null) {
  const { id, token } = await createToken(deps, { name, role: 'viewer', expiresAt });
  // The first lookup starts the LISTEN; lookups are kept once it is ready.
  await expect.poll(async () => {
    await authenticate(deps, bearer(token));
    await database.db.execute(sql`UPDATE api_tokens SET revoked_at = now() WHERE id = ${id}`);
    const stillAccepted = await authenticate(deps, bearer(token)).then(() => true, () => false);
    await database.db.execute(sql`UPDATE api_tokens SET revoked_at = NULL WHERE id = ${id}`);
    return stillAccepted;
  }, { timeout: 5_000 }).toBe(true);
  return { id, token };
}

describeEachDriver('token lookups kept in memory', (ctx) => {
  it('refuses a token on the very next request after this process revoked it', async () => {
    const deps = testDeps(ctx.database);
    const { token } = await keptToken(deps, ctx.database, 'ana');
    expect(await authenticate(deps, bearer(token))).toMatchObject({ kind: 'token', name: 'ana' });
    await revokeToken(deps, 'ana');
    await expect(authenticate(deps, bearer(token))).rejects.toMatchObject({ reason: 'revoked' });
  });

  it('forgets every lookup when a revocation is announced, whoever made it', async () => {
    const deps = testDeps(ctx.database);
    const { id, token } = await keptToken(deps, ctx.database, 'ben');
    // Revoked by another writer (a CLI, another server): the row and its announcement, in one transaction.
    await ctx.database.db.transaction(async (tx) => {
      await tx.execute(sql`UPDATE api_tokens SET revoked_at = now() WHERE id = ${id}`);
      await tx.execute(sql`SELECT pg_notify('stepgate_tokens', ${id}::text)`);
    });
    await expect.poll(() => authenticate(deps, bearer(token)).then(() => 'accepted', (err: { reason: string }) => err.reason), { timeout: 2_000 }).toBe('revoked');
  });

  it('checks expiry on every use: a kept lookup does not outlive its token', async () => {
    const deps = testDeps(ctx.database);
    const expiresAt = new Date(Date.now() + 2_000);
    const { token } = await keptToken(deps, ctx.database, 'cai', expiresAt);
    await new Promise((resolve) => setTimeout(resolve, expiresAt.getTime() - Date.now() + 50));
    await expect(authenticate(deps, bearer(token))).rejects.toMatchObject({ reason: 'expired' });
  });
});

const url = testPostgresUrl();

/** Two processes on one PostgreSQL, each with its own pool and LISTEN connection (PGlite has one process by design). */
describe('[postgres] token lookups kept in two processes', () => {
  let database: Database;
  beforeEach(async () => {
    database = await testDrivers().find((d) => d.name === 'postgres')!.fresh();
  });
  afterEach(async () => {
    await database.close();
  });

  it('refuses in a second process as soon as the first one revoked, and keeps nothing while its LISTEN is lost', async () => {
    const [current] = await queryRows<{ name: string }>(database.db, sql`SELECT current_database() AS name`);
    const other = await openPostgres({ url: withDatabase(url, current!.name), poolSize: 2 });
    try {
      const here = testDeps(database);
      const there = testDeps(other);
      const first = await keptToken(there, other, 'dee');
      await revokeToken(here, 'dee');
      await expect.poll(() => authenticate(there, bearer(first.token)).then(() => 'accepted', (err: { reason: string }) => err.reason), { timeout: 2_000 }).toBe('revoked');

      const second = await keptToken(there, other, 'eve');
      // The other process's LISTEN connection dies: what is announced meanwhile is lost, so what
      // it kept is dropped (at the loss, and again when the connection is back ~100 ms later).
      await database.db.execute(sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'`);
      await database.db.execute(sql`UPDATE api_tokens SET revoked_at = now() WHERE id = ${second.id}`);
      await expect.poll(() => authenticate(there, bearer(second.token)).then(() => 'accepted', (err: { reason: string }) => err.reason), { timeout: 2_000 }).toBe('revoked');
    } finally {
      await other.close();
    }
  });
});
