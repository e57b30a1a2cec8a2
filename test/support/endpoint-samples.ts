import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import type { App } from '../../src/http/app.js';
import { bearer } from './access.js';

/**
 * A request that succeeds, per route, for the every-endpoint × every-role test. `setup` runs
 * with the admin token and builds what the request needs (a fresh run for each attest…).
 * A parameterless GET needs no line here; any other route does, or the test fails.
 */
export interface Sample {
  readonly status: number;
  prepare(ctx: { app: App; admin: string }): Promise<InjectOptions>;
}

const manifest = (name = `access-${randomUUID().slice(0, 8)}`) => ({
  name,
  steps: [
    { key: 'A', prompt: 'assumptions' },
    { key: 'B', step_type: 'compute', depends_on: ['A'], compute_contract: { executor: 'excel', inputs: [], outputs: ['out'], verification: 'operator_attest' } },
  ],
});
const artifacts = [{ name: 'out', uri: 'file:///data/out.csv', sha256: 'a'.repeat(64), bytes: 1 }];

async function call(ctx: { app: App; admin: string }, method: InjectOptions['method'], url: string, payload?: unknown) {
  const response = await ctx.app.inject({ method, url, headers: bearer(ctx.admin), ...(payload === undefined ? {} : { payload: payload as object }) });
  if (response.statusCode >= 300) throw new Error(`setup ${method} ${url}: ${response.statusCode} ${response.body}`);
  return response.json();
}

async function waitingRun(ctx: { app: App; admin: string }) {
  const stored = await call(ctx, 'POST', '/api/manifests', manifest());
  const run = await call(ctx, 'POST', '/api/runs', { manifest_id: stored.id, inputs: {} });
  return { manifestId: stored.id as string, runId: run.id as string, stepRunId: run.waiting_on[0].step_run_id as string, firstStep: run.step_runs[0].id as string };
}

export const SAMPLES: Readonly<Record<string, Sample>> = {
  // The live stream never ends by itself: the replay alone does.
  'GET /api/events': { status: 200, prepare: async () => ({ method: 'GET', url: '/api/events?last_event_id=0&follow=false' }) },
  'GET /api/manifests/:id': { status: 200, prepare: async (ctx) => ({ method: 'GET', url: `/api/manifests/${(await waitingRun(ctx)).manifestId}` }) },
  'POST /api/manifests/validate': { status: 200, prepare: async () => ({ method: 'POST', url: '/api/manifests/validate', payload: manifest() }) },
  'POST /api/manifests': { status: 201, prepare: async () => ({ method: 'POST', url: '/api/manifests', payload: manifest() }) },
  'POST /api/runs': {
    status: 201,
    prepare: async (ctx) => ({ method: 'POST', url: '/api/runs', payload: { manifest_id: (await call(ctx, 'POST', '/api/manifests', manifest())).id, inputs: {} } }),
  },
  'GET /api/runs/:run_id': { status: 200, prepare: async (ctx) => ({ method: 'GET', url: `/api/runs/${(await waitingRun(ctx)).runId}` }) },
  'GET /api/runs/:run_id/steps/:step_run_id': {
    status: 200,
    prepare: async (ctx) => {
      const run = await waitingRun(ctx);
      return { method: 'GET', url: `/api/runs/${run.runId}/steps/${run.firstStep}` };
    },
  },
  'POST /api/runs/:run_id/steps/:step_run_id/attest': {
    status: 201,
    prepare: async (ctx) => {
      const run = await waitingRun(ctx);
      return { method: 'POST', url: `/api/runs/${run.runId}/steps/${run.stepRunId}/attest`, payload: { outcome: 'SUCCESS', artifacts } };
    },
  },
  'POST /api/runs/:run_id/resume': {
    status: 200,
    prepare: async (ctx) => {
      const run = await waitingRun(ctx);
      await call(ctx, 'POST', `/api/runs/${run.runId}/steps/${run.stepRunId}/attest`, { outcome: 'SUCCESS', artifacts });
      return { method: 'POST', url: `/api/runs/${run.runId}/resume` };
    },
  },
  'POST /api/runs/:run_id/cancel': {
    status: 200,
    prepare: async (ctx) => ({ method: 'POST', url: `/api/runs/${(await waitingRun(ctx)).runId}/cancel`, payload: { reason: 'sample' } }),
  },
  'POST /api/runs/:run_id/retry': {
    status: 200,
    prepare: async (ctx) => {
      const run = await waitingRun(ctx);
      await call(ctx, 'POST', `/api/runs/${run.runId}/steps/${run.stepRunId}/attest`, { outcome: 'FAIL', notes: 'sample' });
      return { method: 'POST', url: `/api/runs/${run.runId}/retry` };
    },
  },
  'GET /api/runs/:run_id/plan': { status: 200, prepare: async (ctx) => ({ method: 'GET', url: `/api/runs/${(await waitingRun(ctx)).runId}/plan` }) },
  'GET /api/runs/:run_id/steps/:step_run_id/provenance': {
    status: 200,
    prepare: async (ctx) => {
      const run = await waitingRun(ctx);
      await call(ctx, 'POST', `/api/runs/${run.runId}/steps/${run.stepRunId}/attest`, { outcome: 'SUCCESS', artifacts });
      return { method: 'GET', url: `/api/runs/${run.runId}/steps/${run.stepRunId}/provenance` };
    },
  },
  'GET /api/runs/:run_id/provenance': { status: 200, prepare: async (ctx) => ({ method: 'GET', url: `/api/runs/${(await waitingRun(ctx)).runId}/provenance` }) },
  'POST /api/keys/rotate': { status: 201, prepare: async () => ({ method: 'POST', url: '/api/keys/rotate' }) },
  // A dry run: the sample must not remove the runs other samples use.
  'POST /api/runs/prune': { status: 200, prepare: async () => ({ method: 'POST', url: '/api/runs/prune', payload: { ended_before: new Date().toISOString(), dry_run: true } }) },
  'GET /*': { status: 200, prepare: async () => ({ method: 'GET', url: '/' }) },
  'POST /api/tokens': { status: 201, prepare: async () => ({ method: 'POST', url: '/api/tokens', payload: { name: `t-${randomUUID()}`, role: 'viewer' } }) },
  'DELETE /api/tokens/:id': {
    status: 200,
    prepare: async (ctx) => ({ method: 'DELETE', url: `/api/tokens/${(await call(ctx, 'POST', '/api/tokens', { name: `t-${randomUUID()}`, role: 'viewer' })).id}` }),
  },
};
