import { z } from 'zod';

/** Response shapes, declared once: fastify-type-provider-zod serializes through them. */

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().describe('Stable error code, e.g. MANIFEST_INVALID.'),
    instance: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('Every problem found (422).'),
  })
  .meta({ id: 'Problem' });

/** `{ 404: problem, 422: problem }` for a route's schema, under application/problem+json. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [status, { description: 'RFC 9457 problem details', content: { 'application/problem+json': { schema: problemSchema } } }]),
  );
}

const json = z.unknown();

export const manifestStepSchema = z
  .object({
    id: z.uuid(),
    key: z.string(),
    position: z.number().int(),
    step_type: z.enum(['task', 'compute']).nullable().describe('null means task'),
    depends_on: z.array(z.string()),
    prompt: z.string().nullable(),
    model: z.string().nullable(),
    params: json.nullable(),
    output: json.nullable(),
    compute_contract: json.nullable(),
  })
  .meta({ id: 'ManifestStep' });

export const manifestSummarySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    version: z.number().int(),
    description: z.string().nullable(),
    content_hash: z.string().describe('sha256 of the normalized manifest as canonical JSON'),
    created_at: z.string(),
  })
  .meta({ id: 'ManifestSummary' });

export const manifestSchemaOut = manifestSummarySchema
  .extend({
    document: json.describe('The normalized manifest as stored'),
    steps: z.array(manifestStepSchema),
  })
  .meta({ id: 'Manifest' });

export const pageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

export const idParamsSchema = z.object({ id: z.string().describe('UUID') });
