import { sql, type SQL } from 'drizzle-orm';
import { EVENTS_CHANNEL, type RunEventKind } from '../../core/events.js';

/**
 * Run events (SPEC §12, docs/events.md): each transition appends its events in its own
 * statement, from the rows its UPDATE/INSERT … RETURNING gave, and announces each with
 * `pg_notify` in the same transaction — so an event exists exactly when its transition
 * committed, and listeners hear of it at commit, in commit order.
 */

/** Where an event sorts within its statement: the run's start first, its end last. */
export type EventPhase = 'run-start' | 'step' | 'run-end';
const PHASE_ORDER: Record<EventPhase, number> = { 'run-start': 0, step: 1, 'run-end': 2 };

/** Rows of one CTE that become events of one kind. */
export interface EventRows {
  readonly kind: RunEventKind;
  readonly phase: EventPhase;
  /**
   * A SELECT list over `from` (a CTE name) answering run_id, step_run_id, step_key, attempt,
   * status — use runEventRow / stepEventRow.
   */
  readonly select: SQL;
  readonly from: string;
}

/** A run event from a CTE that returned the run's `id`. */
export function runEvent(kind: RunEventKind, from: string, status: string, phase: EventPhase = 'run-end'): EventRows {
  return { kind, phase, from, select: sql`id AS run_id, NULL::uuid AS step_run_id, NULL::text AS step_key, NULL::int AS attempt, ${status}::text AS status` };
}

/** A step event from a CTE that returned the step run's `run_id, id, step_key, attempt`. */
export function stepEvent(kind: RunEventKind, from: string, status: SQL | string): EventRows {
  const value = typeof status === 'string' ? sql`${status}::text` : status;
  return { kind, phase: 'step', from, select: sql`run_id, id AS step_run_id, step_key, attempt, ${value} AS status` };
}

/** The event's JSON, built the same way for the NOTIFY payload and for a replay (alias `e`). */
export const eventJson = (e: string): SQL => sql`json_build_object(
  'id', ${sql.raw(e)}.id::text, 'kind', ${sql.raw(e)}.kind, 'run_id', ${sql.raw(e)}.run_id,
  'step_key', ${sql.raw(e)}.step_key, 'step_run_id', ${sql.raw(e)}.step_run_id, 'attempt', ${sql.raw(e)}.attempt,
  'status', ${sql.raw(e)}.status, 'at', to_char(${sql.raw(e)}.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;

/**
 * A data-modifying CTE named `name` that appends the events in order (phase, then the order
 * given) and notifies each: a data-modifying CTE runs to completion whether or not the
 * statement reads it, and RETURNING runs per row in insertion (so id) order.
 */
export function appendEvents(name: string, rows: readonly EventRows[]): SQL {
  const ordered = rows.map((row, i) => ({ row, ord: PHASE_ORDER[row.phase] * 1000 + i }));
  const union = sql.join(
    ordered.map(({ row, ord }) => sql`SELECT ${ord}::int AS ord, ${row.kind}::text AS kind, ${row.select} FROM ${sql.raw(row.from)}`),
    sql` UNION ALL `,
  );
  return sql`${sql.raw(name)} AS (
    INSERT INTO run_events (run_id, kind, step_run_id, step_key, attempt, status)
    SELECT e.run_id, e.kind, e.step_run_id, e.step_key, e.attempt, e.status FROM (${union}) AS e ORDER BY e.ord, e.step_key
    RETURNING pg_notify(${EVENTS_CHANNEL}, ${eventJson('run_events')}::text))`;
}
