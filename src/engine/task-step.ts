import { LlmCallError, splitModel, type LlmReply } from '../core/llm.js';
import { parseReply } from '../core/output.js';
import type { CallRecord, RunnerWrite, StartedStepRun } from '../core/run-store.js';
import { storable } from '../core/storable.js';
import { TemplateRenderError, valuesUsed } from '../core/template.js';
import type { EngineDeps } from './deps.js';
import type { PlannedStep } from './plan.js';
import type { StepIo, StepState, TemplateContext, UnitState } from './runner-types.js';

type Outcome = Extract<RunnerWrite, { kind: 'finish' }>['outcome'];

/**
 * One task step: PromptArtifact → llm_complete() → LLMCallArtifact → ParsedOutputArtifact →
 * SUCCESS or FAIL. It waits for a slot of its provider (SPEC §16), then its start is flushed
 * before the LLM call (outside any transaction); its outcome is queued and written with the
 * run's next flush. Undefined when the step did not start (the run was cancelled, a step
 * failed or something was attested meanwhile: the runner looks again).
 *
 * Failures are classified: transient provider failures were already retried by the provider
 * (each try counted); anything else — another 4xx, an unparseable reply, a reply the
 * database cannot store — ends the step FAIL at once with a readable error. A call aborted
 * by a cancel ends the step CANCELLED. A failed step is never called again except by an
 * explicit retry.
 */
export async function runTaskStep(
  deps: EngineDeps,
  step: PlannedStep,
  current: StepState | undefined,
  attempt: number,
  context: TemplateContext,
  io: StepIo,
  unit: { readonly itemIndex: number | null; readonly item: unknown } = { itemIndex: null, item: null },
): Promise<UnitState | undefined> {
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
  const leftover = current?.status === 'RUNNING' ? current : undefined;

  /** Writes the step's start; the step run it began, or undefined when it may not start. */
  const begin = async (): Promise<StartedStepRun | undefined> => {
    const seenSeq = io.decide();
    if (seenSeq === undefined) return undefined;
    if (leftover) io.queue({ kind: 'restart', stepRunId: leftover.id, attempt: leftover.attempt, prompt: promptRecord, seenSeq });
    else io.queue({ kind: 'start', manifestStepId: step.manifestStepId, stepKey: step.key, attempt, itemIndex: unit.itemIndex, item: unit.item, prompt: promptRecord, seenSeq });
    const result = await io.flush();
    const started = result.started.find((s) => (leftover ? s.id === leftover.id : s.stepKey === step.key && s.itemIndex === unit.itemIndex && s.attempt === attempt));
    // Refused although the run is running and nothing was attested: the runner's state is wrong.
    if (!started && result.status === 'running' && result.attestedSeq === seenSeq) throw new Error(`step ${step.key} could not be started as attempt ${attempt}`);
    return started;
  };
  const finish = (started: StartedStepRun, outcome: Outcome, call?: CallRecord, parsed?: { format: 'text' | 'json'; value: unknown; error: unknown }): UnitState => {
    io.queue({ kind: 'finish', stepRunId: started.id, stepKey: started.stepKey, itemIndex: started.itemIndex, attempt: started.attempt, call, parsed, outcome });
    return {
      id: started.id,
      itemIndex: started.itemIndex,
      status: outcome.status,
      attempt: started.attempt,
      output: outcome.status === 'SUCCESS' ? outcome.output : null,
      error: outcome.status === 'SUCCESS' ? null : outcome.error,
      dueAt: null,
    };
  };

  const model = step.model ?? deps.defaultModel;
  const { provider: providerName, model: modelName } = splitModel(model);
  const provider = deps.providers.get(providerName);
  if (messages === undefined || !provider) {
    // Fails without a call, so it needs no slot of a provider.
    const started = await begin();
    if (!started) return undefined;
    if (messages === undefined) return finish(started, { status: 'FAIL', error: renderError });
    return finish(started, { status: 'FAIL', error: { message: `no provider "${providerName}" (model "${model}"); known: ${[...deps.providers.keys()].join(', ')}` } });
  }

  let entered = false;
  try {
    return await deps.slots.run(providerName, io.signal, async () => {
      entered = true;
      const started = await begin();
      if (!started) return undefined;
      await deps.faults?.hit('afterPromptBeforeLlm');
      const request = { stepKey: step.key, model: modelName, messages, params: step.params, output: { format: step.output.format, schema: step.output.schema } };
      const began = performance.now();
      let reply;
      try {
        reply = await provider.complete(request, { signal: io.signal });
      } catch (err) {
        const latencyMs = performance.now() - began;
        await deps.faults?.hit('afterLlmBeforeCommit');
        const failure = err instanceof LlmCallError ? err : undefined;
        const aborted = failure?.kind === 'aborted';
        const error = {
          message: aborted ? 'the LLM call was aborted: the run was cancelled while this step was in flight' : `the LLM call failed: ${failure?.message ?? (err instanceof Error ? err.message : String(err))}`,
          kind: failure?.kind ?? 'provider',
          status: failure?.status ?? null,
        };
        const call = { provider: providerName, model: modelName, request: failure?.requestBody ?? request, response: failure?.responseBody ?? null, usage: failure?.usage ?? null, latencyMs, tries: failure?.tries ?? 1, error };
        return finish(started, { status: aborted ? 'CANCELLED' : 'FAIL', error }, storable(call).value);
      }
      const latencyMs = performance.now() - began;
      await deps.faults?.hit('afterLlmBeforeCommit');
      return finish(started, ...outcomeOf(step, reply, { provider: providerName, model: modelName, latencyMs }));
    });
  } catch (err) {
    // Cancelled while it waited for a slot: it never started.
    if (!entered && io.signal.aborted) return undefined;
    throw err;
  }
}

/**
 * What a reply makes of the step: its outcome, with the LLMCallArtifact and (when a reply
 * could be read) the ParsedOutputArtifact.
 */
function outcomeOf(
  step: PlannedStep,
  reply: LlmReply,
  of: { provider: string; model: string; latencyMs: number },
): [Outcome, CallRecord, { format: 'text' | 'json'; value: unknown; error: unknown }?] {
  // PostgreSQL cannot store a NUL character (or a lone surrogate) in text or jsonb: such a
  // reply is kept as evidence with those characters replaced, and fails the step for good
  // instead of failing the write — and being fetched, and paid, again on every resume.
  const evidence = storable({ ...of, request: reply.requestBody, response: reply.responseBody, usage: reply.usage, tries: reply.tries, error: undefined });
  const call: CallRecord = evidence.value;
  const problem = evidence.problem ?? storable(reply.text).problem;
  if (problem) {
    const error = { message: `the reply cannot be stored: it holds ${problem.what} at ${problem.path}; the provider's reply is kept with it replaced by U+FFFD`, kind: 'unstorable' };
    return [{ status: 'FAIL', error }, { ...call, error }];
  }
  const check = step.validateOutput
    ? (value: unknown) => (step.validateOutput!(value) ? [] : (step.validateOutput!.errors ?? []).map((e) => ({ path: e.instancePath, message: e.message ?? 'is invalid' })))
    : undefined;
  const parsed = parseReply(reply.text, step.output, check);
  if (!parsed.ok) {
    return [{ status: 'FAIL', error: { message: `the output could not be parsed: ${parsed.error.message}` } }, call, { format: step.output.format, value: undefined, error: parsed.error }];
  }
  return [{ status: 'SUCCESS', output: parsed.value }, call, { format: step.output.format, value: parsed.value, error: undefined }];
}
