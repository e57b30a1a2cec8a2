import { sql, type SQL } from 'drizzle-orm';
import type { StepRunState } from '../../core/run-store.js';

/** SQL fragments the transitions share. */

export const json = (value: unknown): SQL => sql`${JSON.stringify(value ?? null)}::jsonb`;
export const jsonOrNull = (value: unknown): SQL => (value === undefined ? sql`NULL` : json(value));
export const secs = (ms: number): SQL => sql`make_interval(secs => ${ms / 1000})`;

/** Every step run of run `runId` as a JSON array (evaluated in the statement's snapshot). */
export const stepRunsOf = (runId: SQL): SQL => sql`COALESCE((
  SELECT json_agg(json_build_object('id', s.id, 'stepKey', s.step_key, 'itemIndex', s.item_index, 'status', s.status, 'attempt', s.attempt,
                                    'output', s.output, 'error', s.error, 'dueAt', s.due_at))
  FROM dag_step_runs s WHERE s.run_id = ${runId}), '[]'::json)`;

export type StepRunJson = Omit<StepRunState, 'dueAt'> & { dueAt: string | null };

export const fromJson = (rows: StepRunJson[]): StepRunState[] => rows.map((row) => ({ ...row, dueAt: row.dueAt === null ? null : new Date(row.dueAt) }));

export const CANCELLED_BY_ERROR = { message: 'the run ended in error before this step was attested' };

/**
 * Rows of one kind of write as ONE jsonb parameter (read back with jsonb_to_recordset): a
 * flush has as many bind parameters, and the same text, however many steps it writes.
 */
export const rowsParam = (rows: readonly object[]): SQL => sql`${JSON.stringify(rows)}::jsonb`;

/** A new step run's columns as one row of a batch's JSON (start, park, settle), in the batch's order. */
export const newStepRunRow = (w: { manifestStepId: string; stepKey: string; attempt: number; itemIndex: number | null; item?: unknown; seenSeq: number }, ord: number) => ({
  ord,
  manifest_step_id: w.manifestStepId,
  step_key: w.stepKey,
  attempt: w.attempt,
  item_index: w.itemIndex,
  // As text, so that an item that is JSON null stays a value (SQL NULL means "not an item").
  item: w.itemIndex === null ? null : JSON.stringify(w.item ?? null),
  seen_seq: w.seenSeq,
});

/** jsonb_to_recordset's column list for newStepRunRow's columns. */
export const NEW_STEP_RUN_COLUMNS = sql.raw('ord int, manifest_step_id uuid, step_key text, attempt int, item_index int, item text, seen_seq int');

/** New work of row `w` may be written: the run is running and nothing was attested since it was decided (its seen_seq). */
export const mayStart = (w: string): SQL => sql`EXISTS (SELECT 1 FROM held WHERE held.status = 'running' AND held.attested_seq = ${sql.raw(w)}.seen_seq)`;
