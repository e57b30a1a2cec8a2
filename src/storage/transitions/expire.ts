import { sql } from 'drizzle-orm';
import { queryPrepared, type Db, type PreparedRunner } from '../database.js';
import { appendEvents, stepEvent } from './events.js';

/**
 * expire: `WAITING_FOR_ATTESTATION` → `FAIL` ("deadline passed"). Deadlines are evaluated
 * lazily, never by a timer: a resume that finds a wait past its `due_at` ends it, and the
 * runner then ends the run in `error` (a retry gives a fresh attempt and a fresh due_at).
 * Only the executor holding the run does this, under its lock.
 */
export async function expireOverdue(db: Db, prepared: PreparedRunner | undefined, runId: string, owner: string): Promise<string[]> {
  const rows = await queryPrepared<{ step_key: string }>(
    db,
    prepared,
    sql`WITH held AS (SELECT id FROM dag_runs WHERE id = ${runId} AND lease_owner = ${owner} AND status = 'running' FOR UPDATE),
      expired AS (
        UPDATE dag_step_runs SET status = 'FAIL', ended_at = now(),
               error = json_build_object('message', 'deadline passed: no attestation came by ' || to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                                         'due_at', due_at)::jsonb
        WHERE run_id = ${runId} AND status = 'WAITING_FOR_ATTESTATION' AND due_at < now() AND EXISTS (SELECT 1 FROM held)
        RETURNING run_id, id, step_key, item_index, attempt, error),
      ${appendEvents('events', [stepEvent('step_failed', 'expired', 'FAIL', { message: sql`error->>'message'` })])}
      SELECT step_key FROM expired`,
  );
  return rows.map((row) => row.step_key);
}
