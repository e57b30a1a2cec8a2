import { sql } from 'drizzle-orm';
import type { RunStatus, StepRunStatus } from '../../core/lifecycle.js';
import type { AttestationInput, AttestOutcome, AuditRecord } from '../../core/run-store.js';
import { queryPrepared, type Db, type PreparedRunner } from '../database.js';
import { isUniqueViolation } from '../sqlstate.js';
import { auditRow } from './audit.js';
import { appendEvents, runEvent, stepEvent } from './events.js';
import { CANCELLED_BY_ERROR, json } from './sql.js';

/**
 * attest: `WAITING_FOR_ATTESTATION` → `SUCCESS` | `FAIL`, in one statement (so one
 * transaction) that locks the run row first:
 * - the run must be `waiting` or `running` (a runner busy with other steps, or stalled);
 * - the guarded flip of the step run (`… WHERE status = 'WAITING_FOR_ATTESTATION'` and its
 *   `due_at`, if any, not passed): among racing attests the first wins, the others find it
 *   flipped; UNIQUE(step_run_id) backs it up (a violation aborts the whole statement);
 * - the attestation with its contract snapshot, and its artifacts;
 * - the run's `attested_seq` + 1, which tells a runner about to park that it must look
 *   again (no lost wake-up). On FAIL a `waiting` run ends in `error` here, its other waits
 *   cancelled; a `running` run is ended by its runner once the step in flight is recorded;
 * - the request's audit row, if given, when the attestation is made.
 */
export async function attest(db: Db, prepared: PreparedRunner | undefined, input: AttestationInput, audit?: AuditRecord): Promise<AttestOutcome> {
  const fail = input.outcome === 'FAIL';
  const set = fail
    ? sql`status = 'FAIL', error = ${json({ message: 'the operator attested FAIL', notes: input.notes, attested_by: input.attestedBy })}`
    : sql`status = 'SUCCESS', output = ${json(input.output)}`;
  type Row = { attestation_id: string | null; run_status: RunStatus | null; step_status: StepRunStatus | null; overdue: boolean | null };
  try {
    const [row] = await queryPrepared<Row>(
      db,
      prepared,
      sql`WITH run AS (SELECT id, status FROM dag_runs WHERE id = ${input.runId} FOR UPDATE),
          step AS (
            UPDATE dag_step_runs SET ${set}, ended_at = now()
            WHERE id = ${input.stepRunId} AND run_id = ${input.runId} AND status = 'WAITING_FOR_ATTESTATION'
              AND (due_at IS NULL OR due_at >= now())
              AND EXISTS (SELECT 1 FROM run WHERE status IN ('waiting', 'running'))
            RETURNING run_id, id, step_key, item_index, attempt, status
          ), attestation AS (
            INSERT INTO compute_attestations (step_run_id, attested_by, outcome, notes, contract_snapshot, token_id, attested_by_verified)
            SELECT id, ${input.attestedBy}, ${input.outcome}, ${input.notes}, ${json(input.contractSnapshot)}, ${input.tokenId}::uuid, ${input.tokenId !== null} FROM step
            RETURNING id
          ), artifacts AS (
            INSERT INTO compute_artifacts (attestation_id, name, uri, sha256, bytes, verified, verification)
            SELECT attestation.id, a.name, a.uri, a.sha256, a.bytes, a.verified, a.verification
            FROM attestation, json_to_recordset(${JSON.stringify(input.artifacts)}::json)
                 AS a(name text, uri text, sha256 text, bytes bigint, verified boolean, verification text)
          ), seq AS (
            UPDATE dag_runs SET attested_seq = attested_seq + 1, updated_at = now(),
                   status = CASE WHEN ${fail} AND status = 'waiting' THEN 'error' ELSE status END,
                   ended_at = CASE WHEN ${fail} AND status = 'waiting' THEN now() ELSE ended_at END,
                   error = CASE WHEN ${fail} AND status = 'waiting'
                     THEN json_build_object('step_key', (SELECT step_key FROM step), 'step_run_id', ${input.stepRunId}::text,
                                            'message', 'compute step ' || (SELECT step_key FROM step) || ' was attested FAIL')::jsonb
                     ELSE error END
            WHERE id = ${input.runId} AND EXISTS (SELECT 1 FROM attestation)
            RETURNING id, status, error
          ), cancelled AS (
            UPDATE dag_step_runs SET status = 'CANCELLED', ended_at = now(), error = ${json(CANCELLED_BY_ERROR)}
            WHERE run_id = ${input.runId} AND status = 'WAITING_FOR_ATTESTATION' AND id <> ${input.stepRunId}
              AND EXISTS (SELECT 1 FROM seq WHERE status = 'error')
            RETURNING run_id, id, step_key, item_index, attempt
          ), failed AS (SELECT id, error->>'message' AS message FROM seq WHERE status = 'error' AND ${fail}),
          ${audit ? sql`${auditRow('audit', audit, 'attestation')},` : sql``}
          ${appendEvents('events', [
            stepEvent('step_attested', 'step', sql`status`),
            stepEvent('step_cancelled', 'cancelled', 'CANCELLED'),
            runEvent('run_failed', 'failed', 'error', 'run-end', { message: sql`message` }),
          ])}
          SELECT (SELECT id FROM attestation) AS attestation_id, (SELECT status FROM run) AS run_status,
                 s.status AS step_status, s.due_at < now() AS overdue
          FROM (SELECT 1) AS one LEFT JOIN dag_step_runs s ON s.id = ${input.stepRunId} AND s.run_id = ${input.runId}`,
    );
    if (row?.attestation_id) return { kind: 'attested', attestationId: row.attestation_id };
    return { kind: 'refused', runStatus: row?.run_status ?? null, stepStatus: row?.step_status ?? null, overdue: row?.overdue === true };
  } catch (err) {
    if (isUniqueViolation(err, 'compute_attestations_step_run_id_key')) return { kind: 'already-attested' };
    throw err;
  }
}
