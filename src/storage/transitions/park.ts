import { sql } from 'drizzle-orm';
import type { RunnerWrite } from '../../core/run-store.js';
import { stepEvent } from './events.js';
import type { Piece, PieceContext } from './pieces.js';
import { mayStart, NEW_STEP_RUN_COLUMNS, newStepRunRow, rowsParam } from './sql.js';

/**
 * park: → `WAITING_FOR_ATTESTATION`. Compute steps (or items of a compute map step) reached:
 * each step run (this attempt) waits for attestation, started, not ended; with a deadline,
 * `due_at = started_at + deadline` (an ISO 8601 duration, which PostgreSQL's interval reads as
 * it is). Every park of a flush in one INSERT from one JSON parameter. New work: only while
 * the run is running and nothing was attested since the runner decided it.
 */
export function parkSteps(writes: ReadonlyArray<Extract<RunnerWrite, { kind: 'park' }>>, context: PieceContext): Array<Piece & { name: string }> {
  const input = context.name('park_in');
  const name = context.name('park');
  const rows = writes.map((w, ord) => ({ ...newStepRunRow(w, ord), deadline: w.deadline ?? null }));
  return [
    {
      name: input,
      sql: sql`${sql.raw(input)} AS (
        SELECT * FROM jsonb_to_recordset(${rowsParam(rows)}) AS w(${NEW_STEP_RUN_COLUMNS}, deadline text))`,
    },
    {
      name,
      events: [stepEvent('step_waiting', name, 'WAITING_FOR_ATTESTATION')],
      sql: sql`${sql.raw(name)} AS (
        INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, attempt, due_at, item_index, item)
        SELECT ${context.runId}::uuid, w.manifest_step_id, w.step_key, 'WAITING_FOR_ATTESTATION', w.attempt, now() + w.deadline::interval, w.item_index, w.item::jsonb
        FROM ${sql.raw(input)} w
        WHERE ${mayStart('w')}
        ORDER BY w.ord
        ON CONFLICT DO NOTHING RETURNING run_id, id, step_key, item_index, attempt)`,
    },
  ];
}
