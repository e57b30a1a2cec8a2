import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { PrometheusMetrics } from '../metrics.js';
import { problemResponses } from '../schemas.js';

/** `GET /metrics`: the Prometheus text format (see the README for every metric and a scrape config). */
export const metricsRoutes: FastifyPluginAsyncZod<{ metrics: PrometheusMetrics }> = async (app, { metrics }) => {
  app.get(
    '/metrics',
    {
      schema: {
        operationId: 'getMetrics',
        tags: ['operations'],
        summary: 'Metrics in the Prometheus text format: HTTP latency by route, transitions, LLM calls and tokens, attestations, stalled runs',
        produces: ['text/plain'],
        response: {
          200: { description: 'The Prometheus text exposition format', content: { 'text/plain': { schema: z.string() } } },
          ...problemResponses(401, 403),
        },
      },
    },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
};
