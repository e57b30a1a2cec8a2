import type { ApiClient } from '../client.js';
import { CliError } from '../client.js';
import type { RunJson } from '../api-types.js';
import { EXIT } from '../exit-codes.js';
import { duration, status, type Output } from '../output.js';

interface Message {
  role: string;
  content: string;
}

interface StepDetailJson {
  id: string;
  step_key: string;
  step_type: 'task' | 'compute';
  status: string;
  attempt: number;
  started_at: string;
  ended_at: string | null;
  output: unknown;
  error: { message?: string } | null;
  attestation: { outcome: string; attested_by: string; notes: string | null } | null;
  artifacts: {
    prompts: Array<{ attempt: number; system_template: string | null; messages: Message[] | null; error: { message?: string } | null }>;
    llm_calls: Array<{
      attempt: number;
      provider: string;
      model: string;
      usage: { prompt_tokens: number | null; completion_tokens: number | null } | null;
      latency_ms: number;
      tries: number;
      error: { message?: string } | null;
    }>;
    parsed_outputs: Array<{ attempt: number; format: string; value: unknown; error: { message?: string } | null }>;
  } | null;
}

/**
 * `stepgate status RUN --step KEY`: one step's evidence, its latest attempt — for a task step
 * the rendered system prompt and prompt, the LLM call (provider, model, tries, latency,
 * tokens) and the parsed output; for a compute step its attestation. `--json` prints the
 * API's answer (GET /api/runs/{run}/steps/{step_run}) as it is.
 */
export async function stepEvidenceCommand(api: ApiClient, out: Output, runId: string, step: string): Promise<number> {
  const run = await api.request<RunJson>('GET', `/api/runs/${encodeURIComponent(runId)}`);
  const latest = run.step_runs.filter((s) => s.id === step || s.step_key === step).sort((a, b) => b.attempt - a.attempt)[0];
  if (!latest) throw new CliError(`Run ${run.id} has no step run "${step}". Its steps: ${run.step_runs.map((s) => s.step_key).join(', ') || '(none yet)'}.`, EXIT.notFound);
  const detail = await api.request<StepDetailJson>('GET', `/api/runs/${run.id}/steps/${latest.id}`);
  if (out.json) {
    out.data(detail);
    return EXIT.ok;
  }
  out.line(`Step ${out.style('bold', detail.step_key)} (${detail.step_type}) ${status(out, detail.status)}, attempt ${detail.attempt}, ${duration(detail.started_at, detail.ended_at)}`);
  const ofAttempt = <T extends { attempt: number }>(items: readonly T[] | undefined) => items?.filter((item) => item.attempt === detail.attempt) ?? [];
  for (const prompt of ofAttempt(detail.artifacts?.prompts)) {
    const system = prompt.messages?.find((m) => m.role === 'system');
    if (system) block(out, 'system prompt', system.content);
    for (const message of prompt.messages?.filter((m) => m.role !== 'system') ?? []) block(out, message.role === 'user' ? 'prompt' : message.role, message.content);
    if (prompt.error?.message) out.line(out.style('red', `  prompt error: ${prompt.error.message}`));
  }
  for (const call of ofAttempt(detail.artifacts?.llm_calls)) {
    const tokens = call.usage && call.usage.prompt_tokens !== null && call.usage.completion_tokens !== null ? `, ${call.usage.prompt_tokens}→${call.usage.completion_tokens} tokens` : '';
    out.line(`  LLM call: ${call.provider}:${call.model}, ${call.tries} tr${call.tries === 1 ? 'y' : 'ies'}, ${call.latency_ms} ms${tokens}`);
    if (call.error?.message) out.line(out.style('red', `  LLM error: ${call.error.message}`));
  }
  for (const parsed of ofAttempt(detail.artifacts?.parsed_outputs)) {
    if (parsed.error) out.line(out.style('red', `  parse error: ${parsed.error.message ?? JSON.stringify(parsed.error)}`));
    else block(out, `output (${parsed.format})`, typeof parsed.value === 'string' ? parsed.value : JSON.stringify(parsed.value, null, 2));
  }
  if (detail.attestation) {
    out.line(`  attested ${detail.attestation.outcome} by ${detail.attestation.attested_by}${detail.attestation.notes ? `: ${detail.attestation.notes}` : ''}`);
  }
  if (detail.error?.message && !detail.artifacts) out.line(out.style('red', `  error: ${detail.error.message}`));
  out.line(out.style('gray', `  (the whole record, with the provider's request and response: stepgate --json status ${run.id} --step ${detail.step_key})`));
  return EXIT.ok;
}

function block(out: Output, label: string, text: string): void {
  out.line(`  ${label}:`);
  for (const line of text.split('\n')) out.line(`    ${line}`);
}
