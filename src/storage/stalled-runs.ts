import { sql } from 'drizzle-orm';
import { queryRows, type Db } from './database.js';

/** Runs left `running` by a process whose lease expired: a resume recovers them. */
export async function countStalledRuns(db: Db): Promise<number> {
  const [row] = await queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM dag_runs WHERE status = 'running' AND lease_expires_at < now()`);
  return row?.n ?? 0;
}
