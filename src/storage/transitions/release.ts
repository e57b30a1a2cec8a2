import { sql } from 'drizzle-orm';
import type { RunnerWrite } from '../../core/run-store.js';
import type { Piece, PieceContext } from './pieces.js';
import { messageOf, runEvent, stepEvent } from './events.js';
import { CANCELLED_BY_ERROR, json } from './sql.js';

const RELEASED = { waiting: 'run_waiting', success: 'run_succeeded', error: 'run_failed' } as const;

/**
 * release: `running` → `waiting` | `success` | `error`. The runner ends its hold when nothing
 * more can run. Guarded by the attestation count the runner last saw: if an attestation came
 * in meanwhile, nothing is released and the runner looks again (no lost wake-up, SPEC §9).
 * Ending in `error` cancels the compute steps still waiting: nobody should attest work whose
 * run is over.
 */
export function release(write: Extract<RunnerWrite, { kind: 'release' }>, context: PieceContext): Array<Piece & { name: string }> {
  const name = context.name('release');
  const ended = write.status === 'waiting' ? sql`NULL` : sql`now()`;
  const error = write.status === 'error' ? json(write.error ?? null) : sql`NULL`;
  const pieces: Array<Piece & { name: string }> = [
    {
      name,
      reports: 'released',
      events: [runEvent(RELEASED[write.status], name, write.status, 'run-end', { message: write.status === 'error' ? messageOf(write.error) : null })],
      sql: sql`${sql.raw(name)} AS (
        UPDATE dag_runs SET status = ${write.status}, ended_at = ${ended}, error = ${error},
               lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE id = ${context.runId} AND status = 'running' AND lease_owner = ${context.owner} AND attested_seq = ${write.seenSeq}
        RETURNING id)`,
    },
  ];
  if (write.status === 'error') {
    const cancel = context.name('cancel');
    pieces.push({
      name: cancel,
      events: [stepEvent('step_cancelled', cancel, 'CANCELLED')],
      sql: sql`${sql.raw(cancel)} AS (
        UPDATE dag_step_runs SET status = 'CANCELLED', ended_at = now(), error = ${json(CANCELLED_BY_ERROR)}
        WHERE run_id = ${context.runId} AND status = 'WAITING_FOR_ATTESTATION' AND EXISTS (SELECT 1 FROM ${sql.raw(name)})
        RETURNING run_id, id, step_key, item_index, attempt)`,
    });
  }
  return pieces;
}

/**
 * The end of a runner's hold on a run cancelled while it worked: the step in flight has been
 * recorded; the lease goes, the run stays `cancelled`.
 */
export function dropLease(context: PieceContext): Array<Piece & { name: string }> {
  const name = context.name('drop');
  return [
    {
      name,
      reports: 'released',
      sql: sql`${sql.raw(name)} AS (
        UPDATE dag_runs SET lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE id = ${context.runId} AND status = 'cancelled' AND lease_owner = ${context.owner}
        RETURNING id)`,
    },
  ];
}
