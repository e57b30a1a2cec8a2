import { sql } from 'drizzle-orm';
import type { RunStatus } from '../../core/lifecycle.js';
import type { Claim } from '../../core/run-store.js';
import { queryPrepared, type Db, type PreparedRunner } from '../database.js';
import { appendEvents, stepEvent } from './events.js';
import { secs } from './sql.js';

/**
 * renew-lease: the executor extends its hold while it works, every third of the lease, also
 * while an LLM call is in flight, so that a live run is never taken over (SPEC §9). Nothing
 * is renewed for an executor that lost the run; it learns so from the answer.
 */
export async function renewLease(db: Db, prepared: PreparedRunner | undefined, claim: Claim): Promise<{ status: RunStatus; attestedSeq: number } | undefined> {
  const [row] = await queryPrepared<{ status: RunStatus; attested_seq: number }>(
    db,
    prepared,
    sql`UPDATE dag_runs SET lease_expires_at = now() + ${secs(claim.leaseMs)}
        WHERE id = ${claim.runId} AND lease_owner = ${claim.owner} AND status IN ('running', 'cancelled')
        RETURNING status, attested_seq`,
  );
  return row ? { status: row.status, attestedSeq: row.attested_seq } : undefined;
}

/**
 * hand-back: after an unexpected failure (not a decision: say, the database dropped the
 * connection mid-step) the executor gives the run up as stalled at once — its lease ends
 * now — so that a resume takes it over and counts the step in flight as an attempt. A run
 * cancelled meanwhile just loses its lease, and its step in flight is cancelled.
 */
export async function handBack(db: Db, runId: string, owner: string): Promise<void> {
  await db.execute(sql`WITH locked AS (SELECT id FROM dag_runs WHERE id = ${runId} FOR UPDATE),
    run AS (
      UPDATE dag_runs SET lease_expires_at = CASE WHEN status = 'running' THEN now() END,
                          lease_owner = CASE WHEN status = 'running' THEN lease_owner END, updated_at = now()
      WHERE id = ${runId} AND lease_owner = ${owner} AND EXISTS (SELECT 1 FROM locked)
      RETURNING status),
    cancelled AS (
      UPDATE dag_step_runs SET status = 'CANCELLED', ended_at = now(), error = '{"message": "the run was cancelled while this step ran"}'::jsonb
      WHERE run_id = ${runId} AND status = 'RUNNING' AND EXISTS (SELECT 1 FROM run WHERE status = 'cancelled')
      RETURNING run_id, id, step_key, item_index, attempt),
    ${appendEvents('events', [stepEvent('step_cancelled', 'cancelled', 'CANCELLED')])}
    SELECT 1`);
}
