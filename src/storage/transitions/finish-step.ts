import { sql } from 'drizzle-orm';
import type { RunnerWrite } from '../../core/run-store.js';
import type { Piece, PieceContext } from './runner-flush.js';
import { messageOf, stepEvent } from './events.js';
import { json, jsonOrNull } from './sql.js';

/**
 * finish-step: `RUNNING` → `SUCCESS` | `FAIL` | `CANCELLED`. A task step's outcome with its
 * LLMCallArtifact (when a call was made) and ParsedOutputArtifact (when a reply came back);
 * SUCCESS stores the canonical output; CANCELLED is a call aborted by a cancel of the run,
 * the abort recorded in its LLMCallArtifact. Written while this executor holds the lease —
 * also when the run was cancelled meanwhile, so every step in flight is recorded (SPEC §15).
 */
const FINISHED = { SUCCESS: 'step_succeeded', FAIL: 'step_failed', CANCELLED: 'step_cancelled' } as const;

export function finishStep(write: Extract<RunnerWrite, { kind: 'finish' }>, context: PieceContext): Array<Piece & { name: string }> {
  const name = context.name('finish');
  const { outcome } = write;
  const set = outcome.status === 'SUCCESS' ? sql`status = 'SUCCESS', output = ${json(outcome.output)}` : sql`status = ${outcome.status}, error = ${json(outcome.error)}`;
  const pieces: Array<Piece & { name: string }> = [
    {
      name,
      events: [stepEvent(FINISHED[outcome.status], name, outcome.status, outcome.status === 'SUCCESS' ? {} : { message: messageOf(outcome.error) })],
      sql: sql`${sql.raw(name)} AS (
        UPDATE dag_step_runs SET ${set}, ended_at = now()
        WHERE id = ${write.stepRunId} AND status = 'RUNNING' AND attempt = ${write.attempt} AND ${context.held}
        RETURNING run_id, id, step_key, item_index, attempt)`,
    },
  ];
  const { call, parsed } = write;
  if (call) {
    const callName = context.name('call');
    pieces.push({
      name: callName,
      sql: sql`${sql.raw(callName)} AS (
        INSERT INTO llm_call_artifacts (step_run_id, attempt, provider, model, request, response, usage, latency_ms, tries, error)
        SELECT id, attempt, ${call.provider}, ${call.model}, ${json(call.request)}, ${json(call.response)}, ${json(call.usage)},
               ${Math.round(call.latencyMs)}, ${call.tries}, ${jsonOrNull(call.error)}
        FROM ${sql.raw(name)})`,
    });
  }
  if (parsed) {
    const parsedName = context.name('parsed');
    pieces.push({
      name: parsedName,
      sql: sql`${sql.raw(parsedName)} AS (
        INSERT INTO parsed_output_artifacts (step_run_id, attempt, format, value, error)
        SELECT id, attempt, ${parsed.format}, ${parsed.error === undefined ? json(parsed.value) : sql`NULL`}, ${jsonOrNull(parsed.error)}
        FROM ${sql.raw(name)})`,
    });
  }
  return pieces;
}
