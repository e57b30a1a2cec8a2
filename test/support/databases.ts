import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, inject } from 'vitest';
import type { PGlite } from '@electric-sql/pglite';
import type { Database } from '../../src/storage/database.js';
import { openPglite } from '../../src/storage/pglite/connect.js';
import { openPostgres } from '../../src/storage/postgres/connect.js';
import { withDatabase } from './global-setup.js';
import { adminQuery, TEST_DB_PREFIX } from './postgres-admin.js';
import { testPostgresUrl } from './test-postgres.js';

export type DriverName = 'pglite' | 'postgres';

export interface TestDriver {
  readonly name: DriverName;
  /** A fresh, migrated database, private to the caller. */
  fresh(): Promise<Database>;
  /** A fresh database with no tables at all (migration tests). */
  empty(): Promise<Database>;
}

let templateBlob: Blob | undefined;

/**
 * PGlite databases are reused within a test worker: a new instance costs ~1.7 s of CPU (it
 * loads its WebAssembly and the cloned data directory; an initdb ~5 s), while making a
 * returned one fresh again takes milliseconds. A fresh database gets every table emptied,
 * identities restarted and its listeners dropped: the migrated schema and no rows, as a new
 * clone would have. An empty one gets its schemas dropped: no tables at all, as after an
 * initdb. A fresh database whose schema a test changed (a trigger, a function, a column) is
 * closed instead of reused: the reset empties tables, it does not undo DDL, and a trigger left
 * behind by one test file failed requests of the next one in the same worker.
 */
const idle = { fresh: [] as PgliteDatabase[], empty: [] as PgliteDatabase[] };
type PgliteDatabase = Database & { client: PGlite };

const RESET = {
  fresh: `
    DO $$
    DECLARE tables text;
    BEGIN
      -- The append-only tables refuse TRUNCATE by a trigger; replica mode skips ordinary triggers.
      PERFORM set_config('session_replication_role', 'replica', true);
      SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') INTO tables FROM pg_tables WHERE schemaname = 'public';
      EXECUTE 'TRUNCATE ' || tables || ' RESTART IDENTITY CASCADE';
    END $$;`,
  empty: 'DROP SCHEMA IF EXISTS drizzle CASCADE; DROP SCHEMA public CASCADE; CREATE SCHEMA public;',
};

/** What a test could change in the schema of a fresh database, counted: triggers, functions, relations, columns. */
const SCHEMA_SHAPE = `SELECT concat_ws('/',
  (SELECT count(*) FROM pg_trigger),
  (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace),
  (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace),
  (SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = 'public'::regnamespace)) AS shape`;
let migratedShape: string | undefined;

async function schemaShape(database: PgliteDatabase): Promise<string> {
  const { rows } = await database.client.query<{ shape: string }>(SCHEMA_SHAPE);
  return rows[0]!.shape;
}

async function reusable(kind: 'fresh' | 'empty'): Promise<Database> {
  let database = idle[kind].pop();
  if (database) {
    for (const channel of ['stepgate_events', 'stepgate_tokens']) await database.client.unlisten(channel);
    await database.client.exec(RESET[kind]);
  } else {
    templateBlob ??= new Blob([readFileSync(inject('pgliteTemplate'))]);
    database = await openPglite({ memory: true, loadDataDir: templateBlob });
    if (kind === 'empty') await database.client.exec(RESET.empty);
    else migratedShape ??= await schemaShape(database);
  }
  const held = database;
  let returned = false;
  return {
    ...held,
    async close() {
      if (returned) return;
      returned = true;
      if (kind === 'fresh' && (await schemaShape(held)) !== migratedShape) await held.close();
      else idle[kind].push(held);
    },
  };
}

const pgliteDriver: TestDriver = {
  name: 'pglite',
  fresh: () => reusable('fresh'),
  empty: () => reusable('empty'),
};

function postgresDriver(url: string, template: string): TestDriver {
  const create = async (from: string | undefined) => {
    const name = `${TEST_DB_PREFIX}${randomBytes(6).toString('hex')}`;
    const statement = from ? `CREATE DATABASE ${name} TEMPLATE ${from}` : `CREATE DATABASE ${name}`;
    // Concurrent clones of one template can briefly see it "in use" (55006): try again.
    for (let tries = 1; ; tries++) {
      try {
        await adminQuery(url, statement);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== '55006' || tries >= 20) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50 * tries));
      }
    }
    const database = await openPostgres({ url: withDatabase(url, name), poolSize: 20 });
    return {
      ...database,
      async close() {
        await database.close();
        await adminQuery(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      },
    };
  };
  return { name: 'postgres', fresh: () => create(template), empty: () => create(undefined) };
}

/**
 * PGlite, and PostgreSQL: TEST_DATABASE_URL's server, else the embedded one the global setup
 * started. STEPGATE_TEST_DRIVERS (`pglite`, `postgres`, or both, comma-separated) keeps only
 * those: CI's second run, on the Active LTS, runs the contract suites on PostgreSQL alone —
 * the engine's code is the same on either driver, PGlite's WebAssembly the same on either Node,
 * and PGlite still serves that run's server processes.
 */
export function testDrivers(): TestDriver[] {
  const all = [pgliteDriver, postgresDriver(testPostgresUrl(), inject('postgresTemplate'))];
  const only = process.env.STEPGATE_TEST_DRIVERS?.split(',').map((name) => name.trim()).filter(Boolean);
  if (!only || only.length === 0) return all;
  const unknown = only.filter((name) => !all.some((driver) => driver.name === name));
  if (unknown.length > 0) throw new Error(`STEPGATE_TEST_DRIVERS names no driver "${unknown.join('", "')}": use pglite, postgres or both`);
  return all.filter((driver) => only.includes(driver.name));
}

/**
 * One contract suite, every driver: `describe` titled `[pglite]` / `[postgres]`, with a fresh
 * migrated database per test in `ctx.database`.
 */
export function describeEachDriver(
  title: string,
  body: (ctx: { readonly database: Database; readonly driver: TestDriver }) => void,
  options: { /** One database for the whole describe: only for tests that must store nothing. */ shared?: boolean } = {},
) {
  const [setup, teardown] = options.shared ? [beforeAll, afterAll] : [beforeEach, afterEach];
  for (const driver of testDrivers()) {
    describe(`[${driver.name}] ${title}`, () => {
      const ctx = { driver } as { database: Database; driver: TestDriver };
      setup(async () => {
        ctx.database = await driver.fresh();
      });
      teardown(async () => {
        await ctx.database.close();
      });
      body(ctx);
    });
  }
}
