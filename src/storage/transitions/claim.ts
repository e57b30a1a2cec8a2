import { sql, type SQL } from 'drizzle-orm';
import type { Claim, ClaimedRun } from '../../core/run-store.js';
import { queryPrepared, type Db, type PreparedRunner } from '../database.js';
import { appendEvents, runEvent } from './events.js';
import { fromJson, secs, stepRunsOf, type StepRunJson } from './sql.js';

/**
 * claim-resume: `waiting` → `running`; take-over: a stalled `running` run (its lease
 * expired: its executor died or hung) → `running` under a new owner. One guarded UPDATE
 * decides which caller advances the run: among racing resumes exactly one gets the row.
 */
export function claimResume(db: Db, prepared: PreparedRunner | undefined, claim: Claim): Promise<ClaimedRun | undefined> {
  return claimWhere(db, prepared, claim, sql`(status = 'waiting' OR (status = 'running' AND lease_expires_at < now()))`, sql``, 'run_resumed');
}

/**
 * retry: `error` → `running`. The run is held again; the runner then gives every step whose
 * last attempt ended FAIL (or was cancelled by the failure) a new attempt, reusing SUCCESS
 * steps, and continues exactly as on resume.
 */
export function claimRetry(db: Db, prepared: PreparedRunner | undefined, claim: Claim): Promise<ClaimedRun | undefined> {
  return claimWhere(db, prepared, claim, sql`status = 'error'`, sql`, ended_at = NULL, error = NULL`, 'run_retried');
}

async function claimWhere(
  db: Db,
  prepared: PreparedRunner | undefined,
  claim: Claim,
  from: SQL,
  extra: SQL,
  event: 'run_resumed' | 'run_retried',
): Promise<ClaimedRun | undefined> {
  // The step runs and attested_seq are read in the statement's snapshot, so they agree with
  // each other; if an attestation committed while this UPDATE waited for the row, the
  // runner's first flush sees a newer attested_seq and reads the step runs again.
  const [row] = await queryPrepared<{ id: string; manifest_id: string; inputs: unknown; attested_seq: number; step_runs: StepRunJson[] }>(
    db,
    prepared,
    // The run row is locked first (FOR UPDATE), as by every other transition: one run's events
    // then follow its commits exactly (docs/events.md, "Order").
    sql`WITH locked AS (SELECT id FROM dag_runs WHERE id = ${claim.runId} FOR UPDATE),
        claimed AS (
          UPDATE dag_runs SET status = 'running', lease_owner = ${claim.owner},
                 lease_expires_at = now() + ${secs(claim.leaseMs)}, updated_at = now()${extra}
          WHERE id = ${claim.runId} AND ${from} AND EXISTS (SELECT 1 FROM locked)
          RETURNING id, manifest_id, inputs
        ), ${appendEvents('events', [runEvent(event, 'claimed', 'running', 'run-start')])}
        SELECT c.id, c.manifest_id, c.inputs, (SELECT r.attested_seq FROM dag_runs r WHERE r.id = c.id) AS attested_seq,
               ${stepRunsOf(sql`c.id`)} AS step_runs
        FROM claimed c`,
  );
  if (!row) return undefined;
  return { id: row.id, manifestId: row.manifest_id, inputs: row.inputs, attestedSeq: row.attested_seq, stepRuns: fromJson(row.step_runs) };
}

/** The step runs of a run, read again by the executor that holds it (after an attestation). */
export async function readStepRuns(db: Db, prepared: PreparedRunner | undefined, runId: string) {
  const [row] = await queryPrepared<{ attested_seq: number; step_runs: StepRunJson[] }>(
    db,
    prepared,
    sql`SELECT r.attested_seq, ${stepRunsOf(sql`r.id`)} AS step_runs FROM dag_runs r WHERE r.id = ${runId}`,
  );
  return { attestedSeq: row?.attested_seq ?? 0, stepRuns: fromJson(row?.step_runs ?? []) };
}
