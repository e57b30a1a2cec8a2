import { sql } from 'drizzle-orm';
import type { RunStatus } from '../../core/lifecycle.js';
import type { AuditRecord, CancelOutcome } from '../../core/run-store.js';
import { queryPrepared, type Db, type PreparedRunner } from '../database.js';
import { auditRow } from './audit.js';
import { appendEvents, runEvent, stepEvent } from './events.js';

/**
 * cancel: `pending` | `running` | `waiting` → `cancelled`, `ended_at` set; its waits →
 * `CANCELLED`. A run under a live runner keeps that runner's lease until the runner has
 * recorded its step in flight (it starts nothing more: new work needs `running`); when the
 * lease had already expired (nobody is working on it), its step in flight is cancelled too.
 * The request's audit row, if given, is written when the run is cancelled.
 */
export async function cancelRun(db: Db, prepared: PreparedRunner | undefined, runId: string, reason: string | null, audit?: AuditRecord): Promise<CancelOutcome> {
  const [row] = await queryPrepared<{ before: RunStatus | null; cancelled: boolean }>(
    db,
    prepared,
    sql`WITH run AS (SELECT id, status FROM dag_runs WHERE id = ${runId} FOR UPDATE),
        cancelled AS (
          UPDATE dag_runs SET status = 'cancelled', ended_at = now(), cancel_reason = ${reason}, updated_at = now(),
                 lease_owner = CASE WHEN lease_expires_at >= now() THEN lease_owner END,
                 lease_expires_at = CASE WHEN lease_expires_at >= now() THEN lease_expires_at END
          WHERE id = ${runId} AND status IN ('pending', 'running', 'waiting') AND EXISTS (SELECT 1 FROM run)
          RETURNING id, lease_owner),
        steps AS (
          UPDATE dag_step_runs SET status = 'CANCELLED', ended_at = now(),
                 error = json_build_object('message', 'the run was cancelled', 'reason', ${reason}::text)::jsonb
          WHERE run_id = ${runId} AND EXISTS (SELECT 1 FROM cancelled)
            AND (status = 'WAITING_FOR_ATTESTATION' OR (status = 'RUNNING' AND EXISTS (SELECT 1 FROM cancelled WHERE lease_owner IS NULL)))
          RETURNING run_id, id, step_key, item_index, attempt),
        ${audit ? sql`${auditRow('audit', audit, 'cancelled')},` : sql``}
        ${appendEvents('events', [stepEvent('step_cancelled', 'steps', 'CANCELLED'), runEvent('run_cancelled', 'cancelled', 'cancelled')])}
        SELECT (SELECT status FROM run) AS before, EXISTS (SELECT 1 FROM cancelled) AS cancelled`,
  );
  if (!row?.before) return { kind: 'not-found' };
  return row.cancelled ? { kind: 'cancelled' } : { kind: 'final', status: row.before };
}
