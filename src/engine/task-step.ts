import { LlmCallError, splitModel } from '../core/llm.js';
import { parseReply } from '../core/output.js';
import type { CallRecord, FlushResult, RunnerWrite } from '../core/run-store.js';
import { storable } from '../core/storable.js';
import { TemplateRenderError, valuesUsed } from '../core/template.js';
import type { StepState } from './advance.js';
import type { EngineDeps } from './deps.js';
import type { PlannedStep } from './plan.js';

export type TemplateContext = Record<string, unknown> & { readonly inputs: unknown; readonly steps: Record<string, unknown> };

interface Batch {
  queue(write: RunnerWrite): void;
  flush(): Promise<FlushResult>;
}

/**
 * One task step: PromptArtifact → llm_complete() → LLMCallArtifact → ParsedOutputArtifact →
 * SUCCESS or FAIL. Its start is flushed before the LLM call (outside any transaction); its
 * outcome is queued and written with the runner's next flush. Undefined when the step did not
 * start (the run was cancelled or attested meanwhile: the runner looks again).
 *
 * Failures are classified: transient provider failures were already retried by the provider
 * (each try counted); anything else — another 4xx, an unparseable reply, a reply the
 * database cannot store — ends the step FAIL at once with a readable error. A failed step
 * is never called again except by an explicit retry.
 */
export async function runTaskStep(
  deps: EngineDeps,
  step: PlannedStep,
  current: StepState | undefined,
  attempt: number,
  context: TemplateContext,
  batch: Batch,
): Promise<StepState | undefined> {
  const template = step.template!;
  const values = valuesUsed(context, [...(step.system?.references ?? []), ...template.references]);
  let prompt: string | undefined;
  let system: string | undefined;
  let renderError: { message: string } | undefined;
  let rendering = 'system prompt';
  try {
    // The system prompt (SPEC §16) is rendered like the prompt, and sent first.
    system = step.system?.render(context);
    rendering = 'prompt';
    prompt = template.render(context);
  } catch (err) {
    if (!(err instanceof TemplateRenderError)) throw err;
    renderError = { message: `the ${rendering} could not be rendered: ${err.message}` };
  }
  const messages = prompt === undefined ? undefined : [...(system === undefined ? [] : [{ role: 'system' as const, content: system }]), { role: 'user' as const, content: prompt }];
  const promptRecord = { template: template.source, systemTemplate: step.system?.source ?? null, values, messages, error: renderError };
  if (current?.status === 'RUNNING') batch.queue({ kind: 'restart', stepRunId: current.id, attempt: current.attempt, prompt: promptRecord });
  else batch.queue({ kind: 'start', manifestStepId: step.manifestStepId, stepKey: step.key, attempt, prompt: promptRecord });
  const { started } = await batch.flush();
  if (!started) return undefined;

  const finish = (outcome: { status: 'SUCCESS'; output: unknown } | { status: 'FAIL'; error: unknown }, call?: CallRecord, parsed?: { format: 'text' | 'json'; value: unknown; error: unknown }): StepState => {
    batch.queue({ kind: 'finish', stepRunId: started.id, attempt: started.attempt, call, parsed, outcome });
    return outcome.status === 'SUCCESS'
      ? { id: started.id, status: 'SUCCESS', attempt: started.attempt, output: outcome.output, error: null, dueAt: null }
      : { id: started.id, status: 'FAIL', attempt: started.attempt, output: null, error: outcome.error, dueAt: null };
  };
  if (messages === undefined) return finish({ status: 'FAIL', error: renderError });

  const model = step.model ?? deps.defaultModel;
  const { provider: providerName, model: modelName } = splitModel(model);
  const provider = deps.providers.get(providerName);
  if (!provider) return finish({ status: 'FAIL', error: { message: `no provider "${providerName}" (model "${model}"); known: ${[...deps.providers.keys()].join(', ')}` } });

  await deps.faults?.hit('afterPromptBeforeLlm');
  const request = { stepKey: step.key, model: modelName, messages, params: step.params, output: { format: step.output.format, schema: step.output.schema } };
  const began = performance.now();
  let reply;
  try {
    reply = await provider.complete(request);
  } catch (err) {
    const latencyMs = performance.now() - began;
    await deps.faults?.hit('afterLlmBeforeCommit');
    const failure = err instanceof LlmCallError ? err : undefined;
    const error = { message: `the LLM call failed: ${failure?.message ?? (err instanceof Error ? err.message : String(err))}`, kind: failure?.kind ?? 'provider', status: failure?.status ?? null };
    const call = { provider: providerName, model: modelName, request: failure?.requestBody ?? request, response: failure?.responseBody ?? null, usage: failure?.usage ?? null, latencyMs, tries: failure?.tries ?? 1, error };
    return finish({ status: 'FAIL', error }, storable(call).value);
  }
  const latencyMs = performance.now() - began;
  await deps.faults?.hit('afterLlmBeforeCommit');

  // PostgreSQL cannot store a NUL character (or a lone surrogate) in text or jsonb: such a
  // reply is kept as evidence with those characters replaced, and fails the step for good
  // instead of failing the write — and being fetched, and paid, again on every resume.
  const evidence = storable({ provider: providerName, model: modelName, request: reply.requestBody, response: reply.responseBody, usage: reply.usage, latencyMs, tries: reply.tries, error: undefined });
  const call: CallRecord = evidence.value;
  const problem = evidence.problem ?? storable(reply.text).problem;
  if (problem) {
    const error = { message: `the reply cannot be stored: it holds ${problem.what} at ${problem.path}; the provider's reply is kept with it replaced by U+FFFD`, kind: 'unstorable' };
    return finish({ status: 'FAIL', error }, { ...call, error });
  }
  const check = step.validateOutput
    ? (value: unknown) => (step.validateOutput!(value) ? [] : (step.validateOutput!.errors ?? []).map((e) => ({ path: e.instancePath, message: e.message ?? 'is invalid' })))
    : undefined;
  const parsed = parseReply(reply.text, step.output, check);
  if (!parsed.ok) {
    return finish({ status: 'FAIL', error: { message: `the output could not be parsed: ${parsed.error.message}` } }, call, { format: step.output.format, value: undefined, error: parsed.error });
  }
  return finish({ status: 'SUCCESS', output: parsed.value }, call, { format: step.output.format, value: parsed.value, error: undefined });
}
