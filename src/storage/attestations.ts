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

/** The single guarded claim of a resume: exactly one caller gets the run. */
export async function claimRun(db: Db, claim: { runId: string; executorId: string; leaseMs: number }) {
  const [row] = await db
    .update(dagRuns)
    .set({
      status: 'running',
      executorId: claim.executorId,
      leaseExpiresAt: sql`now() + make_interval(secs => ${claim.leaseMs / 1000})`,
      updatedAt: sql`now()`,
    })
    .where(
      and(
        eq(dagRuns.id, claim.runId),
        // A waiting run, or one left running by a process whose hold has expired (it died).
        sql`(${dagRuns.status} = 'waiting' OR (${dagRuns.status} = 'running' AND ${dagRuns.leaseExpiresAt} < now()))`,
      ),
    )
    .returning();
  return row;
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
          ORDER BY sr.started_at, sr.id
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
