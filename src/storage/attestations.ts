import { sql } from 'drizzle-orm';
import type { Db } from './database.js';
import { queryPrepared, queryRows, type PreparedRunner } from './database.js';
import type { PendingRecord, ReadyRecord } from '../core/run-reads.js';

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

interface PendingRow {
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

const date = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));

/**
 * Every step run waiting for attestation: overdue first (earliest due first), then oldest
 * first, ties by manifest order. Read from the waiting rows only, in two index-ordered halves
 * that each stop at the page's end (migration 0010): the overdue waits by `due_at`
 * (dag_step_runs_overdue_idx), the others by `started_at` (dag_step_runs_waiting_idx); the page
 * is cut from the at most 2 × (offset + limit) rows they give. `total` counts the waiting
 * rows (an index-only scan of the partial index: the backlog, not the history).
 */
export async function pendingAttestations(db: Db, page: { limit: number; offset: number }): Promise<{ items: PendingRecord[]; total: number }> {
  const reach = page.offset + page.limit;
  const columns = sql`sr.id AS step_run_id, sr.run_id, sr.step_key, sr.item_index, sr.item, sr.started_at, sr.due_at, sr.attempt, ms.position, ms.compute_contract, ms.depends_on`;
  const [rows, totals] = await Promise.all([
    queryRows<PendingRow>(
      db,
      sql`SELECT w.step_run_id, w.run_id, w.step_key, w.item_index, w.item, w.started_at, w.due_at, w.overdue, w.attempt,
                 m.id AS manifest_id, m.name AS manifest_name, m.version AS manifest_version,
                 w.compute_contract, w.depends_on, r.inputs AS run_inputs
          FROM (
            (SELECT ${columns}, true AS overdue
             FROM dag_step_runs sr JOIN manifest_steps ms ON ms.id = sr.manifest_step_id
             WHERE sr.status = 'WAITING_FOR_ATTESTATION' AND sr.due_at < now()
             ORDER BY sr.due_at, sr.started_at, ms.position, sr.item_index, sr.id LIMIT ${reach})
            UNION ALL
            (SELECT ${columns}, false AS overdue
             FROM dag_step_runs sr JOIN manifest_steps ms ON ms.id = sr.manifest_step_id
             WHERE sr.status = 'WAITING_FOR_ATTESTATION' AND (sr.due_at IS NULL OR sr.due_at >= now())
             ORDER BY sr.started_at, ms.position, sr.item_index, sr.id LIMIT ${reach})
          ) w
          JOIN dag_runs r ON r.id = w.run_id
          JOIN manifests m ON m.id = r.manifest_id
          ORDER BY w.overdue DESC, CASE WHEN w.overdue THEN w.due_at END, w.started_at, w.position, w.item_index, w.step_run_id
          LIMIT ${page.limit} OFFSET ${page.offset}`,
    ),
    queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM dag_step_runs WHERE status = 'WAITING_FOR_ATTESTATION'`),
  ]);
  const items = rows.map(
    (row): PendingRecord => ({
      stepRunId: row.step_run_id,
      runId: row.run_id,
      stepKey: row.step_key,
      itemIndex: row.item_index,
      item: row.item,
      startedAt: date(row.started_at),
      dueAt: row.due_at === null ? null : date(row.due_at),
      overdue: row.overdue,
      attempt: row.attempt,
      manifestId: row.manifest_id,
      manifestName: row.manifest_name,
      manifestVersion: row.manifest_version,
      computeContract: row.compute_contract,
      dependsOn: row.depends_on,
      runInputs: row.run_inputs,
    }),
  );
  return { items, total: totals[0]?.n ?? 0 };
}

/** The SUCCESS step runs of some runs (each item of a map step its own), with their canonical outputs. */
export async function successfulOutputs(db: Db, runIds: readonly string[]) {
  if (runIds.length === 0) return [];
  const rows = await queryRows<{ id: string; run_id: string; step_key: string; item_index: number | null; attempt: number; output: unknown; step_type: string | null }>(
    db,
    // The runs as one array parameter (SPEC §11: never one bind parameter per row).
    sql`SELECT sr.id, sr.run_id, sr.step_key, sr.item_index, sr.attempt, sr.output, ms.step_type
        FROM dag_step_runs sr JOIN manifest_steps ms ON ms.id = sr.manifest_step_id
        WHERE sr.status = 'SUCCESS' AND sr.run_id IN (SELECT jsonb_array_elements_text(${JSON.stringify(runIds)}::jsonb)::uuid)`,
  );
  return rows.map((row) => ({ id: row.id, runId: row.run_id, stepKey: row.step_key, itemIndex: row.item_index, attempt: row.attempt, output: row.output, stepType: row.step_type }));
}

/**
 * Waiting runs with no wait left open (SPEC §9 `ready_to_resume`), most recently changed
 * first. Read from the waiting runs that were attested at least once (dag_runs_waiting_attested_idx:
 * a waiting run that never was still waits on something — a run parks only with a wait open,
 * and a wait closes only by an attestation, or by a cancel or a missed deadline, which end the
 * run) and the open waits (dag_step_runs_waiting_run_id_idx), both partial indexes of migration
 * 0010: the operators' backlog, never the history.
 */
export async function readyToResume(db: Db, limit: number): Promise<ReadyRecord[]> {
  const rows = await queryRows<{ run_id: string; manifest_id: string; manifest_name: string; manifest_version: number; updated_at: Date | string }>(
    db,
    sql`SELECT r.id AS run_id, m.id AS manifest_id, m.name AS manifest_name, m.version AS manifest_version, r.updated_at
        FROM dag_runs r JOIN manifests m ON m.id = r.manifest_id
        WHERE r.status = 'waiting' AND r.attested_seq > 0
          AND NOT EXISTS (SELECT 1 FROM dag_step_runs w WHERE w.run_id = r.id AND w.status = 'WAITING_FOR_ATTESTATION')
        ORDER BY r.updated_at DESC, r.id
        LIMIT ${limit}`,
  );
  return rows.map((row) => ({ runId: row.run_id, manifestId: row.manifest_id, manifestName: row.manifest_name, manifestVersion: row.manifest_version, updatedAt: date(row.updated_at) }));
}
