import { Readable } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isStepgateError } from '../../core/errors.js';
import { RUN_STATUSES } from '../../core/lifecycle.js';
import { FINAL_RUN_STATUSES } from '../../core/run-retention.js';
import type { EngineDeps } from '../../engine/deps.js';
import { exportRuns, pruneCriteria, pruneRuns, type RunExport } from '../../engine/retention.js';
import { iso, runJson, taskEvidenceJson } from '../serialize.js';
import { problem, problemOf } from '../problem.js';
import { NDJSON } from '../ndjson.js';
import { problemResponses } from '../schemas.js';

const statusList = z
  .string()
  .max(200)
  .transform((value) => value.split(',').map((status) => status.trim()))
  .pipe(z.array(z.enum(RUN_STATUSES, { error: `each status must be one of ${RUN_STATUSES.join(', ')}` })).min(1));

/** One line of an export: a run with its whole record (docs/retention.md). */
function exportLine(entry: RunExport) {
  return {
    kind: 'run' as const,
    run: runJson(entry.view),
    evidence: Object.fromEntries([...entry.evidence].map(([stepRunId, evidence]) => [stepRunId, taskEvidenceJson(evidence)])),
    events: entry.events,
    provenance: entry.provenance,
  };
}

/** Retention, the operator's choice (docs/retention.md): export runs with their record, prune final ones. */
export const retentionRoutes: FastifyPluginAsyncZod<{ deps: EngineDeps }> = async (app, { deps }) => {
  app.get(
    '/api/runs/export',
    {
      schema: {
        operationId: 'exportRuns',
        tags: ['retention'],
        summary: 'Every run that matches, with its whole record, as NDJSON: one run per line, newest first',
        description:
          'Each line is `{"kind":"run","run":…,"evidence":…,"events":…,"provenance":…}`: the run as GET /api/runs/{run_id} answers it, the task evidence of its ' +
          'step runs (prompts, LLM calls, parsed outputs) by step run id, its events, and its attestations as signed DSSE envelopes (the in-toto bundle). ' +
          'A failure after the stream began ends it with `{"kind":"error","problem":{…}}`. Read page by page on the server: memory stays flat whatever the number of runs, ' +
          'and the export stops when the client goes away. `stepgate runs export` writes it to a file.',
        querystring: z.strictObject({
          ended_before: z.iso.datetime({ offset: true }).optional().describe('Only runs that ended before this time (ISO 8601): the runs a prune with the same criteria removes'),
          status: statusList.optional().describe('Only runs with these statuses, comma-separated'),
          manifest_id: z.guid().optional().describe('Only runs of this manifest'),
        }),
        response: {
          200: { description: 'NDJSON, one run per line', content: { [NDJSON]: { schema: z.string() } } },
          ...problemResponses(401, 403, 422),
        },
      },
    },
    async (request, reply) => {
      const { ended_before: endedBefore, status: statuses, manifest_id: manifestId } = request.query;
      const gone = new AbortController();
      request.raw.once('close', () => gone.abort());
      const filter = { endedBefore: endedBefore === undefined ? undefined : new Date(endedBefore), statuses, manifestId };
      async function* lines() {
        try {
          for await (const entry of exportRuns(deps, filter, gone.signal)) yield `${JSON.stringify(exportLine(entry))}\n`;
        } catch (err) {
          request.log.error({ err: { message: (err as Error).message } }, 'exporting runs failed');
          const body = isStepgateError(err) ? problemOf(err) : problem(500, 'INTERNAL', 'The export failed part-way; the server log has the details.');
          yield `${JSON.stringify({ kind: 'error', problem: body })}\n`;
        }
      }
      return reply.type(NDJSON).header('cache-control', 'no-store').send(Readable.from(lines()) as unknown as string);
    },
  );

  app.post(
    '/api/runs/prune',
    {
      schema: {
        operationId: 'pruneRuns',
        tags: ['retention'],
        summary: 'Remove final runs that ended before a time, with their whole record (admin, audited)',
        description:
          'Removes each matching run with its step runs, task evidence, attestations, artifacts and events; the audit log keeps every row, and records the prune ' +
          '(its target names the criteria and how many runs went). Only final runs (success, error, cancelled): a status that is not final is a 422. ' +
          'Export first (GET /api/runs/export with the same ended_before and status) to keep what is removed. With dry_run, counts and removes nothing.',
        body: z.strictObject({
          ended_before: z.iso.datetime({ offset: true }).describe('Runs that ended strictly before this time (ISO 8601)'),
          status: z
            .array(z.enum(RUN_STATUSES))
            .min(1)
            .max(RUN_STATUSES.length)
            .optional()
            .describe(`Only runs with these statuses; final ones only (default: ${FINAL_RUN_STATUSES.join(', ')})`),
          dry_run: z.boolean().default(false).describe('Count what would be removed, remove nothing'),
        }),
        response: {
          200: z.object({
            removed: z.number().int().describe('Runs removed (with dry_run: that would be)'),
            dry_run: z.boolean(),
            ended_before: z.string(),
            status: z.array(z.enum(FINAL_RUN_STATUSES)),
          }),
          ...problemResponses(400, 401, 403, 415, 422),
        },
      },
    },
    async (request) => {
      const criteria = pruneCriteria({ endedBefore: new Date(request.body.ended_before), statuses: request.body.status });
      const dryRun = request.body.dry_run;
      const removed = await pruneRuns(deps, criteria, { dryRun });
      const endedBefore = iso(criteria.endedBefore);
      if (!dryRun) request.auditTarget = `/api/runs?ended_before=${endedBefore}&status=${criteria.statuses.join(',')}&removed=${removed}`;
      return { removed, dry_run: dryRun, ended_before: endedBefore, status: [...criteria.statuses] };
    },
  );
};
