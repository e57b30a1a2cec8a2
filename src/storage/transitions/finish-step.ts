import { sql } from 'drizzle-orm';
import type { RunnerWrite } from '../../core/run-store.js';
import type { Piece, PieceContext } from './runner-flush.js';
import { messageOf, stepEvent } from './events.js';
import { json, jsonOrNull } from './sql.js';

/**
 * finish-step: `RUNNING` → `SUCCESS` | `FAIL`. A task step's outcome with its LLMCallArtifact
 * (when a call was made) and ParsedOutputArtifact (when a reply came back); SUCCESS stores
 * the canonical output. Written while this executor holds the lease — also when the run was
 * cancelled meanwhile, so the step in flight is recorded (SPEC §9).
 */
export function finishStep(write: Extract<RunnerWrite, { kind: 'finish' }>, context: PieceContext): Array<Piece & { name: string }> {
  const name = context.name('finish');
  const set =
    write.outcome.status === 'SUCCESS'
      ? sql`status = 'SUCCESS', output = ${json(write.outcome.output)}`
      : sql`status = 'FAIL', error = ${json(write.outcome.error)}`;
  const pieces: Array<Piece & { name: string }> = [
    {
      name,
      events: [
        write.outcome.status === 'SUCCESS'
          ? stepEvent('step_succeeded', name, 'SUCCESS')
          : stepEvent('step_failed', name, 'FAIL', { message: messageOf(write.outcome.error) }),
      ],
      sql: sql`${sql.raw(name)} AS (
        UPDATE dag_step_runs SET ${set}, ended_at = now()
        WHERE id = ${write.stepRunId} AND status = 'RUNNING' AND attempt = ${write.attempt} AND ${context.held}
        RETURNING run_id, id, step_key, attempt)`,
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
