import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { PrometheusMetrics } from '../metrics.js';

/** `GET /metrics`: the Prometheus text format (see the README for every metric and a scrape config). */
export const metricsRoutes: FastifyPluginAsyncZod<{ metrics: PrometheusMetrics }> = async (app, { metrics }) => {
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Metrics in the Prometheus text format: HTTP latency by route, transitions, LLM calls and tokens, attestations, stalled runs',
        produces: ['text/plain'],
      },
    },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
};
