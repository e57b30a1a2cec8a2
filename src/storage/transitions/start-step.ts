import { sql } from 'drizzle-orm';
import type { PromptRecord, RunnerWrite } from '../../core/run-store.js';
import type { Piece, PieceContext } from './runner-flush.js';
import { stepEvent } from './events.js';
import { itemValues, json, jsonOrNull } from './sql.js';

/**
 * start-step: → `RUNNING`. A task step (or one item of a map step) starts as the given
 * attempt (1, or the next one after a retry), with its PromptArtifact. New work: only while the run is running and nothing was
 * attested since the runner decided it; otherwise nothing is written and the flush does not
 * report it as started.
 */
export function startStep(write: Extract<RunnerWrite, { kind: 'start' }>, context: PieceContext): Array<Piece & { name: string }> {
  const name = context.name('start');
  return [
    {
      name,
      reports: 'started',
      events: [stepEvent('step_started', name, 'RUNNING')],
      sql: sql`${sql.raw(name)} AS (
        INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, attempt, item_index, item)
        SELECT ${context.runId}::uuid, ${write.manifestStepId}::uuid, ${write.stepKey}, 'RUNNING', ${write.attempt}, ${itemValues(write.itemIndex, write.item)}
        WHERE ${context.mayStart(write.seenSeq)}
        ON CONFLICT DO NOTHING RETURNING run_id, id, step_key, item_index, attempt)`,
    },
    promptPiece(name, write.prompt, context),
  ];
}

/**
 * take-over of a step: `RUNNING` → `RUNNING`, attempt + 1. A task step left RUNNING by an
 * executor that died (its run was stalled and taken over) starts again as its next attempt:
 * the repeat is counted and visible, and the earlier attempt's evidence stays.
 */
export function restartStep(write: Extract<RunnerWrite, { kind: 'restart' }>, context: PieceContext): Array<Piece & { name: string }> {
  const name = context.name('restart');
  return [
    {
      name,
      reports: 'started',
      events: [stepEvent('step_started', name, 'RUNNING')],
      sql: sql`${sql.raw(name)} AS (
        UPDATE dag_step_runs SET attempt = attempt + 1, started_at = now()
        WHERE id = ${write.stepRunId} AND status = 'RUNNING' AND attempt = ${write.attempt} AND ${context.mayStart(write.seenSeq)}
        RETURNING run_id, id, step_key, item_index, attempt)`,
    },
    promptPiece(name, write.prompt, context),
  ];
}

function promptPiece(from: string, prompt: PromptRecord, context: PieceContext): Piece & { name: string } {
  const name = context.name('prompt');
  return {
    name,
    sql: sql`${sql.raw(name)} AS (
      INSERT INTO prompt_artifacts (step_run_id, attempt, template, system_template, values, messages, error)
      SELECT id, attempt, ${prompt.template}, ${prompt.systemTemplate ?? null}::text, ${json(prompt.values)}, ${jsonOrNull(prompt.messages)}, ${jsonOrNull(prompt.error)}
      FROM ${sql.raw(from)})`,
  };
}
