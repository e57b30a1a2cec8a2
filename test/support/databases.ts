import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, inject } from 'vitest';
import type { Database } from '../../src/storage/database.js';
import { openPglite } from '../../src/storage/pglite/connect.js';
import { openPostgres } from '../../src/storage/postgres/connect.js';
import { withDatabase } from './global-setup.js';
import { adminQuery, TEST_DB_PREFIX } from './postgres-admin.js';

export type DriverName = 'pglite' | 'postgres';

export interface TestDriver {
  readonly name: DriverName;
  /** A fresh, migrated database, private to the caller. */
  fresh(): Promise<Database>;
  /** A fresh database with no tables at all (migration tests). */
  empty(): Promise<Database>;
}

let templateBlob: Blob | undefined;

const pgliteDriver: TestDriver = {
  name: 'pglite',
  async fresh() {
    templateBlob ??= new Blob([readFileSync(inject('pgliteTemplate'))]);
    return openPglite({ memory: true, loadDataDir: templateBlob });
  },
  async empty() {
    return openPglite({ memory: true });
  },
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

/** PGlite always; PostgreSQL too when TEST_DATABASE_URL is set. */
export function testDrivers(): TestDriver[] {
  const url = process.env.TEST_DATABASE_URL;
  const template = inject('postgresTemplate');
  return url && template ? [pgliteDriver, postgresDriver(url, template)] : [pgliteDriver];
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
