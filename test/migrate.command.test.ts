import { readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { queryRows } from '../src/storage/database.js';
import { openPostgres } from '../src/storage/postgres/connect.js';
import { runCli } from './support/cli.js';
import { emptyDataDir } from './support/data-dir.js';
import { withDatabase } from './support/global-setup.js';
import { adminQuery, TEST_DB_PREFIX } from './support/postgres-admin.js';
import { testPostgresUrl } from './support/test-postgres.js';

it.each([
  { engine: 'pglite', serves: 'PGlite in' },
  { engine: 'postgres', serves: 'embedded PostgreSQL in' },
] as const)('embedded $engine: npm run migrate applies the migrations and exits; a second run changes nothing', { timeout: 120_000 }, async ({ engine, serves }) => {
  const dir = emptyDataDir('stepgate-migrate-');
  try {
    const first = await runCli(['migrate'], { STEPGATE_DATA_DIR: dir, STEPGATE_EMBEDDED: engine });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout + first.stderr).toMatch(new RegExp(`Applied \\d+ migrations to ${serves} .*: 0000_core, 0001_compute_substrate`));
    const again = await runCli(['migrate'], { STEPGATE_DATA_DIR: dir, STEPGATE_EMBEDDED: engine });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).toContain(`Nothing to apply: the schema of ${serves}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const url = testPostgresUrl();
/** The migrations drizzle-kit generated, from its journal: each is applied exactly once. */
const journal = JSON.parse(readFileSync(new URL('../src/storage/migrations/meta/_journal.json', import.meta.url), 'utf8')) as { entries: unknown[] };

it('[postgres] two processes migrating one server at once both succeed, and a rerun is a no-op', { timeout: 120_000 }, async () => {
  const name = `${TEST_DB_PREFIX}${randomBytes(6).toString('hex')}`;
  await adminQuery(url, `CREATE DATABASE ${name}`);
  const databaseUrl = withDatabase(url, name);
  try {
    const together = await Promise.all([runCli(['migrate'], { DATABASE_URL: databaseUrl }), runCli(['migrate'], { DATABASE_URL: databaseUrl })]);
    expect(together.map((r) => r.code), together.map((r) => r.stderr).join('\n')).toEqual([0, 0]);
    // One of the two applied everything, the other found nothing left to apply.
    const said = together.map((r) => r.stdout + r.stderr).sort();
    expect(said[0]).toMatch(/^Applied \d+ migrations to PostgreSQL at .*: 0000_core, 0001_compute_substrate/m);
    expect(said[1]).toMatch(/^Nothing to apply: the schema of PostgreSQL at .* is current\./m);
    const again = await runCli(['migrate'], { DATABASE_URL: databaseUrl });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).toContain('Nothing to apply');
    const database = await openPostgres({ url: databaseUrl });
    try {
      const applied = await queryRows<{ n: number }>(database.db, sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`);
      expect(applied).toEqual([{ n: journal.entries.length }]);
    } finally {
      await database.close();
    }
  } finally {
    await adminQuery(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
});
