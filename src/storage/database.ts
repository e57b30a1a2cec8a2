import { fileURLToPath } from 'node:url';
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type * as schema from './schema.js';

/** The one database port: both drivers hand out a Drizzle database over the same schema. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** A transaction handle; it offers everything a Db offers. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export type DriverKind = 'pglite' | 'postgres';

export interface Database {
  readonly kind: DriverKind;
  readonly db: Db;
  /**
   * Other processes may write to this database: a PostgreSQL server of DATABASE_URL. False
   * where one stepgate process owns it (the embedded server, PGlite, each behind the data
   * directory's lock): then run events need no announcing between processes.
   */
  readonly shared: boolean;
  /**
   * Applies pending migrations and answers their names, in order (none when the schema is
   * current). Safe to run concurrently. `migrationsFolder` exists for tests that stop at an
   * older migration.
   */
  migrate(migrationsFolder?: string): Promise<string[]>;
  /** Closes connections and releases what the driver holds (PGlite: the data directory lock). */
  close(): Promise<void>;
  /**
   * Runs a statement as a named prepared statement, where the driver supports it (PostgreSQL):
   * parsed and planned once per connection instead of on every call. For hot statements whose
   * text repeats (the runner's batched writes).
   */
  readonly prepared?: PreparedRunner;
  /**
   * LISTENs on `channel`: `onPayload` gets each NOTIFY payload, in commit order, from every
   * process sharing the database. A connection lost and made again calls `onReconnect` (what
   * was notified meanwhile is gone: the caller reads it back); `onLost` is called as soon as
   * the connection is lost, before that. Answers the unsubscribe.
   */
  listen(channel: string, onPayload: (payload: string) => void, onReconnect?: () => void, onLost?: () => void): Promise<() => Promise<void>>;
}

export type PreparedRunner = <T>(query: SQL) => Promise<T[]>;

/** Resolved from this file, not from the working directory, so any cwd works. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url));

/** Runs raw SQL and returns its rows; both drivers answer `{ rows }`. */
export async function queryRows<T>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

/** Runs a statement prepared when the driver offers it, else as a plain query. */
export function queryPrepared<T>(db: Db, prepared: PreparedRunner | undefined, query: SQL): Promise<T[]> {
  return prepared ? prepared<T>(query) : queryRows<T>(db, query);
}
