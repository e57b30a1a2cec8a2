import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { EngineDeps } from '../../engine/deps.js';
import { listProviders } from '../../engine/providers.js';
import { problemResponses } from '../schemas.js';

/** The LLM providers this server has (SPEC §16): how each is reached — never a key. */

const providerSchema = z
  .object({
    name: z.string().describe('What a manifest writes: model: "<name>:<model>"'),
    kind: z.enum(['offline', 'openai', 'anthropic']).nullable().describe('The protocol: offline, openai (chat completions) or anthropic (Messages API)'),
    base_url: z.string().nullable().describe('Where its requests go; null for offline'),
    api_key_env: z.string().nullable().describe('The environment variable its key is read from (a name, never the key); null when it takes none'),
    key_set: z.boolean().describe('Whether that variable held a key when the server started'),
    max_concurrency: z.number().int().describe('Calls in flight at once to it, per server process'),
    models: z.array(z.string()).nullable().describe('The models it serves, when it can list them (GET /models, cached a minute); null otherwise'),
  })
  .meta({ id: 'Provider' });

export const providerRoutes: FastifyPluginAsyncZod<{ deps: EngineDeps }> = async (app, { deps }) => {
  app.get(
    '/api/providers',
    {
      schema: {
        operationId: 'listProviders',
        tags: ['providers'],
        summary: 'The LLM providers manifests may name: built in, and those of the providers file',
        response: { 200: z.object({ items: z.array(providerSchema) }), ...problemResponses(429) },
      },
    },
    async () => ({
      items: (await listProviders(deps)).map((p) => ({
        name: p.name,
        kind: p.kind,
        base_url: p.baseUrl,
        api_key_env: p.apiKeyEnv,
        key_set: p.keySet,
        max_concurrency: p.maxConcurrency,
        models: p.models === null ? null : [...p.models],
      })),
    }),
  );
};
