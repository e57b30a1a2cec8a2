import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { cancelRun } from '../../engine/cancel.js';
import type { EngineDeps } from '../../engine/deps.js';
import { previewRun } from '../../engine/preview.js';
import { retryRun } from '../../engine/resume.js';
import { problemResponses, runPlanSchema, runSchema } from '../schemas.js';
import { runJson } from '../serialize.js';
import { NDJSON_NOTE, streamRun, wantsNdjson } from '../ndjson.js';

const runParams = z.object({ run_id: z.string() });

/** The lifecycle verbs of SPEC §9 beyond attest and resume: cancel, retry, and the resume preview. */
export const lifecycleRoutes: FastifyPluginAsyncZod<{ deps: EngineDeps }> = async (app, { deps }) => {
  app.post(
    '/api/runs/:run_id/cancel',
    {
      schema: {
        operationId: 'cancelRun',
        tags: ['runs'],
        summary: 'Cancel a pending, running or waiting run',
        description:
          'The run becomes cancelled (ended_at set) and its waits CANCELLED. A runner busy with the run records the step in flight and starts nothing more. ' +
          '409 from a final status; attest, resume and retry on a cancelled run answer 409.',
        params: runParams,
        body: z.strictObject({ reason: z.string().trim().min(1).max(2_000).optional().describe('Why, for the record') }).nullish(),
        response: { 200: runSchema, ...problemResponses(400, 404, 409, 413, 415, 422) },
      },
    },
    async (request) => runJson(await cancelRun(deps, request.params.run_id, request.body?.reason ?? null)),
  );

  app.post(
    '/api/runs/:run_id/retry',
    {
      schema: {
        operationId: 'retryRun',
        tags: ['runs'],
        summary: 'Give the failed steps of a run in error a new attempt, and continue it',
        description:
          'Only from error. Every step whose last attempt ended FAIL (or was cancelled by that failure) gets a new step run (attempt + 1); the old one, its evidence and its attestation stay. ' +
          'SUCCESS steps are reused. A compute step waits for a new attestation (with a fresh due_at); a task step runs. Then the run continues as on resume.\n\n' +
          NDJSON_NOTE,
        params: runParams,
        response: { 200: runSchema, ...problemResponses(404, 409) },
      },
    },
    async (request, reply) => {
      const runId = request.params.run_id;
      if (wantsNdjson(request)) return streamRun(deps, request, reply, runId, async () => runJson(await retryRun(deps, runId)));
      return runJson(await retryRun(deps, runId));
    },
  );

  app.get(
    '/api/runs/:run_id/plan',
    {
      schema: {
        operationId: 'getRunPlan',
        tags: ['runs'],
        summary: 'Preview what a resume (or, for a run in error, a retry) would do: no write, no LLM call',
        params: runParams,
        response: { 200: runPlanSchema, ...problemResponses(404) },
      },
    },
    async (request) => {
      const preview = await previewRun(deps, request.params.run_id);
      return {
        run_id: preview.runId,
        status: preview.status as z.infer<typeof runPlanSchema>['status'],
        stalled: preview.stalled,
        action: preview.action,
        steps: preview.steps.map((s) => ({
          step_key: s.stepKey,
          step_type: s.stepType,
          plan: s.plan,
          step_run_id: s.stepRunId,
          attempt: s.attempt,
          reason: s.reason,
          items: s.items && { total: s.items.total, done: s.items.done, will_run: s.items.willRun, waiting: s.items.waiting, failed: s.items.failed, blocked: s.items.blocked },
        })),
      };
    },
  );
};
