import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Database } from '../src/storage/database.js';
import { openPglite } from '../src/storage/pglite/connect.js';
import { openPostgres } from '../src/storage/postgres/connect.js';
import { adminQuery } from '../test/support/postgres-admin.js';

export type BenchDbName = 'pglite' | 'postgres';

export interface BenchDatabase {
  readonly name: BenchDbName;
  readonly database: Database;
  /** postgres only: the URL of the scratch database, for a server process. */
  readonly url?: string;
  /** Statements sent to the server so far (postgres; counted at the driver). */
  statements(): number | undefined;
  close(): Promise<void>;
}

let counted = 0;
let patched = false;
/** Counts every query a pg client sends: one statement, one round trip. */
function countPgQueries(): void {
  if (patched) return;
  patched = true;
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    counted++;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
}

export async function openBenchDatabase(name: BenchDbName, serverUrl?: string): Promise<BenchDatabase> {
  if (name === 'pglite') {
    const database = await openPglite({ memory: true });
    await database.migrate();
    return { name, database, statements: () => undefined, close: () => database.close() };
  }
  if (!serverUrl) throw new Error('postgres needs DATABASE_URL');
  // A scratch database of its own, dropped afterwards: the benchmark never writes to yours.
  const scratch = `stepgate_bench_${randomBytes(4).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${scratch}`);
  const url = new URL(serverUrl);
  url.pathname = `/${scratch}`;
  countPgQueries();
  const database = await openPostgres({ url: url.toString(), poolSize: 24 });
  await database.migrate();
  return {
    name,
    database,
    url: url.toString(),
    statements: () => counted,
    async close() {
      await database.close();
      await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
    },
  };
}
