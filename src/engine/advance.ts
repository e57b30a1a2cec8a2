import { RunLeaseLostError } from '../core/errors.js';
import { LlmCallError, splitModel } from '../core/llm.js';
import { parseReply } from '../core/output.js';
import { TemplateRenderError, valuesUsed } from '../core/template.js';
import { returnRunToWaiting } from '../storage/attestations.js';
import { AdvanceBatch, type CallRecord, type ParsedRecord } from '../storage/advance-batch.js';
import type { EngineDeps } from './deps.js';
import { SimulatedCrash } from './faults.js';
import { planOf, type Plan, type PlannedStep } from './plan.js';

/** What the runner knows of one step run while it advances a run. */
interface StepState {
  readonly id: string;
  readonly status: string;
  readonly attempt: number;
  readonly output: unknown;
}

/**
 * Advances a run this process holds. If advancing fails unexpectedly, the run is handed back
 * as `waiting` so that a resume can continue it at once (a process that really dies leaves it
 * `running` until its lease expires; a resume then recovers it).
 */
export async function advanceHeldRun(deps: EngineDeps, run: RunToAdvance, options: AdvanceOptions): Promise<void> {
  try {
    await executeManifest(deps, run, options);
  } catch (err) {
    if (!(err instanceof SimulatedCrash)) {
      await returnRunToWaiting(deps.db, { runId: run.id, executorId: deps.executorId }).catch(() => {});
    }
    throw err;
  }
}

/** The run as the runner needs it; a new run is inserted by the runner's first statement. */
export interface RunToAdvance {
  readonly id: string;
  readonly manifestId: string;
  readonly inputs: unknown;
}

/**
 * Either the run does not exist yet (the first statement inserts it, `running`, held by this
 * executor), or the caller holds it and has read its step runs (a resume's claim does).
 */
export type AdvanceOptions = { readonly create: true } | { readonly stepRuns: ReadonlyArray<StepState & { readonly stepKey: string }> };

type TemplateContext = Record<string, unknown> & { readonly inputs: unknown; readonly steps: Record<string, unknown> };

/**
 * execute_manifest (SPEC §3): advances a run this executor holds (status `running`) until it
 * waits or ends. State is rebuilt from the database, never from an earlier request: a step
 * with a SUCCESS step run is never run again. Steps run in the plan's order (topological,
 * ties by manifest order) once all their `depends_on` are SUCCESS; compute steps are parked;
 * when nothing more can run, the run is released as `waiting`, `success` or `error`.
 *
 * Writes are batched (storage/advance-batch.ts): each task step costs one statement, which
 * also records the outcome of the step before it and parks what that step unblocked; the
 * LLM is called between statements, outside any transaction.
 */
export async function executeManifest(deps: EngineDeps, run: RunToAdvance, options: AdvanceOptions): Promise<void> {
  const plan = await planOf(deps.db, deps.plans, run.manifestId);
  // A run created by this very request has no step runs yet: nothing to read back.
  const create = 'create' in options;
  const rows = create ? [] : options.stepRuns;
  const state = new Map<string, StepState>(rows.map((row) => [row.stepKey, row]));
  const context = templateContext(run, plan, state);
  const batch = new AdvanceBatch(
    create
      ? { kind: 'create', runId: run.id, executorId: deps.executorId, manifestId: run.manifestId, inputs: run.inputs, leaseMs: deps.leaseMs }
      : { kind: 'held', runId: run.id, executorId: deps.executorId },
  );
  const flush = async () => {
    const result = await batch.flush(deps.db, deps.prepared);
    if (!result.held) throw new RunLeaseLostError(run.id);
    return result;
  };

  for (;;) {
    const next = plan.steps.find((step) => isRunnable(step, state));
    if (!next) break;
    if (next.type === 'compute') {
      batch.park({ manifestStepId: next.manifestStepId, stepKey: next.key });
      state.set(next.key, { id: '', status: 'WAITING_FOR_ATTESTATION', attempt: 1, output: null });
      continue;
    }
    const outcome = await runTaskStep(deps, next, state, context, batch, flush);
    state.set(next.key, outcome);
    if (outcome.status === 'FAIL') return; // the failure was written with the run's end
    context.steps[next.key] = { output: outcome.output };
  }

  const statuses = plan.steps.map((step) => state.get(step.key)?.status);
  const status = statuses.includes('WAITING_FOR_ATTESTATION') ? 'waiting' : statuses.every((s) => s === 'SUCCESS') ? 'success' : 'error';
  batch.release(status, status === 'error' ? { message: 'steps could not run because an upstream step did not succeed' } : undefined);
  await flush();
}

/** Not started (or a task step left RUNNING by a process that died), and every dependency SUCCESS. */
function isRunnable(step: PlannedStep, state: ReadonlyMap<string, StepState>): boolean {
  const current = state.get(step.key);
  if (current && !(current.status === 'RUNNING' && step.type === 'task')) return false;
  return step.dependsOn.every((dep) => state.get(dep)?.status === 'SUCCESS');
}

/** The canonical outputs of finished steps, as templates see them (`steps.X…`); kept up to date as steps succeed. */
function templateContext(run: RunToAdvance, plan: Plan, state: ReadonlyMap<string, StepState>): TemplateContext {
  const steps: Record<string, unknown> = {};
  for (const [key, stepRun] of state) {
    if (stepRun.status !== 'SUCCESS') continue;
    steps[key] = plan.byKey.get(key)?.type === 'compute' ? stepRun.output : { output: stepRun.output };
  }
  return { inputs: run.inputs, steps };
}

/**
 * One task step: PromptArtifact → llm_complete() → LLMCallArtifact → ParsedOutputArtifact →
 * SUCCESS or FAIL. Its start is flushed before the LLM call; a SUCCESS is written with the
 * next flush, a FAIL (which ends the run) at once.
 */
async function runTaskStep(
  deps: EngineDeps,
  step: PlannedStep,
  state: ReadonlyMap<string, StepState>,
  context: TemplateContext,
  batch: AdvanceBatch,
  flush: () => Promise<{ started: { id: string; attempt: number } | undefined }>,
): Promise<StepState> {
  const leftover = state.get(step.key);
  const template = step.template!;
  const values = valuesUsed(context, template.references);
  let prompt: string | undefined;
  let renderError: { message: string } | undefined;
  try {
    prompt = template.render(context);
  } catch (err) {
    if (!(err instanceof TemplateRenderError)) throw err;
    renderError = { message: `the prompt could not be rendered: ${err.message}` };
  }
  const messages = prompt === undefined ? undefined : [{ role: 'user' as const, content: prompt }];
  const promptRecord = { template: template.source, values, messages, error: renderError };
  if (leftover) batch.retry({ stepRunId: leftover.id, attempt: leftover.attempt, prompt: promptRecord });
  else batch.start({ manifestStepId: step.manifestStepId, stepKey: step.key, prompt: promptRecord });
  const { started } = await flush();
  if (!started) throw new Error(`step ${step.key} could not be started`);

  const fail = async (error: unknown, call?: CallRecord, parsed?: ParsedRecord): Promise<StepState> => {
    batch.record({ stepRunId: started.id, attempt: started.attempt, call, parsed, outcome: { status: 'FAIL', error } });
    batch.fail({ step_key: step.key, step_run_id: started.id, message: `step ${step.key} failed` });
    await flush();
    return { id: started.id, status: 'FAIL', attempt: started.attempt, output: null };
  };
  if (messages === undefined) return fail(renderError);

  const model = step.model ?? deps.defaultModel;
  const { provider: providerName, model: modelName } = splitModel(model);
  const provider = deps.providers.get(providerName);
  if (!provider) return fail({ message: `no provider "${providerName}" (model "${model}"); known: ${[...deps.providers.keys()].join(', ')}` });

  deps.faults?.hit('afterPromptBeforeLlm');
  const request = { stepKey: step.key, model: modelName, messages, params: step.params, output: { format: step.output.format, schema: step.output.schema } };
  const began = performance.now();
  let reply;
  try {
    reply = await provider.complete(request);
  } catch (err) {
    const latencyMs = performance.now() - began;
    deps.faults?.hit('afterLlmBeforeCommit');
    const failure = err instanceof LlmCallError ? err : undefined;
    const error = { message: `the LLM call failed: ${failure?.message ?? (err instanceof Error ? err.message : String(err))}`, kind: failure?.kind ?? 'provider', status: failure?.status ?? null };
    return fail(error, {
      provider: providerName,
      model: modelName,
      request: failure?.requestBody ?? request,
      response: failure?.responseBody ?? null,
      usage: failure?.usage ?? null,
      latencyMs,
      tries: failure?.tries ?? 1,
      error,
    });
  }
  const latencyMs = performance.now() - began;
  deps.faults?.hit('afterLlmBeforeCommit');

  const call: CallRecord = {
    provider: providerName,
    model: modelName,
    request: reply.requestBody,
    response: reply.responseBody,
    usage: reply.usage,
    latencyMs,
    tries: reply.tries,
    error: undefined,
  };
  const check = step.validateOutput
    ? (value: unknown) => (step.validateOutput!(value) ? [] : (step.validateOutput!.errors ?? []).map((e) => ({ path: e.instancePath, message: e.message ?? 'is invalid' })))
    : undefined;
  const parsed = parseReply(reply.text, step.output, check);
  if (!parsed.ok) return fail({ message: `the output could not be parsed: ${parsed.error.message}` }, call, { format: step.output.format, value: undefined, error: parsed.error });

  batch.record({
    stepRunId: started.id,
    attempt: started.attempt,
    call,
    parsed: { format: step.output.format, value: parsed.value, error: undefined },
    outcome: { status: 'SUCCESS', output: parsed.value },
  });
  batch.renewLease(deps.leaseMs);
  return { id: started.id, status: 'SUCCESS', attempt: started.attempt, output: parsed.value };
}
