import type { SwaggerOptions } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/**
 * The OpenAPI document's frame (`GET /api/openapi.json`, committed as schema/openapi.json):
 * what tools need besides the routes — servers, license, tags, the security scheme — and
 * components pruned to those an operation uses. Each route sets its own stable `operationId`
 * and tag. `npm run lint:openapi` holds it to Redocly's recommended rules.
 */
export const TAGS = [
  { name: 'health', description: 'Whether the server and its database answer' },
  { name: 'manifests', description: 'Validate, store and read manifests (immutable, versioned)' },
  { name: 'runs', description: 'Start, follow and resume runs' },
  { name: 'attestations', description: "The operators' inbox and their attestations of compute steps" },
  { name: 'access', description: 'Tokens, who a token stands for, and the audit log' },
  { name: 'operations', description: 'Metrics for Prometheus' },
  { name: 'provenance', description: 'Attestations as signed in-toto statements, and the keys that verify them' },
  { name: 'providers', description: 'The LLM providers manifests may name, and how each is reached (never a key)' },
] as const;

export type Tag = (typeof TAGS)[number]['name'];

export const swaggerOptions: SwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'stepgate',
      version: '0.1.0',
      description: 'Runs LLM pipelines that stop at work no LLM can do, wait for an operator to attest it, and resume where they stopped.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: 'The stepgate server that serves this document (the CLI reads its address from STEPGATE_URL)' }],
    tags: TAGS.map((tag) => ({ ...tag })),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token (sg_…): `stepgate token create`, or <STEPGATE_DATA_DIR>/admin-token' },
      },
    },
    security: [{ bearer: [] }],
  },
  transform: jsonSchemaTransform,
  transformObject: (document) => withoutUnusedSchemas(jsonSchemaTransformObject(document)),
};

/**
 * fastify-type-provider-zod registers an input and an output component for every schema
 * with an id; the routes use some of each. Keeps the schemas reachable from the paths.
 */
export function withoutUnusedSchemas<T extends { paths?: unknown; components?: object }>(document: T): T {
  const schemas = (document.components as { schemas?: Record<string, unknown> } | undefined)?.schemas;
  if (!schemas) return document;
  const used = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        const ref = key === '$ref' && typeof value === 'string' ? /^#\/components\/schemas\/(.+)$/.exec(value)?.[1] : undefined;
        if (ref !== undefined && !used.has(ref)) {
          used.add(ref);
          visit(schemas[ref]);
        } else visit(value);
      }
    }
  };
  visit(document.paths);
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)));
  return { ...document, components: { ...document.components, schemas: kept } };
}
