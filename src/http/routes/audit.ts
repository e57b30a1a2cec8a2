import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { EngineDeps } from '../../engine/deps.js';
import { listAudit } from '../../engine/audit.js';
import { listQuerySchema, listResponseSchema, problemResponses } from '../schemas.js';
import { iso } from '../serialize.js';

const auditEventSchema = z
  .object({
    id: z.guid(),
    at: z.string(),
    actor: z.string().nullable().describe("The token's name; null without a valid token or with authentication off"),
    token_id: z.guid().nullable(),
    action: z.string().describe('METHOD and route, e.g. "POST /api/runs/:run_id/resume"'),
    target: z.string().describe('The path acted on, or the Location of what was created'),
    outcome: z.number().int().describe('The HTTP status answered'),
    code: z.string().nullable().describe('The problem code of a refusal or failure'),
    request_id: z.string(),
    address: z.string().nullable(),
  })
  .meta({ id: 'AuditEvent' });

/** `GET /api/audit` (admin): the append-only record of every state-changing request. */
export const auditRoutes: FastifyPluginAsyncZod<{ deps: EngineDeps }> = async (app, { deps }) => {
  app.get(
    '/api/audit',
    {
      schema: {
        operationId: 'listAuditEvents',
        tags: ['access'],
        summary: 'The audit log, newest first: every state-changing request, allowed or refused',
        description: 'A page at a time: pass next_cursor as cursor for the next one (docs/api-lists.md). total only with count=true.',
        querystring: listQuerySchema({ defaultLimit: 100, maxLimit: 1000 }).extend({
          actor: z.string().optional().describe('Only events of this token name'),
          action: z.string().optional().describe('Only this action, e.g. "POST /api/runs/:run_id/steps/:step_run_id/attest"'),
          outcome: z.coerce.number().int().min(100).max(599).optional().describe('Only this HTTP status'),
          since: z.iso.datetime({ offset: true }).optional().describe('Only events at or after this time (ISO 8601)'),
        }),
        response: { 200: listResponseSchema(auditEventSchema), ...problemResponses(401, 403, 422) },
      },
    },
    async (request) => {
      const { actor, action, outcome, since, limit, offset, cursor, count } = request.query;
      const page = await listAudit(deps, { actor, action, outcome, since: since ? new Date(since) : undefined, limit, offset, cursor, count: count === 'true' });
      return {
        items: page.items.map((e) => ({
          id: e.id,
          at: iso(e.at),
          actor: e.actor,
          token_id: e.tokenId,
          action: e.action,
          target: e.target,
          outcome: e.outcome,
          code: e.code,
          request_id: e.requestId,
          address: e.address,
        })),
        next_cursor: page.nextCursor ?? null,
        ...(page.total === undefined ? {} : { total: page.total }),
        limit,
        offset,
      };
    },
  );
};
