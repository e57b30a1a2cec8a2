import type { ApiClient } from './client.js';
import type { RunJson } from './api-types.js';

interface LlmCallJson {
  attempt: number;
  usage: { prompt_tokens: number | null; completion_tokens: number | null; total_tokens: number | null } | null;
  latency_ms: number;
  tries: number;
}

/**
 * What each finished task step's LLM calls cost, for the step summary: tokens in → out and
 * the time spent waiting on the provider, over every try of the step's current attempt.
 * One `GET /api/runs/{id}/steps/{step_run_id}` per task step, in parallel.
 */
export async function llmUsageOf(api: ApiClient, run: RunJson): Promise<Map<string, string>> {
  const tasks = run.step_runs.filter((step) => step.step_type === 'task' && step.status !== 'RUNNING');
  const details = await Promise.all(
    tasks.map((step) => api.request<{ attempt: number; artifacts: { llm_calls: LlmCallJson[] } | null }>('GET', `/api/runs/${run.id}/steps/${step.id}`)),
  );
  const usage = new Map<string, string>();
  tasks.forEach((step, i) => {
    const calls = (details[i]!.artifacts?.llm_calls ?? []).filter((call) => call.attempt === details[i]!.attempt);
    if (calls.length === 0) return;
    usage.set(step.id, describe(calls));
  });
  return usage;
}

function describe(calls: readonly LlmCallJson[]): string {
  const sum = (pick: (call: LlmCallJson) => number | null | undefined) => {
    const values = calls.map(pick);
    return values.every((v) => typeof v === 'number') ? (values as number[]).reduce((a, b) => a + b, 0) : undefined;
  };
  const prompt = sum((call) => call.usage?.prompt_tokens);
  const completion = sum((call) => call.usage?.completion_tokens);
  const latency = sum((call) => call.latency_ms) ?? 0;
  const tokens = prompt !== undefined && completion !== undefined ? `${prompt}→${completion} tokens` : 'tokens unknown';
  const tries = calls.reduce((n, call) => n + call.tries, 0);
  return `${tokens}, LLM ${latency < 1000 ? `${latency} ms` : `${(latency / 1000).toFixed(1)} s`}${tries > 1 ? ` (${tries} tries)` : ''}`;
}
