import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { adminQuery, TEST_DB_PREFIX } from './postgres-admin.js';
import { startServer, type ServerProcess } from './server-process.js';
import { migratedDataDir } from './data-dir.js';

export interface ConsoleServer {
  readonly server: ServerProcess;
  stop(): Promise<void>;
}

/**
 * The built server (what `npm start` runs) for the browser tests. With TEST_DATABASE_URL it
 * serves a fresh PostgreSQL database (it starts in a second); otherwise PGlite in `work`,
 * copied from the migrated template (a first start's initdb takes seconds of CPU).
 */
export async function startConsoleServer(work: string, env: Record<string, string> = {}): Promise<ConsoleServer> {
  const url = process.env.TEST_DATABASE_URL;
  let database: { url: string; name: string } | undefined;
  if (url) {
    const name = `${TEST_DB_PREFIX}console_${randomBytes(4).toString('hex')}`;
    await adminQuery(url, `CREATE DATABASE ${name}`);
    const target = new URL(url);
    target.pathname = `/${name}`;
    database = { url: target.toString(), name };
  }
  const server = await startServer({ STEPGATE_DATA_DIR: database ? join(work, '.stepgate') : migratedDataDir(join(work, '.stepgate')), ...(database ? { DATABASE_URL: database.url } : {}), ...env }, { built: true, startTimeoutMs: 120_000 });
  return {
    server,
    async stop() {
      await server.stop();
      if (url && database) await adminQuery(url, `DROP DATABASE IF EXISTS ${database.name} WITH (FORCE)`);
    },
  };
}
