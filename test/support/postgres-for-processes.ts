import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { Database } from '../../src/storage/database.js';
import { openPostgres } from '../../src/storage/postgres/connect.js';
import { withDatabase } from './global-setup.js';
import { adminQuery, TEST_DB_PREFIX } from './postgres-admin.js';

export interface SharedPostgres {
  /** For the server processes' DATABASE_URL. */
  readonly url: string;
  /** The test's own connection, to look at what the processes wrote. */
  readonly database: Database;
  /** Closes the connection and drops the database. */
  close(): Promise<void>;
}

/**
 * A fresh, migrated PostgreSQL database (a clone of the suite's template) that several real
 * server processes share, as in production; dropped (even with processes still connected)
 * on close.
 */
export async function postgresForProcesses(adminUrl: string): Promise<SharedPostgres> {
  const template = inject('postgresTemplate');
  const name = `${TEST_DB_PREFIX}${randomBytes(6).toString('hex')}`;
  // Concurrent clones of one template can briefly see it "in use" (55006): try again.
  for (let tries = 1; ; tries++) {
    try {
      await adminQuery(adminUrl, `CREATE DATABASE ${name} TEMPLATE ${template}`);
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== '55006' || tries >= 20) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50 * tries));
    }
  }
  const url = withDatabase(adminUrl, name);
  const database = await openPostgres({ url, poolSize: 5 });
  return {
    url,
    database,
    async close() {
      await database.close();
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
