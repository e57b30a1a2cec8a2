import { expect } from 'vitest';
import { api } from './server-process.js';

/** A → B (compute, two outputs) → C: the run the console tests attest and resume. */
export const TWO_OUTPUTS_MANIFEST = {
  name: 'console-forecast',
  description: 'Forecast with a spreadsheet step',
  steps: [
    { key: 'A', prompt: 'List the assumptions for {{inputs.region}}.' },
    {
      key: 'B',
      step_type: 'compute',
      depends_on: ['A'],
      compute_contract: {
        executor: 'excel',
        inputs: [{ name: 'assumptions', from: 'steps.A.output' }],
        outputs: ['forecast_csv', 'workbook'],
        verification: 'operator_attest',
        instructions: 'Run the Q3 workbook and export the forecast as CSV.',
      },
    },
    { key: 'C', depends_on: ['B'], prompt: 'Write a memo about {{steps.B.artifacts.forecast_csv.uri}}.' },
  ],
};

export async function startWaitingRun(baseUrl: string, manifest: object = TWO_OUTPUTS_MANIFEST): Promise<{ manifestId: string; runId: string; stepRunId: string }> {
  const stored = await api(baseUrl, 'POST', '/api/manifests', manifest);
  if (stored.status !== 201 && stored.status !== 200) throw new Error(`storing the manifest answered ${stored.status}: ${JSON.stringify(stored.body)}`);
  const run = await api(baseUrl, 'POST', '/api/runs', { manifest_id: stored.body.id, inputs: { region: 'EMEA' } });
  if (run.status !== 201 || run.body.status !== 'waiting') throw new Error(`starting the run answered ${run.status}: ${JSON.stringify(run.body)}`);
  return { manifestId: stored.body.id, runId: run.body.id, stepRunId: run.body.waiting_on[0].step_run_id };
}

/** One API call as curl would make it, with a token or none. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the JSON of any route
export async function call(baseUrl: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** A run of TWO_OUTPUTS_MANIFEST waiting at B. */
export async function waitingRun(baseUrl: string, token: string | undefined): Promise<{ runId: string; stepRunId: string }> {
  const stored = await call(baseUrl, token, 'POST', '/api/manifests', TWO_OUTPUTS_MANIFEST);
  const run = await call(baseUrl, token, 'POST', '/api/runs', { manifest_id: stored.body.id, inputs: { region: 'EMEA' } });
  expect(run.body.status).toBe('waiting');
  return { runId: run.body.id, stepRunId: run.body.waiting_on[0].step_run_id };
}
