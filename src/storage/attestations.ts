import { and, eq, sql } from 'drizzle-orm';
import type { Db } from './database.js';
import { queryPrepared, queryRows, type PreparedRunner } from './database.js';
import { dagRuns } from './schema.js';
import { isUniqueViolation } from './sqlstate.js';

export interface ArtifactInput {
  readonly name: string;
  readonly uri: string;
  readonly sha256: string;
  readonly bytes: number;
  /** Digest verification at attest time (core/provenance/verification.ts). */
  readonly verified: boolean;
  readonly verification: string;
}

export interface AttestationInput {
  readonly runId: string;
  readonly stepRunId: string;
  readonly outcome: 'SUCCESS' | 'FAIL';
  readonly notes: string | null;
  readonly attestedBy: string;
  readonly contractSnapshot: unknown;
  readonly artifacts: readonly ArtifactInput[];
  /** The step's canonical output on SUCCESS (`{ outcome, notes, artifacts }`). */
  readonly output: unknown;
}

export type AttestOutcome = { kind: 'attested'; attestationId: string } | { kind: 'already-attested' } | { kind: 'not-waiting' };

/**
 * One statement, so one transaction: the guarded flip of the step run (`… WHERE status =
 * 'WAITING_FOR_ATTESTATION'`: among racing attests, the first to lock the row wins and the
 * others find it flipped), the attestation (UNIQUE(step_run_id) as the backstop: a violation
 * aborts the whole statement), its artifacts, and, on FAIL, the run's end in error with its
 * other waiting compute steps cancelled.
 */
export async function recordAttestation(db: Db, input: AttestationInput, prepared?: PreparedRunner): Promise<AttestOutcome> {
  const set =
    input.outcome === 'SUCCESS'
      ? sql`status = 'SUCCESS', output = ${JSON.stringify(input.output)}::jsonb`
      : sql`status = 'FAIL', error = ${JSON.stringify({ message: 'the operator attested FAIL', notes: input.notes, attested_by: input.attestedBy })}::jsonb`;
  try {
    const [row] = await queryPrepared<{ attestation_id: string | null }>(
      db,
      prepared,
      sql`WITH step AS (
            UPDATE dag_step_runs SET ${set}, ended_at = now()
            WHERE id = ${input.stepRunId} AND run_id = ${input.runId} AND status = 'WAITING_FOR_ATTESTATION'
            RETURNING id, step_key
          ), attestation AS (
            INSERT INTO compute_attestations (step_run_id, attested_by, outcome, notes, contract_snapshot)
            SELECT id, ${input.attestedBy}, ${input.outcome}, ${input.notes}, ${JSON.stringify(input.contractSnapshot)}::jsonb FROM step
            RETURNING id
          ), artifacts AS (
            INSERT INTO compute_artifacts (attestation_id, name, uri, sha256, bytes, verified, verification)
            SELECT attestation.id, a.name, a.uri, a.sha256, a.bytes, a.verified, a.verification
            FROM attestation, json_to_recordset(${JSON.stringify(input.artifacts)}::json)
                 AS a(name text, uri text, sha256 text, bytes bigint, verified boolean, verification text)
          ), run AS (
            UPDATE dag_runs SET status = 'error', ended_at = now(), executor_id = NULL, lease_expires_at = NULL, updated_at = now(),
                   error = json_build_object('step_key', (SELECT step_key FROM step), 'step_run_id', ${input.stepRunId}::text,
                                             'message', 'compute step ' || (SELECT step_key FROM step) || ' was attested FAIL')::jsonb
            WHERE id = ${input.runId} AND ${input.outcome === 'FAIL'} AND status IN ('waiting', 'running') AND EXISTS (SELECT 1 FROM attestation)
            RETURNING id
          ), cancelled AS (
            UPDATE dag_step_runs SET status = 'CANCELLED', ended_at = now(),
                   error = '{"message": "the run ended in error before this step was attested"}'::jsonb
            WHERE run_id = ${input.runId} AND status = 'WAITING_FOR_ATTESTATION' AND id <> ${input.stepRunId} AND EXISTS (SELECT 1 FROM run)
          )
          SELECT (SELECT id FROM attestation) AS attestation_id`,
    );
    return row?.attestation_id ? { kind: 'attested', attestationId: row.attestation_id } : { kind: 'not-waiting' };
  } catch (err) {
    if (isUniqueViolation(err, 'compute_attestations_step_run_id_key')) return { kind: 'already-attested' };
    throw err;
  }
}

/**
 * Where a step run stands before an attestation: its run, its status, whether it is attested.
 * Undefined when the run does not exist; a null step_key when the run has no such step run.
 */
export async function attestationTarget(db: Db, runId: string, stepRunId: string | null, prepared?: PreparedRunner) {
  const [row] = await queryPrepared<{ run_manifest_id: string; step_key: string | null; status: string | null; attested: boolean }>(
    db,
    prepared,
    sql`SELECT r.manifest_id AS run_manifest_id, s.step_key, s.status,
               EXISTS (SELECT 1 FROM compute_attestations a WHERE a.step_run_id = s.id) AS attested
        FROM dag_runs r LEFT JOIN dag_step_runs s ON s.id = ${stepRunId}::uuid AND s.run_id = r.id
        WHERE r.id = ${runId}`,
  );
  return row;
}

/** What the runner needs of a step run it finds when it resumes a run. */
export interface ClaimedStepRun {
  readonly id: string;
  readonly stepKey: string;
  readonly status: string;
  readonly attempt: number;
  readonly output: unknown;
}

/**
 * The single guarded claim of a resume: exactly one caller gets the run. The same round trip
 * reads back the run's step runs, from which the runner rebuilds its state.
 */
export async function claimRun(
  db: Db,
  claim: { runId: string; executorId: string; leaseMs: number },
  prepared?: PreparedRunner,
): Promise<{ id: string; manifestId: string; inputs: unknown; stepRuns: ClaimedStepRun[] } | undefined> {
  const [row] = await queryPrepared<{ id: string; manifest_id: string; inputs: unknown; step_runs: ClaimedStepRun[] }>(
    db,
    prepared,
    sql`WITH claimed AS (
          UPDATE dag_runs SET status = 'running', executor_id = ${claim.executorId},
                 lease_expires_at = now() + make_interval(secs => ${claim.leaseMs / 1000}), updated_at = now()
          WHERE id = ${claim.runId}
            -- A waiting run, or one left running by a process whose hold has expired (it died).
            AND (status = 'waiting' OR (status = 'running' AND lease_expires_at < now()))
          RETURNING id, manifest_id, inputs
        )
        SELECT c.id, c.manifest_id, c.inputs, COALESCE((
          SELECT json_agg(json_build_object('id', s.id, 'stepKey', s.step_key, 'status', s.status, 'attempt', s.attempt, 'output', s.output))
          FROM dag_step_runs s WHERE s.run_id = c.id), '[]'::json) AS step_runs
        FROM claimed c`,
  );
  return row ? { id: row.id, manifestId: row.manifest_id, inputs: row.inputs, stepRuns: row.step_runs } : undefined;
}

/** Gives a run back as `waiting` after an advance failed unexpectedly, so it can be resumed. */
export async function returnRunToWaiting(db: Db, run: { runId: string; executorId: string }): Promise<void> {
  await db
    .update(dagRuns)
    .set({ status: 'waiting', executorId: null, leaseExpiresAt: null, updatedAt: sql`now()` })
    .where(and(eq(dagRuns.id, run.runId), eq(dagRuns.status, 'running'), eq(dagRuns.executorId, run.executorId)));
}

export interface PendingRow {
  step_run_id: string;
  run_id: string;
  step_key: string;
  started_at: Date | string;
  attempt: number;
  manifest_id: string;
  manifest_name: string;
  manifest_version: number;
  compute_contract: unknown;
  depends_on: string[];
  run_inputs: unknown;
}

/** Every step run waiting for attestation, oldest first. */
export async function pendingAttestations(db: Db, page: { limit: number; offset: number }) {
  const [items, totals] = await Promise.all([
    queryRows<PendingRow>(
      db,
      sql`SELECT sr.id AS step_run_id, sr.run_id, sr.step_key, sr.started_at, sr.attempt,
                 m.id AS manifest_id, m.name AS manifest_name, m.version AS manifest_version,
                 ms.compute_contract, ms.depends_on, r.inputs AS run_inputs
          FROM dag_step_runs sr
          JOIN dag_runs r ON r.id = sr.run_id
          JOIN manifests m ON m.id = r.manifest_id
          JOIN manifest_steps ms ON ms.id = sr.manifest_step_id
          WHERE sr.status = 'WAITING_FOR_ATTESTATION'
          ORDER BY sr.started_at, ms.position, sr.id
          LIMIT ${page.limit} OFFSET ${page.offset}`,
    ),
    queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM dag_step_runs WHERE status = 'WAITING_FOR_ATTESTATION'`),
  ]);
  return { items, total: totals[0]?.n ?? 0 };
}

/** Canonical outputs of the SUCCESS step runs of some runs, by run and step key. */
export async function successfulOutputs(db: Db, runIds: string[]) {
  if (runIds.length === 0) return [];
  return queryRows<{ run_id: string; step_key: string; output: unknown; step_type: string | null }>(
    db,
    sql`SELECT sr.run_id, sr.step_key, sr.output, ms.step_type
        FROM dag_step_runs sr JOIN manifest_steps ms ON ms.id = sr.manifest_step_id
        WHERE sr.status = 'SUCCESS' AND sr.run_id IN (${sql.join(runIds.map((id) => sql`${id}::uuid`), sql`, `)})`,
  );
}
