import { sql } from 'drizzle-orm';
import type { PruneCriteria, RunRetention } from '../core/run-retention.js';
import { queryRows, type Db } from './database.js';
import { cursorAt } from './keyset.js';

/** Runs removed per transaction: short transactions, and a prune that stops half-way leaves whole runs. */
const BATCH = 500;

/**
 * Removes final runs (core/run-retention.ts). Each batch is read in creation order from where
 * the last one stopped (one pass over dag_runs whatever the number of batches), then deleted
 * by id under the same conditions, re-checked on the locked rows: a run retried (error →
 * running) between the two statements is not removed. Deleting a run cascades (foreign keys
 * ON DELETE CASCADE) to its step runs, their prompt, LLM call and parsed output artifacts,
 * its attestations and their artifacts, and its run_events (whose append-only trigger lets
 * through the rows of a run that is itself removed). audit_events are not touched: the audit
 * log keeps every request, the prune's own included.
 */
export function createRunRetention(db: Db): RunRetention {
  const matches = (criteria: PruneCriteria) =>
    sql`status = ANY(${`{${criteria.statuses.join(',')}}`}::text[]) AND ended_at < ${criteria.endedBefore.toISOString()}::timestamptz`;
  return {
    async countPrunable(criteria) {
      const [row] = await queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM dag_runs WHERE ${matches(criteria)}`);
      return row?.n ?? 0;
    },
    async prune(criteria) {
      let removed = 0;
      let after: { at: string; id: string } | undefined;
      for (;;) {
        const batch = await queryRows<{ id: string; at: string }>(
          db,
          sql`SELECT id, ${cursorAt(sql.raw('created_at'))} AS at FROM dag_runs
              WHERE ${matches(criteria)} ${after ? sql`AND (created_at, id) > (${after.at}::timestamptz, ${after.id}::uuid)` : sql``}
              ORDER BY created_at, id LIMIT ${BATCH}`,
        );
        if (batch.length === 0) return removed;
        const deleted = await queryRows<{ id: string }>(
          db,
          sql`DELETE FROM dag_runs WHERE id = ANY(${`{${batch.map((r) => r.id).join(',')}}`}::uuid[]) AND ${matches(criteria)} RETURNING id`,
        );
        removed += deleted.length;
        after = batch.at(-1);
      }
    },
  };
}
