import { sql } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DatabaseUnavailableError } from '../../core/errors.js';
import type { EngineDeps } from '../../engine/deps.js';
import { problemResponses } from '../schemas.js';

export const healthRoutes: FastifyPluginAsyncZod<{ deps: EngineDeps }> = async (app, { deps }) => {
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'getHealth',
        tags: ['health'],
        summary: 'Liveness and database reachability',
        response: { 200: z.object({ status: z.literal('ok') }), ...problemResponses(503) },
      },
    },
    async () => {
      try {
        await deps.db.execute(sql`SELECT 1`);
      } catch (err) {
        throw new DatabaseUnavailableError({ cause: err });
      }
      return { status: 'ok' as const };
    },
  );
};
