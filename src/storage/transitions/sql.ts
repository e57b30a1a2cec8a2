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
