import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EmbeddedPostgresError } from '../core/errors.js';
import type { Database } from './database.js';
import { lockDataDir } from './data-dir-lock.js';
import { embeddedServerRequirements, startEmbeddedServer, type EmbeddedServer } from './postgres/embedded-server.js';
import { openPostgres } from './postgres/connect.js';

/** Which database serves when DATABASE_URL is unset (STEPGATE_EMBEDDED). */
export type EmbeddedChoice = 'auto' | 'postgres' | 'pglite';

export interface DatabaseConfig {
  /** postgres://… selects a PostgreSQL server; otherwise an embedded database in dataDir. */
  readonly databaseUrl?: string | undefined;
  readonly dataDir: string;
  /** Without databaseUrl: auto (PostgreSQL's server unless it cannot run here or dataDir holds PGlite data), postgres or pglite. */
  readonly embedded?: EmbeddedChoice;
}

export interface OpenedDatabase extends Database {
  /** What serves, for people: "PostgreSQL at host/db", "embedded PostgreSQL in …", "PGlite in …". */
  readonly description: string;
  /** Why `auto` chose PGlite, when it did: worth a line in the log. */
  readonly notice?: string;
  /** The embedded server: settles if it exits without being stopped, saying why. */
  readonly lost?: Promise<string>;
}

export async function openDatabase(config: DatabaseConfig): Promise<OpenedDatabase> {
  if (config.databaseUrl) {
    const url = new URL(config.databaseUrl);
    return Object.assign(await openPostgres({ url: config.databaseUrl }), { description: `PostgreSQL at ${url.host}${url.pathname}` });
  }
  const dataDir = resolve(config.dataDir);
  const choice = config.embedded ?? 'auto';
  if (choice === 'auto' && existsSync(join(dataDir, 'pgdata'))) {
    return openPgliteIn(dataDir, `${dataDir} holds a PGlite database (an earlier stepgate's, or made where the embedded PostgreSQL server could not run), so PGlite serves it; STEPGATE_DATA_DIR=<a new directory> starts on the embedded PostgreSQL server`);
  }
  if (choice === 'pglite') return openPgliteIn(dataDir);
  const requirements = await embeddedServerRequirements(dataDir);
  if (typeof requirements === 'string') {
    if (choice === 'postgres') throw new EmbeddedPostgresError(requirements);
    return openPgliteIn(dataDir, `PGlite serves instead of embedded PostgreSQL: ${requirements}`);
  }
  const lock = lockDataDir(dataDir);
  let server: EmbeddedServer | undefined;
  try {
    server = await startEmbeddedServer(dataDir, requirements.binaries, requirements.account);
    const database = await openPostgres({ url: server.url, shared: false });
    const stop = server.stop;
    return {
      ...database,
      description: `embedded PostgreSQL in ${join(dataDir, 'postgres')}`,
      lost: server.lost,
      async close() {
        try {
          await database.close();
        } finally {
          await stop();
          lock.release();
        }
      },
    };
  } catch (err) {
    await server?.stop();
    lock.release();
    throw err;
  }
}

async function openPgliteIn(dataDir: string, notice?: string): Promise<OpenedDatabase> {
  // PGlite (and its WebAssembly) only when it is the database.
  const { openPglite } = await import('./pglite/connect.js');
  const database = await openPglite({ dataDir });
  return Object.assign(database, { description: `PGlite in ${dataDir}`, ...(notice ? { notice } : {}) });
}
