import { and, eq, sql } from 'drizzle-orm';
import type { Db } from './database.js';
import { queryRows } from './database.js';
import { computeArtifacts, computeAttestations, dagRuns, dagStepRuns } from './schema.js';

export interface ArtifactInput {
  readonly name: string;
  readonly uri: string;
  readonly sha256: string;
  readonly bytes: number;
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

class Rollback extends Error {
  constructor(readonly outcome: AttestOutcome) {
    super(outcome.kind);
  }
}

/**
 * One transaction: the attestation (the UNIQUE(step_run_id) constraint decides between racing
 * attests), its artifacts, and the guarded flip of the step run. FAIL ends the run in error and
 * cancels the run's other waiting compute steps. Anything short of all of it rolls back.
 */
export async function recordAttestation(db: Db, input: AttestationInput): Promise<AttestOutcome> {
  try {
    return await db.transaction(async (tx) => {
      const [attestation] = await tx
        .insert(computeAttestations)
        .values({
          stepRunId: input.stepRunId,
          attestedBy: input.attestedBy,
          outcome: input.outcome,
          notes: input.notes,
          contractSnapshot: input.contractSnapshot,
        })
        .onConflictDoNothing({ target: computeAttestations.stepRunId })
        .returning({ id: computeAttestations.id });
      if (!attestation) throw new Rollback({ kind: 'already-attested' });
      if (input.artifacts.length > 0) {
        await tx.insert(computeArtifacts).values(input.artifacts.map((a) => ({ attestationId: attestation.id, ...a })));
      }
      const flipped = await tx
        .update(dagStepRuns)
        .set(
          input.outcome === 'SUCCESS'
            ? { status: 'SUCCESS', endedAt: sql`now()`, output: input.output }
            : { status: 'FAIL', endedAt: sql`now()`, error: { message: 'the operator attested FAIL', notes: input.notes, attested_by: input.attestedBy } },
        )
        .where(and(eq(dagStepRuns.id, input.stepRunId), eq(dagStepRuns.runId, input.runId), eq(dagStepRuns.status, 'WAITING_FOR_ATTESTATION')))
        .returning({ id: dagStepRuns.id, stepKey: dagStepRuns.stepKey });
      if (flipped.length === 0) throw new Rollback({ kind: 'not-waiting' });
      if (input.outcome === 'FAIL') {
        await queryRows(
          tx as unknown as Db,
          sql`WITH run AS (
                UPDATE dag_runs SET status = 'error', ended_at = now(), executor_id = NULL, lease_expires_at = NULL, updated_at = now(),
                       error = ${JSON.stringify({ step_key: flipped[0]!.stepKey, step_run_id: input.stepRunId, message: `compute step ${flipped[0]!.stepKey} was attested FAIL` })}::jsonb
                WHERE id = ${input.runId} AND status IN ('waiting', 'running')
                RETURNING id
              )
              UPDATE dag_step_runs SET status = 'CANCELLED', ended_at = now(),
                     error = '{"message": "the run ended in error before this step was attested"}'::jsonb
              WHERE run_id = ${input.runId} AND status = 'WAITING_FOR_ATTESTATION' AND EXISTS (SELECT 1 FROM run)`,
        );
      }
      return { kind: 'attested' as const, attestationId: attestation.id };
    });
  } catch (err) {
    if (err instanceof Rollback) return err.outcome;
    throw err;
  }
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
): Promise<{ id: string; manifestId: string; inputs: unknown; stepRuns: ClaimedStepRun[] } | undefined> {
  const [row] = await queryRows<{ id: string; manifest_id: string; inputs: unknown; step_runs: ClaimedStepRun[] }>(
    db,
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
