import { sql } from 'drizzle-orm';
import type { RunnerWrite } from '../../core/run-store.js';
import type { Piece, PieceContext } from './pieces.js';
import { stepEvent } from './events.js';
import { rowsParam } from './sql.js';

type Finish = Extract<RunnerWrite, { kind: 'finish' }>;

/**
 * finish-step: `RUNNING` → `SUCCESS` | `FAIL` | `CANCELLED`. Task steps' outcomes with their
 * LLMCallArtifacts (when a call was made) and ParsedOutputArtifacts (when a reply came back);
 * SUCCESS stores the canonical output; CANCELLED is a call aborted by a cancel of the run,
 * the abort recorded in its LLMCallArtifact. Every outcome of a flush in one UPDATE from one
 * JSON parameter. Written while this executor holds the lease — also when the run was
 * cancelled meanwhile, so every step in flight is recorded (SPEC §15).
 */
export function finishSteps(writes: readonly Finish[], context: PieceContext): Array<Piece & { name: string }> {
  const input = context.name('finish_in');
  const name = context.name('finish');
  const rows = writes.map((w) => ({
    step_run_id: w.stepRunId,
    attempt: w.attempt,
    status: w.outcome.status,
    // As text, so that an output that is JSON null stays a value.
    output: w.outcome.status === 'SUCCESS' ? JSON.stringify(w.outcome.output ?? null) : null,
    error: w.outcome.status === 'SUCCESS' ? null : w.outcome.error,
    call: w.call ?? null,
    parsed: w.parsed ? { format: w.parsed.format, failed: w.parsed.error !== undefined, value: w.parsed.value ?? null, error: w.parsed.error ?? null } : null,
  }));
  const finished = (status: string) => `${name}_${status.toLowerCase()}`;
  const calls = context.name('call');
  const parsed = context.name('parsed');
  return [
    {
      name: input,
      sql: sql`${sql.raw(input)} AS (
        SELECT * FROM jsonb_to_recordset(${rowsParam(rows)}) AS w(step_run_id uuid, attempt int, status text, output text, error jsonb, call jsonb, parsed jsonb))`,
    },
    {
      name,
      sql: sql`${sql.raw(name)} AS (
        UPDATE dag_step_runs s SET status = w.status, output = w.output::jsonb, error = w.error, ended_at = now()
        FROM ${sql.raw(input)} w
        WHERE s.id = w.step_run_id AND s.status = 'RUNNING' AND s.attempt = w.attempt AND ${context.held}
        RETURNING s.run_id, s.id, s.step_key, s.item_index, s.attempt, s.status, s.error)`,
    },
    // One event kind per outcome: the rows of each, as a CTE of its own.
    ...(['SUCCESS', 'FAIL', 'CANCELLED'] as const).map((status) => ({
      name: finished(status),
      events: [
        status === 'SUCCESS'
          ? stepEvent('step_succeeded', finished(status), 'SUCCESS')
          : stepEvent(status === 'FAIL' ? 'step_failed' : 'step_cancelled', finished(status), status, status === 'FAIL' ? { message: sql`error->>'message'` } : {}),
      ],
      sql: sql`${sql.raw(finished(status))} AS (SELECT * FROM ${sql.raw(name)} WHERE status = ${status})`,
    })),
    {
      name: calls,
      sql: sql`${sql.raw(calls)} AS (
        INSERT INTO llm_call_artifacts (step_run_id, attempt, provider, model, request, response, usage, latency_ms, tries, error)
        SELECT f.id, f.attempt, w.call->>'provider', w.call->>'model', w.call->'request', w.call->'response', w.call->'usage',
               round((w.call->>'latencyMs')::numeric)::int, (w.call->>'tries')::int, w.call->'error'
        FROM ${sql.raw(name)} f JOIN ${sql.raw(input)} w ON w.step_run_id = f.id
        WHERE w.call IS NOT NULL)`,
    },
    {
      name: parsed,
      sql: sql`${sql.raw(parsed)} AS (
        INSERT INTO parsed_output_artifacts (step_run_id, attempt, format, value, error)
        SELECT f.id, f.attempt, w.parsed->>'format',
               CASE WHEN (w.parsed->>'failed')::boolean THEN NULL ELSE w.parsed->'value' END,
               CASE WHEN (w.parsed->>'failed')::boolean THEN w.parsed->'error' END
        FROM ${sql.raw(name)} f JOIN ${sql.raw(input)} w ON w.step_run_id = f.id
        WHERE w.parsed IS NOT NULL)`,
    },
  ];
}
