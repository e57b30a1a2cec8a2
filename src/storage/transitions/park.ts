import { sql } from 'drizzle-orm';
import type { RunnerWrite } from '../../core/run-store.js';
import { stepEvent } from './events.js';
import type { Piece, PieceContext } from './runner-flush.js';
import { itemValues } from './sql.js';

/**
 * park: → `WAITING_FOR_ATTESTATION`. A compute step (or one item of a compute map step) reached: its step run (this attempt)
 * waits for attestation, started, not ended; with a deadline, `due_at = started_at + deadline`
 * (an ISO 8601 duration, which PostgreSQL's interval reads as it is). New work: only while
 * the run is running and nothing was attested since the runner decided it.
 */
export function park(write: Extract<RunnerWrite, { kind: 'park' }>, context: PieceContext): Array<Piece & { name: string }> {
  const name = context.name('park');
  const dueAt = write.deadline === undefined ? sql`NULL` : sql`now() + ${write.deadline}::interval`;
  return [
    {
      name,
      events: [stepEvent('step_waiting', name, 'WAITING_FOR_ATTESTATION')],
      sql: sql`${sql.raw(name)} AS (
        INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, attempt, due_at, item_index, item)
        SELECT ${context.runId}::uuid, ${write.manifestStepId}::uuid, ${write.stepKey}, 'WAITING_FOR_ATTESTATION', ${write.attempt}, ${dueAt}, ${itemValues(write.itemIndex, write.item)}
        WHERE ${context.mayStart(write.seenSeq)}
        ON CONFLICT DO NOTHING RETURNING run_id, id, step_key, item_index, attempt)`,
    },
  ];
}
