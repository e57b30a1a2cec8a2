import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { abbreviated, DEFAULT_LIMITS } from '../../core/limits.js';
import { parseManifestSource } from '../../core/manifest/parse.js';
import { manifestSchema } from '../../core/manifest/schema.js';
import type { EngineDeps } from '../../engine/deps.js';
import { checkManifest, listManifests, showManifest, storeManifest } from '../../engine/manifests.js';
import { idParamsSchema, listQuerySchema, listResponseSchema, manifestSchemaOut, manifestSummarySchema, problemResponses } from '../schemas.js';
import { manifestJson, manifestSummaryJson } from '../serialize.js';
import { decodeUtf8, parseJsonText } from '../body.js';
import { duplicateKey } from '../../core/json-duplicates.js';
import { MalformedBodyError } from '../../core/errors.js';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/**
 * Manifest bodies are parsed here, not by Fastify: JSON and YAML alike go through the YAML
 * parser (JSON is YAML 1.2), which rejects duplicate keys and keeps positions.
 */
/** JSON is parsed as JSON (fast, whatever the nesting); duplicate keys are refused as in YAML. */
function parseJsonManifest(text: string): unknown {
  const value = parseJsonText(text);
  const duplicate = duplicateKey(text);
  if (duplicate) {
    const before = text.slice(0, duplicate.offset);
    const line = before.split('\n').length;
    throw new MalformedBodyError(
      `The manifest is not valid YAML or JSON at line ${line}, column ${duplicate.offset - before.lastIndexOf('\n')}: Map keys must be unique ("${abbreviated(duplicate.key)}" appears twice)`,
    );
  }
  return value;
}

export const manifestRoutes: FastifyPluginAsyncZod<{ deps: EngineDeps }> = async (app, { deps }) => {
  const maxDepth = (deps.limits ?? DEFAULT_LIMITS).maxDepth;
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(['application/json', ...YAML_TYPES], { parseAs: 'buffer' }, (request, body, done) => {
    try {
      const text = decodeUtf8(body as Buffer);
      // The limits on strings, keys, nesting and steps are checked by validation (checkManifest),
      // which refuses a hostile manifest before any costly work.
      if ((request.headers['content-type'] ?? '').includes('json')) done(null, parseJsonManifest(text));
      else done(null, parseManifestSource(text, { maxDepth }).value);
    } catch (err) {
      done(err as Error);
    }
  });
  // The body is validated by checkManifest (every problem at once), not by the route schema,
  // which is there to document it.
  const passBody = () => (data: unknown) => ({ value: data });
  const bodyDoc = { body: manifestSchema, consumes: ['application/json', ...YAML_TYPES] };

  app.post(
    '/api/manifests',
    {
      validatorCompiler: passBody,
      schema: {
        operationId: 'createManifest',
        tags: ['manifests'],
        summary: 'Validate and store a manifest (JSON or YAML)',
        description: '201 when stored, 200 when an identical manifest was already stored, 409 when (name, version) holds a different one.',
        ...bodyDoc,
        response: { 200: manifestSchemaOut, 201: manifestSchemaOut, ...problemResponses(400, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const { created, manifest } = await storeManifest(deps, request.body);
      if (created) reply.header('location', `/api/manifests/${manifest.id}`);
      return reply.status(created ? 201 : 200).send(manifestJson(manifest));
    },
  );

  app.post(
    '/api/manifests/validate',
    {
      validatorCompiler: passBody,
      schema: {
        operationId: 'validateManifest',
        tags: ['manifests'],
        summary: 'Validate a manifest without storing it',
        ...bodyDoc,
        response: {
          200: z.object({ valid: z.literal(true), content_hash: z.string(), manifest: z.unknown().describe('The normalized manifest') }),
          ...problemResponses(400, 413, 415, 422),
        },
      },
    },
    async (request) => {
      const checked = checkManifest(deps, request.body);
      return { valid: true as const, content_hash: checked.contentHash, manifest: checked.manifest };
    },
  );

  app.get(
    '/api/manifests',
    {
      schema: {
        operationId: 'listManifests',
        tags: ['manifests'],
        summary: 'List manifests, newest first',
        description: 'A page at a time: pass next_cursor as cursor for the next one (docs/api-lists.md). total only with count=true.',
        querystring: listQuerySchema({ defaultLimit: 50, maxLimit: 200 }).extend({ name: z.string().max(100).optional().describe('Only manifests with this name') }),
        response: { 200: listResponseSchema(manifestSummarySchema), ...problemResponses(422) },
      },
    },
    async (request) => {
      const { limit, offset, cursor, count, name } = request.query;
      const page = await listManifests(deps, { limit, offset, cursor, count: count === 'true', name });
      return { items: page.items.map(manifestSummaryJson), next_cursor: page.nextCursor ?? null, ...(page.total === undefined ? {} : { total: page.total }), limit, offset };
    },
  );

  app.get(
    '/api/manifests/:id',
    {
      schema: {
        operationId: 'getManifest',
        tags: ['manifests'],
        summary: 'Show a manifest with its steps',
        params: idParamsSchema,
        response: { 200: manifestSchemaOut, ...problemResponses(404) },
      },
    },
    async (request) => manifestJson(await showManifest(deps, request.params.id)),
  );
};
