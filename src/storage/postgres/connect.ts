import { createHash } from 'node:crypto';
import type { SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { PgDialect } from 'drizzle-orm/pg-core';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { MIGRATIONS_FOLDER, type Database, type Db } from '../database.js';
import { migrateReporting } from '../migration-report.js';
import * as schema from '../schema.js';
import { createListener } from './listener.js';

/** Any constant works as long as every stepgate process uses the same one. */
const MIGRATION_LOCK_KEY = 0x73746770; // "stgp"

export interface PostgresOptions {
  readonly url: string;
  readonly poolSize?: number;
  /** Whether other processes may use it too (default true; the embedded server: false). */
  readonly shared?: boolean;
}

/** A PostgreSQL server, pooled. Several stepgate processes may share one server. */
export async function openPostgres(options: PostgresOptions): Promise<Database & { pool: pg.Pool }> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    // No JIT for stepgate's sessions: its statements are index scans, and at a million runs the
    // few that read many rows (count=true, a deep offset, prune's pass) took twice as long with
    // JIT compiling them (~300 ms of inlining and optimization, nothing gained; BENCHMARKS.md,
    // "Scale"). Past a few million runs their cost crosses jit_above_cost and JIT would start.
    // A SET on each new connection, done before the pool hands it out; not a startup option,
    // which PgBouncer refuses. (pg-pool awaits the hook's promise; @types/pg says void.)
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    onConnect: async (client: pg.ClientBase) => {
      await client.query('SET jit = off');
    },
  });
  // An idle client that loses its server must not crash the process.
  pool.on('error', () => {});
  const probe = await pool.connect().catch(async (err: unknown) => {
    await pool.end();
    throw err;
  });
  probe.release();
  const db = drizzle({ client: pool, schema }) as unknown as Db;
  const dialect = new PgDialect();
  const listener = createListener(options.url);
  let closed = false;
  return {
    kind: 'postgres',
    db,
    pool,
    shared: options.shared ?? true,
    async migrate(migrationsFolder = MIGRATIONS_FOLDER) {
      // Two processes migrating at once would collide on the catalog: serialize them.
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        try {
          return await migrateReporting((text) => client.query(text), migrationsFolder, () => migrate(drizzle({ client }), { migrationsFolder }));
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
        }
      } finally {
        client.release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await listener.close();
      await pool.end();
    },
    listen: (channel, onPayload, onReconnect, onLost) => listener.listen(channel, onPayload, onReconnect, onLost),
    async prepared<T>(query: SQL): Promise<T[]> {
      const { sql: text, params } = dialect.sqlToQuery(query);
      // The name follows the text: the same statement shape is prepared once per connection.
      const name = `stepgate_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      const result = await pool.query({ name, text, values: params as unknown[] });
      return result.rows as T[];
    },
  };
}
