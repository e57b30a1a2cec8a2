import { sql } from 'drizzle-orm';
import type { RunUsageRecord } from '../core/run-reads.js';

/** Tokens one run used, by provider and model (SPEC §16): the port's record (core/run-reads.ts). */
export type RunUsageRow = RunUsageRecord;

/**
 * A correlated subquery for the run row aliased `r`: its usage by provider and model over
 * every LLM call artifact of its step runs — every attempt, failed ones (a truncated reply is
 * paid for) and retried ones included — as a JSON array ordered by provider and model. A
 * count a provider did not report as a number is NULL (evidence is stored as it was sent).
 */
export const runUsageColumn = sql`COALESCE((
  SELECT json_agg(json_build_object('provider', u.provider, 'model', u.model, 'calls', u.calls, 'tries', u.tries,
           'prompt_tokens', u.prompt_tokens, 'completion_tokens', u.completion_tokens, 'total_tokens', u.total_tokens,
           'calls_without_usage', u.calls_without_usage) ORDER BY u.provider, u.model)
  FROM (
    SELECT c.provider, c.model, count(*)::int AS calls, sum(c.tries)::int AS tries,
           COALESCE(sum(t.p), 0)::bigint AS prompt_tokens, COALESCE(sum(t.c), 0)::bigint AS completion_tokens,
           COALESCE(sum(COALESCE(t.t, t.p + t.c)), 0)::bigint AS total_tokens,
           (count(*) FILTER (WHERE t.p IS NULL AND t.c IS NULL))::int AS calls_without_usage
    FROM dag_step_runs s
    JOIN llm_call_artifacts c ON c.step_run_id = s.id
    CROSS JOIN LATERAL (SELECT
      CASE WHEN jsonb_typeof(c.usage -> 'prompt_tokens') = 'number' THEN (c.usage ->> 'prompt_tokens')::numeric END AS p,
      CASE WHEN jsonb_typeof(c.usage -> 'completion_tokens') = 'number' THEN (c.usage ->> 'completion_tokens')::numeric END AS c,
      CASE WHEN jsonb_typeof(c.usage -> 'total_tokens') = 'number' THEN (c.usage ->> 'total_tokens')::numeric END AS t) t
    WHERE s.run_id = r.id
    GROUP BY c.provider, c.model) u), '[]'::json)`;
