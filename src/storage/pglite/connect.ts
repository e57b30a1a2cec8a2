import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { MIGRATIONS_FOLDER, type Database, type Db } from '../database.js';
import { migrateReporting } from '../migration-report.js';
import * as schema from '../schema.js';
import { lockDataDir, type DataDirLock } from '../data-dir-lock.js';

export type PgliteTarget = (
  /** A data directory: the lock file lives in it, the database in `<dataDir>/pgdata`. */
  | { dataDir: string }
  /** In memory, optionally starting from a dump (tests clone a migrated template this way). */
  | { memory: true; loadDataDir?: Blob }
) & {
  /** PostgreSQL settings on top of PGlite's own (`-c name=value`); the benchmark measures tunings with it. */
  settings?: Record<string, string>;
};

/**
 * Embedded PostgreSQL. One connection: transactions serialize, and PGlite's `transaction()`
 * rolls a failed transaction back before the next statement runs, so one failed statement
 * never poisons the connection.
 */
export async function openPglite(target: PgliteTarget): Promise<Database & { client: PGlite }> {
  let lock: DataDirLock | undefined;
  let client: PGlite;
  const settings = Object.entries(target.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  const startParams = settings.length > 0 ? { startParams: [...PGlite.defaultStartParams, ...settings] } : {};
  if ('dataDir' in target) {
    lock = lockDataDir(target.dataDir);
    try {
      client = await PGlite.create({ dataDir: join(target.dataDir, 'pgdata'), ...startParams });
    } catch (err) {
      lock.release();
      throw err;
    }
  } else {
    client = await PGlite.create({ ...(target.loadDataDir ? { loadDataDir: target.loadDataDir } : {}), ...startParams });
  }
  const db = drizzle({ client, schema }) as unknown as Db;
  let closed = false;
  return {
    kind: 'pglite',
    db,
    shared: false,
    client,
    async migrate(migrationsFolder = MIGRATIONS_FOLDER) {
      // One connection and one process per directory: nothing can migrate concurrently.
      return migrateReporting((text) => client.query(text), migrationsFolder, () => migrate(drizzle({ client }), { migrationsFolder }));
    },
    async listen(channel, onPayload) {
      // One connection in this process: NOTIFY reaches it at commit and is never lost.
      const unlisten = await client.listen(channel, onPayload);
      return async () => {
        if (!closed) await unlisten();
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await client.close();
      } finally {
        lock?.release();
      }
    },
  };
}
