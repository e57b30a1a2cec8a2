import { sql } from 'drizzle-orm';
import type { RunnerWrite } from '../../core/run-store.js';
import { stepEvent } from './events.js';
import type { Piece, PieceContext } from './pieces.js';
import { mayStart, NEW_STEP_RUN_COLUMNS, newStepRunRow, rowsParam } from './sql.js';

/**
 * settle: → `SUCCESS` | `FAIL` at once. A map step with nothing to run or attest (SPEC §17):
 * its list is empty (SUCCESS, output `[]`), or it is not a list or has more items than
 * STEPGATE_MAX_ITEMS (FAIL, with the reason). One step run, no item, no call, no artifact.
 * New work: only while the run is running and nothing was attested since the runner decided it.
 */
export function settleSteps(writes: ReadonlyArray<Extract<RunnerWrite, { kind: 'settle' }>>, context: PieceContext): Array<Piece & { name: string }> {
  const input = context.name('settle_in');
  const name = context.name('settle');
  const rows = writes.map((w, ord) => ({
    ...newStepRunRow(w, ord),
    status: w.outcome.status,
    output: w.outcome.status === 'SUCCESS' ? JSON.stringify(w.outcome.output ?? null) : null,
    error: w.outcome.status === 'FAIL' ? w.outcome.error : null,
  }));
  const ended = (status: string) => `${name}_${status.toLowerCase()}`;
  return [
    {
      name: input,
      sql: sql`${sql.raw(input)} AS (
        SELECT * FROM jsonb_to_recordset(${rowsParam(rows)}) AS w(${NEW_STEP_RUN_COLUMNS}, status text, output text, error jsonb))`,
    },
    {
      name,
      sql: sql`${sql.raw(name)} AS (
        INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, attempt, ended_at, output, error)
        SELECT ${context.runId}::uuid, w.manifest_step_id, w.step_key, w.status, w.attempt, now(), w.output::jsonb, w.error
        FROM ${sql.raw(input)} w
        WHERE ${mayStart('w')}
        ORDER BY w.ord
        ON CONFLICT DO NOTHING RETURNING run_id, id, step_key, item_index, attempt, status, error)`,
    },
    ...(['SUCCESS', 'FAIL'] as const).map((status) => ({
      name: ended(status),
      events: [
        status === 'SUCCESS'
          ? stepEvent('step_succeeded', ended(status), 'SUCCESS')
          : stepEvent('step_failed', ended(status), 'FAIL', { message: sql`error->>'message'` }),
      ],
      sql: sql`${sql.raw(ended(status))} AS (SELECT * FROM ${sql.raw(name)} WHERE status = ${status})`,
    })),
  ];
}
