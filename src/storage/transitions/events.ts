import { sql, type SQL } from 'drizzle-orm';
import type { RunEventKind } from '../../core/events.js';

/**
 * Run events (SPEC §12, docs/events.md): each transition appends its events in its own
 * statement, from the rows its UPDATE/INSERT … RETURNING gave — so an event exists exactly
 * when its transition committed. Each row records the id of the transaction that appended it
 * (`tx_id`, the column's default), which is what readers order by. Nothing is announced
 * here: the process that committed wakes its readers afterwards (engine/events.ts), so a
 * commit never waits on a NOTIFY's lock.
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
   * status, error_message — use runEvent / stepEvent.
   */
  readonly select: SQL;
  readonly from: string;
}

/** What an event may say besides its kind and status. */
export interface EventDetails {
  /**
   * Why (step_failed, run_failed): a message, or an SQL expression over the CTE's columns
   * answering one (text); none by default.
   */
  readonly message?: SQL | string | null | undefined;
}

/** Error messages in events are cut to this many characters (the step run keeps the whole error). */
export const EVENT_MESSAGE_MAX = 1_000;

/** The message of an error as the engine records it (`{ message, … }`), cut for an event; null when it has none. */
export function messageOf(error: unknown): string | null {
  const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  if (typeof message !== 'string') return null;
  return message.length > EVENT_MESSAGE_MAX ? `${message.slice(0, EVENT_MESSAGE_MAX - 1)}…` : message;
}

const messageSql = (message: EventDetails['message']): SQL =>
  message === undefined || message === null ? sql`NULL::text` : typeof message === 'string' ? sql`${message}::text` : sql`left((${message})::text, ${EVENT_MESSAGE_MAX})`;

/** A run event from a CTE that returned the run's `id`. */
export function runEvent(kind: RunEventKind, from: string, status: string, phase: EventPhase = 'run-end', details: EventDetails = {}): EventRows {
  return {
    kind,
    phase,
    from,
    select: sql`id AS run_id, NULL::uuid AS step_run_id, NULL::text AS step_key, NULL::int AS item_index, NULL::int AS attempt, ${status}::text AS status, ${messageSql(details.message)} AS error_message`,
  };
}

/** A step event from a CTE that returned the step run's `run_id, id, step_key, item_index, attempt`. */
export function stepEvent(kind: RunEventKind, from: string, status: SQL | string, details: EventDetails = {}): EventRows {
  const value = typeof status === 'string' ? sql`${status}::text` : status;
  return { kind, phase: 'step', from, select: sql`run_id, id AS step_run_id, step_key, item_index, attempt, ${value} AS status, ${messageSql(details.message)} AS error_message` };
}

/**
 * The event's JSON (alias `e`), compact, in the documented key order: row_to_json of a row
 * built for it (json_build_object would put spaces around every colon).
 */
export const eventJson = (e: string): SQL => {
  const t = sql.raw(e);
  return sql`row_to_json((SELECT x FROM (SELECT ${t}.id::text AS id, ${t}.kind, ${t}.run_id, ${t}.step_key, ${t}.step_run_id, ${t}.item_index, ${t}.attempt, ${t}.status,
    CASE WHEN ${t}.error_message IS NULL THEN NULL ELSE row_to_json((SELECT m FROM (SELECT ${t}.error_message AS message) AS m)) END AS error,
    to_char(${t}.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at) AS x))`;
};

/**
 * A data-modifying CTE named `name` that appends the events in order (phase, then the order
 * given): a data-modifying CTE runs to completion whether or not the statement reads it, and
 * the rows are inserted, so numbered, in the SELECT's order.
 */
export function appendEvents(name: string, rows: readonly EventRows[]): SQL {
  const ordered = rows.map((row, i) => ({ row, ord: PHASE_ORDER[row.phase] * 1000 + i }));
  const union = sql.join(
    ordered.map(({ row, ord }) => sql`SELECT ${ord}::int AS ord, ${row.kind}::text AS kind, ${row.select} FROM ${sql.raw(row.from)}`),
    sql` UNION ALL `,
  );
  return sql`${sql.raw(name)} AS (
    INSERT INTO run_events (run_id, kind, step_run_id, step_key, item_index, attempt, status, error_message)
    SELECT e.run_id, e.kind, e.step_run_id, e.step_key, e.item_index, e.attempt, e.status, e.error_message FROM (${union}) AS e ORDER BY e.ord, e.step_key, e.item_index)`;
}
