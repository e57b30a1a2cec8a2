import { sql } from 'drizzle-orm';
import type { RunnerWrite } from '../../core/run-store.js';
import { stepEvent } from './events.js';
import type { Piece, PieceContext } from './runner-flush.js';
import { json } from './sql.js';

/**
 * settle: → `SUCCESS` | `FAIL` at once. A map step with nothing to run or attest (SPEC §17):
 * its list is empty (SUCCESS, output `[]`), or it is not a list or has more items than
 * STEPGATE_MAX_ITEMS (FAIL, with the reason). One step run, no item, no call, no artifact.
 * New work: only while the run is running and nothing was attested since the runner decided it.
 */
export function settle(write: Extract<RunnerWrite, { kind: 'settle' }>, context: PieceContext): Array<Piece & { name: string }> {
  const name = context.name('settle');
  const { outcome } = write;
  const [output, error] = outcome.status === 'SUCCESS' ? [json(outcome.output), sql`NULL`] : [sql`NULL`, json(outcome.error)];
  return [
    {
      name,
      events: [stepEvent(outcome.status === 'SUCCESS' ? 'step_succeeded' : 'step_failed', name, outcome.status)],
      sql: sql`${sql.raw(name)} AS (
        INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, attempt, ended_at, output, error)
        SELECT ${context.runId}::uuid, ${write.manifestStepId}::uuid, ${write.stepKey}, ${outcome.status}, ${write.attempt}, now(), ${output}, ${error}
        WHERE ${context.mayStart(write.seenSeq)}
        ON CONFLICT DO NOTHING RETURNING run_id, id, step_key, item_index, attempt)`,
    },
  ];
}
