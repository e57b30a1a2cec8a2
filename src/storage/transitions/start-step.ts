import { sql } from 'drizzle-orm';
import type { RunnerWrite } from '../../core/run-store.js';
import type { Piece, PieceContext } from './pieces.js';
import { stepEvent } from './events.js';
import { mayStart, NEW_STEP_RUN_COLUMNS, newStepRunRow, rowsParam } from './sql.js';

type Start = Extract<RunnerWrite, { kind: 'start' }>;
type Restart = Extract<RunnerWrite, { kind: 'restart' }>;

/** The PromptArtifact columns of a start, as one row of the batch's JSON. */
const promptColumns = (prompt: Start['prompt']) => ({
  template: prompt.template,
  system_template: prompt.systemTemplate ?? null,
  values: prompt.values,
  messages: prompt.messages ?? null,
  error: prompt.error ?? null,
});

/**
 * start-step: → `RUNNING`. Task steps (or items of a map step) start as the given attempts
 * (1, or the next one after a retry), each with its PromptArtifact — every start of a flush
 * in one INSERT from one JSON parameter, however many steps start together. New work: a
 * start is written only while the run is running and nothing was attested since the runner
 * decided it (its `seen_seq`); a start refused is not reported as started.
 */
export function startSteps(writes: readonly Start[], context: PieceContext): Array<Piece & { name: string }> {
  const input = context.name('start_in');
  const name = context.name('start');
  const rows = writes.map((w, ord) => ({ ...newStepRunRow(w, ord), ...promptColumns(w.prompt) }));
  return [
    {
      name: input,
      sql: sql`${sql.raw(input)} AS (
        SELECT * FROM jsonb_to_recordset(${rowsParam(rows)}) AS w(${NEW_STEP_RUN_COLUMNS}, template text, system_template text, "values" jsonb, messages jsonb, error jsonb))`,
    },
    {
      name,
      reports: 'started',
      events: [stepEvent('step_started', name, 'RUNNING')],
      sql: sql`${sql.raw(name)} AS (
        INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, attempt, item_index, item)
        SELECT ${context.runId}::uuid, w.manifest_step_id, w.step_key, 'RUNNING', w.attempt, w.item_index, w.item::jsonb
        FROM ${sql.raw(input)} w
        WHERE ${mayStart('w')}
        ORDER BY w.ord
        ON CONFLICT DO NOTHING RETURNING run_id, id, step_key, item_index, attempt)`,
    },
    promptPiece(name, input, sql`w.step_key = s.step_key AND w.item_index IS NOT DISTINCT FROM s.item_index AND w.attempt = s.attempt`, context),
  ];
}

/**
 * take-over of steps: `RUNNING` → `RUNNING`, attempt + 1. Task steps left RUNNING by an
 * executor that died (the run was stalled and taken over) start again as their next attempt:
 * each repeat is counted and visible, and the earlier attempt's evidence stays.
 */
export function restartSteps(writes: readonly Restart[], context: PieceContext): Array<Piece & { name: string }> {
  const input = context.name('restart_in');
  const name = context.name('restart');
  const rows = writes.map((w) => ({ step_run_id: w.stepRunId, attempt: w.attempt, seen_seq: w.seenSeq, ...promptColumns(w.prompt) }));
  return [
    {
      name: input,
      sql: sql`${sql.raw(input)} AS (
        SELECT * FROM jsonb_to_recordset(${rowsParam(rows)}) AS w(step_run_id uuid, attempt int, seen_seq int,
                                                                 template text, system_template text, "values" jsonb, messages jsonb, error jsonb))`,
    },
    {
      name,
      reports: 'started',
      events: [stepEvent('step_started', name, 'RUNNING')],
      sql: sql`${sql.raw(name)} AS (
        UPDATE dag_step_runs s SET attempt = s.attempt + 1, started_at = now()
        FROM ${sql.raw(input)} w
        WHERE s.id = w.step_run_id AND s.status = 'RUNNING' AND s.attempt = w.attempt
          AND ${mayStart('w')}
        RETURNING s.run_id, s.id, s.step_key, s.item_index, s.attempt)`,
    },
    promptPiece(name, input, sql`w.step_run_id = s.id`, context),
  ];
}

/** The PromptArtifact of each step run that `from` started, from the batch's JSON rows (`w`) matched to it by `match`. */
function promptPiece(from: string, input: string, match: ReturnType<typeof sql>, context: PieceContext): Piece & { name: string } {
  const name = context.name('prompt');
  return {
    name,
    sql: sql`${sql.raw(name)} AS (
      INSERT INTO prompt_artifacts (step_run_id, attempt, template, system_template, values, messages, error)
      SELECT s.id, s.attempt, w.template, w.system_template, w."values", w.messages, w.error
      FROM ${sql.raw(from)} s JOIN ${sql.raw(input)} w ON ${match})`,
  };
}
