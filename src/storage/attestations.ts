import { sql } from 'drizzle-orm';
import type { Db } from './database.js';
import { queryPrepared, queryRows, type PreparedRunner } from './database.js';

/**
 * Where a step run stands before an attestation: its run, its status, whether it is attested.
 * Undefined when the run does not exist; a null step_key when the run has no such step run.
 */
export async function attestationTarget(db: Db, runId: string, stepRunId: string | null, prepared?: PreparedRunner) {
  const [row] = await queryPrepared<{ run_manifest_id: string; run_status: string; step_key: string | null; status: string | null; attested: boolean; overdue: boolean | null }>(
    db,
    prepared,
    sql`SELECT r.manifest_id AS run_manifest_id, r.status AS run_status, s.step_key, s.status, s.due_at < now() AS overdue,
               EXISTS (SELECT 1 FROM compute_attestations a WHERE a.step_run_id = s.id) AS attested
        FROM dag_runs r LEFT JOIN dag_step_runs s ON s.id = ${stepRunId}::uuid AND s.run_id = r.id
        WHERE r.id = ${runId}`,
  );
  return row;
}

export interface PendingRow {
  step_run_id: string;
  run_id: string;
  step_key: string;
  item_index: number | null;
  item: unknown;
  started_at: Date | string;
  due_at: Date | string | null;
  overdue: boolean;
  attempt: number;
  manifest_id: string;
  manifest_name: string;
  manifest_version: number;
  compute_contract: unknown;
  depends_on: string[];
  run_inputs: unknown;
}

/** Every step run waiting for attestation: overdue first (earliest due first), then oldest first. */
export async function pendingAttestations(db: Db, page: { limit: number; offset: number }) {
  const [items, totals] = await Promise.all([
    queryRows<PendingRow>(
      db,
      sql`SELECT sr.id AS step_run_id, sr.run_id, sr.step_key, sr.item_index, sr.item, sr.started_at, sr.due_at, COALESCE(sr.due_at < now(), false) AS overdue, sr.attempt,
                 m.id AS manifest_id, m.name AS manifest_name, m.version AS manifest_version,
                 ms.compute_contract, ms.depends_on, r.inputs AS run_inputs
          FROM dag_step_runs sr
          JOIN dag_runs r ON r.id = sr.run_id
          JOIN manifests m ON m.id = r.manifest_id
          JOIN manifest_steps ms ON ms.id = sr.manifest_step_id
          WHERE sr.status = 'WAITING_FOR_ATTESTATION'
          ORDER BY COALESCE(sr.due_at < now(), false) DESC, CASE WHEN sr.due_at < now() THEN sr.due_at END, sr.started_at, ms.position, sr.item_index, sr.id
          LIMIT ${page.limit} OFFSET ${page.offset}`,
    ),
    queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM dag_step_runs WHERE status = 'WAITING_FOR_ATTESTATION'`),
  ]);
  return { items, total: totals[0]?.n ?? 0 };
}

/** The SUCCESS step runs of some runs (each item of a map step its own), with their canonical outputs. */
export async function successfulOutputs(db: Db, runIds: string[]) {
  if (runIds.length === 0) return [];
  return queryRows<{ id: string; run_id: string; step_key: string; item_index: number | null; attempt: number; output: unknown; step_type: string | null }>(
    db,
    sql`SELECT sr.id, sr.run_id, sr.step_key, sr.item_index, sr.attempt, sr.output, ms.step_type
        FROM dag_step_runs sr JOIN manifest_steps ms ON ms.id = sr.manifest_step_id
        WHERE sr.status = 'SUCCESS' AND sr.run_id IN (${sql.join(runIds.map((id) => sql`${id}::uuid`), sql`, `)})`,
  );
}

/** Waiting runs with no wait left open (SPEC §9 `ready_to_resume`), most recently changed first. */
export function readyToResume(db: Db, limit: number) {
  return queryRows<{ run_id: string; manifest_id: string; manifest_name: string; manifest_version: number; updated_at: Date | string }>(
    db,
    sql`SELECT r.id AS run_id, m.id AS manifest_id, m.name AS manifest_name, m.version AS manifest_version, r.updated_at
        FROM dag_runs r JOIN manifests m ON m.id = r.manifest_id
        WHERE r.status = 'waiting'
          AND NOT EXISTS (SELECT 1 FROM dag_step_runs w WHERE w.run_id = r.id AND w.status = 'WAITING_FOR_ATTESTATION')
        ORDER BY r.updated_at DESC, r.id
        LIMIT ${limit}`,
  );
}
