import type { ApiClient } from '../client.js';
import type { RunJson, RunPlanJson } from '../api-types.js';
import { EXIT, exitCodeOfRun } from '../exit-codes.js';
import { table, type Output } from '../output.js';
import { advanceRun, printRun } from './runs.js';

/** `stepgate cancel RUN [--reason TEXT]` */
export async function cancelCommand(api: ApiClient, out: Output, runId: string, options: { reason?: string }): Promise<number> {
  const run = await api.request<RunJson>('POST', `/api/runs/${encodeURIComponent(runId)}/cancel`, { json: options.reason ? { reason: options.reason } : {} });
  if (out.json) out.data(run);
  else await printRun(api, out, run, { verb: 'cancelled' });
  return EXIT.ok;
}

/** `stepgate retry RUN`: a new attempt for every failed step, then the run continues. */
export async function retryCommand(api: ApiClient, out: Output, runId: string, options: { progress?: boolean } = {}): Promise<number> {
  const before = await api.request<RunJson>('GET', `/api/runs/${encodeURIComponent(runId)}`);
  const run = await advanceRun(api, out, { method: 'POST', path: `/api/runs/${encodeURIComponent(runId)}/retry`, manifestId: before.manifest_id, progress: options.progress });
  if (out.json) out.data(run);
  else await printRun(api, out, run, { verb: 'retried' });
  return exitCodeOfRun(run.status);
}

/** `stepgate plan RUN`: what a resume (or a retry) would do now; writes nothing. */
export async function planCommand(api: ApiClient, out: Output, runId: string): Promise<number> {
  const plan = await api.request<RunPlanJson>('GET', `/api/runs/${encodeURIComponent(runId)}/plan`);
  if (out.json) {
    out.data(plan);
    return EXIT.ok;
  }
  const what = plan.action === null ? `nothing can continue it now (it is ${plan.status})` : `stepgate ${plan.action} ${plan.run_id} would:`;
  out.line(`Run ${plan.run_id} is ${plan.status}${plan.stalled ? ' (stalled)' : ''}; ${what}`);
  out.line(table(plan.steps.map((s) => [`  ${s.step_key}`, s.step_type, s.plan, s.attempt === null ? '' : `attempt ${s.attempt}`, out.style('gray', s.reason)])));
  return EXIT.ok;
}
