import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { RUN_STATUSES } from '../../core/lifecycle.js';
import type { EngineDeps } from '../../engine/deps.js';
import { listRuns, showRun, showStepRun, startRun } from '../../engine/runs.js';
import { listQuerySchema, listResponseSchema, problemResponses, runSchema, runSummarySchema, stepRunDetailSchema } from '../schemas.js';
import { runJson, runSummaryJson, stepRunDetailJson } from '../serialize.js';
import { NDJSON_NOTE, streamRun, wantsNdjson } from '../ndjson.js';

export const runRoutes: FastifyPluginAsyncZod<{ deps: EngineDeps }> = async (app, { deps }) => {
  app.post(
    '/api/runs',
    {
      schema: {
        operationId: 'createRun',
        tags: ['runs'],
        summary: 'Create a run and execute it until it waits for attestation or ends',
        description: NDJSON_NOTE,
        body: z.strictObject({
          manifest_id: z.string().max(100).describe('UUID of a stored manifest'),
          id: z.uuid().optional().describe("The new run's id, if the caller chooses it (to follow the run while it executes, or to retry safely: a second start with the same id is a 409)"),
          inputs: z.record(z.string(), z.unknown()).default({}).describe('Values templates see as inputs.<name>'),
        }),
        response: { 201: runSchema, ...problemResponses(400, 404, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      if (wantsNdjson(request)) {
        // The id is chosen first, so the stream can follow the run from its first event.
        const runId = request.body.id ?? randomUUID();
        const start = { manifestId: request.body.manifest_id, inputs: request.body.inputs, runId };
        return streamRun(deps, request, reply, runId, async () => runJson(await startRun(deps, start)), { location: `/api/runs/${runId}` });
      }
      const view = await startRun(deps, { manifestId: request.body.manifest_id, inputs: request.body.inputs, runId: request.body.id });
      reply.header('location', `/api/runs/${view.run.id}`);
      return reply.status(201).send(runJson(view));
    },
  );

  app.get(
    '/api/runs',
    {
      schema: {
        operationId: 'listRuns',
        tags: ['runs'],
        summary: 'List runs, newest first',
        description: 'A page at a time: pass next_cursor as cursor for the next one (docs/api-lists.md). total only with count=true.',
        querystring: listQuerySchema({ defaultLimit: 50, maxLimit: 200 }).extend({
          status: z.enum([...RUN_STATUSES, 'stalled']).optional().describe('A status, or stalled: running with an expired lease'),
          manifest_id: z.guid().optional(),
        }),
        response: { 200: listResponseSchema(runSummarySchema), ...problemResponses(422) },
      },
    },
    async (request) => {
      const { limit, offset, cursor, count, status, manifest_id: manifestId } = request.query;
      const page = await listRuns(deps, { limit, offset, cursor, count: count === 'true', status, manifestId });
      return { items: page.items.map(runSummaryJson), next_cursor: page.nextCursor ?? null, ...(page.total === undefined ? {} : { total: page.total }), limit, offset };
    },
  );

  app.get(
    '/api/runs/:run_id',
    {
      schema: {
        operationId: 'getRun',
        tags: ['runs'],
        summary: 'Show a run with its step runs',
        params: z.object({ run_id: z.string() }),
        response: { 200: runSchema, ...problemResponses(404) },
      },
    },
    async (request) => runJson(await showRun(deps, request.params.run_id)),
  );

  app.get(
    '/api/runs/:run_id/steps/:step_run_id',
    {
      schema: {
        operationId: 'getStepRun',
        tags: ['runs'],
        summary: "Show a step run with its evidence: a task step's artifacts, a compute step's attestation",
        params: z.object({ run_id: z.string(), step_run_id: z.string() }),
        response: { 200: stepRunDetailSchema, ...problemResponses(404) },
      },
    },
    async (request) => stepRunDetailJson(await showStepRun(deps, request.params.run_id, request.params.step_run_id)),
  );
};
