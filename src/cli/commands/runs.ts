import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { ApiClient } from '../client.js';
import { CliError } from '../client.js';
import type { InboxJson, ManifestJson, ManifestStepJson, Page, RunJson, RunUsageJson } from '../api-types.js';
import { EXIT, exitCodeOfRun } from '../exit-codes.js';
import { streamRun } from '../run-stream.js';
import { llmUsageOf } from '../llm-usage.js';
import { duration, status, table, type Output } from '../output.js';

/** `stepgate run FILE|MANIFEST_ID`: registers the manifest if needed, starts a run, reports it. */
export async function runCommand(
  api: ApiClient,
  out: Output,
  target: string,
  options: { input?: string[]; inputs?: string; progress?: boolean },
): Promise<number> {
  const inputs = readInputs(options);
  let manifestId = target;
  let steps: ManifestStepJson[] | undefined;
  if (existsSync(target)) {
    const stored = await api.request<ManifestJson>('POST', '/api/manifests', { yaml: readFileSync(target, 'utf8') });
    manifestId = stored.id;
    steps = stored.steps;
    if (!out.json) out.line(out.style('gray', `manifest ${stored.name} v${stored.version} (${stored.id})`));
  } else if (!/^[0-9a-f-]{36}$/i.test(target)) {
    throw new CliError(`${target} is neither a file nor a manifest id. Pass a manifest file (YAML or JSON) or the id of a stored manifest.`, EXIT.invalidInput);
  }
  // The run's id is chosen here: should the connection drop, the error can name the run.
  const body = { manifest_id: manifestId, inputs, id: randomUUID() };
  const run = await advanceRun(api, out, { method: 'POST', path: '/api/runs', json: body, manifestId, steps, progress: options.progress });
  if (out.json) out.data(run);
  else await printRun(api, out, run, { verb: 'started' });
  return exitCodeOfRun(run.status);
}

/**
 * Starts, resumes or retries a run. With progress (the default), asks for the NDJSON stream
 * and shows each event as it arrives (nothing but the final run with --json); with
 * --no-progress, one plain answer once the run waits or ends. Neither has a client-side
 * timeout: a run is followed for as long as its LLM calls take.
 */
export async function advanceRun(
  api: ApiClient,
  out: Output,
  request: { method: string; path: string; json?: unknown; manifestId: string; steps?: ManifestStepJson[]; progress?: boolean },
): Promise<RunJson> {
  if (request.progress === false) return streamRun(api, request.method, request.path, request.json, () => {}, 'application/json');
  if (out.json) return streamRun(api, request.method, request.path, request.json, () => {});
  const [steps, { createProgress }] = await Promise.all([
    request.steps ?? api.request<ManifestJson>('GET', `/api/manifests/${request.manifestId}`).then((manifest) => manifest.steps),
    import('../progress.js'), // the spinner's library, only for the commands that show one
  ]);
  const progress = createProgress(out, new Map(steps.map((step) => [step.key, step.step_type ?? 'task'])));
  try {
    return await streamRun(api, request.method, request.path, request.json, (event) => progress.event(event));
  } finally {
    progress.stop();
  }
}

/** `--input key=value` (a string), `--input key:=json` (a JSON value), `--inputs file.json`. */
function readInputs(options: { input?: string[]; inputs?: string }): Record<string, unknown> {
  let inputs: Record<string, unknown> = {};
  if (options.inputs) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(options.inputs, 'utf8'));
    } catch (err) {
      throw new CliError(`--inputs ${options.inputs}: ${(err as Error).message}`, EXIT.invalidInput);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CliError(`--inputs ${options.inputs} must hold a JSON object`, EXIT.invalidInput);
    inputs = parsed as Record<string, unknown>;
  }
  for (const pair of options.input ?? []) {
    const json = /^([^=:]+):=(.*)$/s.exec(pair);
    const text = /^([^=]+)=(.*)$/s.exec(pair);
    if (json) {
      try {
        inputs[json[1]!] = JSON.parse(json[2]!);
      } catch {
        throw new CliError(`--input ${pair}: the value after := must be JSON`, EXIT.invalidInput);
      }
    } else if (text) inputs[text[1]!] = text[2]!;
    else throw new CliError(`--input ${pair}: expected key=value or key:=json`, EXIT.invalidInput);
  }
  return inputs;
}

/** `stepgate runs`: a page of runs, newest first; the next one with the --cursor it prints. */
export async function runsCommand(api: ApiClient, out: Output, options: { status?: string; manifest?: string; limit?: string; cursor?: string; count?: boolean }): Promise<number> {
  const query = new URLSearchParams();
  if (options.status) query.set('status', options.status);
  if (options.manifest) query.set('manifest_id', options.manifest);
  query.set('limit', options.limit ?? '50');
  if (options.cursor) query.set('cursor', options.cursor);
  if (options.count) query.set('count', 'true');
  const page = await api.request<Page<Omit<RunJson, 'step_runs' | 'waiting_on'>>>('GET', `/api/runs?${query}`);
  if (out.json) out.data(page);
  else if (page.items.length === 0) out.line('No runs.');
  else {
    out.line(
      table([
        ['RUN', 'STATUS', 'MANIFEST', 'CREATED', 'ENDED'],
        ...page.items.map((run) => [run.id, runState(out, run), run.manifest_id, run.created_at, run.ended_at ?? '']),
      ]),
    );
    if (page.total !== undefined) out.line(out.style('gray', `${page.total} run${page.total === 1 ? '' : 's'} match`));
    if (page.next_cursor) out.line(out.style('gray', `more: ${nextPageHint('runs', options, page.next_cursor)}`));
  }
  return EXIT.ok;
}

/** The command that shows the next page: the same one, with --cursor. */
export function nextPageHint(command: string, options: Record<string, string | boolean | undefined>, cursor: string): string {
  const flag = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  const kept = Object.entries(options).filter(([key, value]) => key !== 'cursor' && key !== 'count' && value !== undefined && value !== false);
  const quote = (value: string) => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`);
  return [`stepgate ${command}`, ...kept.map(([key, value]) => (value === true ? flag(key) : `${flag(key)} ${quote(String(value))}`)), `--cursor ${cursor}`].join(' ');
}

export async function statusCommand(api: ApiClient, out: Output, runId: string): Promise<number> {
  const run = await api.request<RunJson>('GET', `/api/runs/${encodeURIComponent(runId)}`);
  if (out.json) out.data(run);
  else await printRun(api, out, run, { verb: 'status' });
  return EXIT.ok;
}

export async function resumeCommand(api: ApiClient, out: Output, runId: string, options: { progress?: boolean } = {}): Promise<number> {
  const before = await api.request<RunJson>('GET', `/api/runs/${encodeURIComponent(runId)}`);
  const run = await advanceRun(api, out, { method: 'POST', path: `/api/runs/${encodeURIComponent(runId)}/resume`, manifestId: before.manifest_id, progress: options.progress });
  if (out.json) out.data(run);
  else {
    const known = new Map(before.step_runs.map((s) => [s.id, `${s.status}/${s.attempt}`]));
    const ran = run.step_runs.filter((s) => known.get(s.id) !== `${s.status}/${s.attempt}`);
    out.line(ran.length === 0 ? 'Nothing new could run.' : `Ran: ${ran.map((s) => `${unitLabel(s)} (${status(out, s.status)})`).join(', ')}`);
    await printRun(api, out, run, { verb: 'status' });
  }
  return exitCodeOfRun(run.status);
}

export async function inboxCommand(api: ApiClient, out: Output, options: { limit?: string }): Promise<number> {
  const page = await api.request<InboxJson>('GET', `/api/attestations/pending?limit=${options.limit ?? '50'}`);
  if (out.json) {
    out.data(page);
    return EXIT.ok;
  }
  for (const ready of page.ready_to_resume) {
    out.line(`${out.style('green', 'ready to resume')}: run ${ready.run_id} (${ready.manifest.name} v${ready.manifest.version}): stepgate resume ${ready.run_id}`);
  }
  if (page.items.length === 0) {
    out.line('Nothing waits for attestation.');
    return EXIT.ok;
  }
  for (const item of page.items) {
    const outputs = item.contract.outputs.map((o) => (typeof o === 'string' ? o : o.name));
    const due = item.due_at ? (item.overdue ? out.style('red', `, OVERDUE since ${item.due_at}`) : `, due ${item.due_at}`) : '';
    out.line(`${out.style('bold', item.label)} in run ${item.run_id} (${item.manifest.name} v${item.manifest.version}), waiting since ${item.waiting_since}${due}`);
    out.line(`  executor: ${typeof item.contract.executor === 'string' ? item.contract.executor : JSON.stringify(item.contract.executor)}`);
    if (item.item_index !== null) out.line(`  item ${item.item_index}: ${truncate(JSON.stringify(item.item))}`);
    if (item.instructions) out.line(`  instructions: ${item.instructions}`);
    for (const input of item.inputs) out.line(`  input ${input.name}: ${input.value === null ? out.style('gray', '(see the upstream outputs)') : truncate(JSON.stringify(input.value))}`);
    for (const [key, value] of Object.entries(item.upstream)) out.line(`  upstream ${key}: ${truncate(JSON.stringify(value))}`);
    out.line(`  expected outputs: ${outputs.join(', ') || '(none)'}`);
    out.line(`  attest: ${attestHint(item.run_id, item.step_key, item.item_index, outputs)}`);
  }
  return EXIT.ok;
}

export function attestHint(runId: string, stepKey: string, itemIndex: number | null, outputs: string[]): string {
  return `stepgate attest ${runId} ${stepKey}${itemIndex === null ? '' : ` --item ${itemIndex}`} --outcome SUCCESS${outputs.map((name) => ` --artifact ${name}=PATH`).join('')}`;
}

/** `B` or `B[3]`. */
const unitLabel = (step: { step_key: string; item_index?: number | null }) => (step.item_index == null ? step.step_key : `${step.step_key}[${step.item_index}]`);

/** Items of one map step shown one by one in `status`; beyond, the rest is counted. */
const ITEMS_SHOWN = 10;

function truncate(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A run's status, with what it means for the operator: stalled, ready to resume. */
export function runState(out: Output, run: Pick<RunJson, 'status' | 'stalled' | 'ready_to_resume'>): string {
  if (run.stalled) return `${status(out, run.status)} ${out.style('red', '(stalled: resume takes it over)')}`;
  if (run.ready_to_resume) return `${status(out, run.status)} ${out.style('green', '(ready to resume)')}`;
  return status(out, run.status);
}

export async function printRun(api: ApiClient, out: Output, run: RunJson, options: { verb: string }): Promise<void> {
  const usage = await llmUsageOf(api, run);
  out.line(`Run ${run.id} ${options.verb}: ${runState(out, run)}`);
  // A map step's items: the first few one by one, the others counted in its summary line.
  const shown = run.step_runs.filter((step) => step.item_index === null || step.item_index < ITEMS_SHOWN);
  out.line(
    table(
      shown.map((step) => [
        `  ${unitLabel(step)}`,
        step.step_type,
        status(out, step.status),
        [step.attempt > 1 ? `attempt ${step.attempt}` : '', step.overdue ? out.style('red', 'OVERDUE') : step.due_at && step.status === 'WAITING_FOR_ATTESTATION' ? `due ${step.due_at}` : ''].filter(Boolean).join(' '),
        duration(step.started_at, step.ended_at),
        out.style('gray', usage.get(step.id) ?? ''),
        step.error?.message ? out.style('red', truncate(step.error.message)) : step.attestation ? `attested by ${step.attestation.attested_by}` : '',
      ]),
    ),
  );
  if (run.usage && run.usage.calls > 0) out.line(usageLine(run.usage));
  for (const map of run.map_steps ?? []) {
    const counts = [map.running && `${map.running} running`, map.waiting && `${map.waiting} waiting`, map.failed && `${map.failed} failed`, map.cancelled && `${map.cancelled} cancelled`].filter(Boolean);
    out.line(`  ${map.step_key}: map over ${map.total === null ? 'a list not known yet' : `${map.total} items`}, ${map.done} done${counts.length > 0 ? `, ${counts.join(', ')}` : ''}`);
  }
  for (const step of shown) {
    for (const artifact of step.attestation?.artifacts ?? []) {
      const verification = artifact.verified ? out.style('green', 'verified by the server') : out.style('gray', `not verified: ${artifact.verification}`);
      out.line(`  ${unitLabel(step)}.${artifact.name}: ${artifact.uri} sha256:${artifact.sha256} ${artifact.bytes} bytes (${verification})`);
    }
  }
  if (run.status === 'waiting' && run.waiting_on.length > 0) {
    out.line();
    out.line(`Waiting for attestation of: ${run.waiting_on.map(unitLabel).join(', ')}. Once the work is done, attest it:`);
    const outputsOf = new Map<string, string[]>();
    for (const waiting of run.waiting_on.slice(0, ITEMS_SHOWN)) {
      if (!outputsOf.has(waiting.step_key)) {
        const detail = await api.request<{ compute_contract: { outputs: Array<string | { name: string }> } | null }>('GET', `/api/runs/${run.id}/steps/${waiting.step_run_id}`);
        outputsOf.set(waiting.step_key, (detail.compute_contract?.outputs ?? []).map((o) => (typeof o === 'string' ? o : o.name)));
      }
      out.line(`  ${attestHint(run.id, waiting.step_key, waiting.item_index ?? null, outputsOf.get(waiting.step_key)!)}`);
    }
    if (run.waiting_on.length > ITEMS_SHOWN) out.line(`  … and ${run.waiting_on.length - ITEMS_SHOWN} more (stepgate inbox lists them all)`);
    out.line(`then continue the run: stepgate resume ${run.id}`);
  }
  if (run.ready_to_resume) out.line(`Everything it waited on is attested: stepgate resume ${run.id}`);
  if (run.stalled) out.line(out.style('red', `The process advancing it stopped renewing its lease: stepgate resume ${run.id} takes it over.`));
  if (run.status === 'error' && run.error?.message) out.line(out.style('red', `The run failed: ${run.error.message}. To give its failed steps a new attempt: stepgate retry ${run.id}`));
  if (run.status === 'cancelled') out.line(`The run was cancelled${run.cancel_reason ? `: ${run.cancel_reason}` : '.'}`);
}

/** `Tokens: 1234 in → 567 out over 4 LLM calls (5 tries): claude:claude-sonnet-4-5 20→4, …` */
export function usageLine(usage: RunUsageJson): string {
  const calls = `${usage.calls} LLM call${usage.calls === 1 ? '' : 's'}${usage.tries > usage.calls ? ` (${usage.tries} tries)` : ''}`;
  const unknown = usage.calls_without_usage > 0 ? `; ${usage.calls_without_usage} without usage reported` : '';
  const models = usage.by_model.map((m) => `${m.provider}:${m.model} ${m.prompt_tokens}→${m.completion_tokens}`).join(', ');
  return `Tokens: ${usage.prompt_tokens} in → ${usage.completion_tokens} out over ${calls}${unknown}: ${models}`;
}
