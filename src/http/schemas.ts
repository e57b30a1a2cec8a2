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

export const computeArtifactSchema = z
  .object({
    name: z.string(),
    uri: z.string(),
    sha256: z.string(),
    bytes: z.number().int(),
    verified: z.boolean().describe('true only when the server hashed the file itself at attest time (STEPGATE_ARTIFACT_ROOTS) and it matched'),
    verification: z.string().describe('Why: digest_matched, no_artifact_roots, outside_artifact_roots, file_not_found, not_a_regular_file, unreadable, scheme_not_verified, recorded_before_verification'),
    created_at: z.string(),
  })
  .meta({ id: 'ComputeArtifact' });

export const attestationSchema = z
  .object({
    id: z.uuid(),
    outcome: z.enum(['SUCCESS', 'FAIL']),
    notes: z.string().nullable(),
    attested_by: z.string(),
    attested_at: z.string(),
    contract_snapshot: json.describe('The compute_contract as it was when attested'),
    artifacts: z.array(computeArtifactSchema),
  })
  .meta({ id: 'Attestation' });

export const stepRunSchema = z
  .object({
    id: z.uuid(),
    step_key: z.string(),
    step_type: z.enum(['task', 'compute']),
    status: z.enum(['RUNNING', 'SUCCESS', 'FAIL', 'WAITING_FOR_ATTESTATION', 'CANCELLED']),
    attempt: z.number().int().describe('1, or more when a process died mid-step and the step was retried'),
    started_at: z.string(),
    ended_at: z.string().nullable(),
    output: json.describe('The canonical output (SUCCESS only)'),
    error: json,
    attestation: attestationSchema.nullable(),
  })
  .meta({ id: 'StepRun' });

export const runSchema = z
  .object({
    id: z.uuid(),
    manifest_id: z.uuid(),
    status: z.enum(['pending', 'running', 'waiting', 'success', 'error']),
    inputs: json,
    error: json,
    created_at: z.string(),
    started_at: z.string().nullable(),
    ended_at: z.string().nullable(),
    waiting_on: z
      .array(z.object({ step_run_id: z.uuid(), step_key: z.string() }))
      .describe('The step runs waiting for attestation, in execution order'),
    step_runs: z.array(stepRunSchema),
  })
  .meta({ id: 'Run' });

export const runSummarySchema = runSchema.omit({ step_runs: true, waiting_on: true }).meta({ id: 'RunSummary' });

const artifactBase = { attempt: z.number().int(), created_at: z.string() };
export const stepRunDetailSchema = stepRunSchema
  .extend({
    run_id: z.uuid(),
    compute_contract: json.describe('compute steps only'),
    artifacts: z
      .object({
        prompts: z.array(z.object({ ...artifactBase, template: z.string(), values: json, messages: json, error: json })),
        llm_calls: z.array(
          z.object({
            ...artifactBase,
            provider: z.string(),
            model: z.string(),
            request: json,
            response: json,
            usage: json,
            latency_ms: z.number().int(),
            tries: z.number().int(),
            error: json,
          }),
        ),
        parsed_outputs: z.array(z.object({ ...artifactBase, format: z.enum(['text', 'json']), value: json, error: json })),
      })
      .nullable()
      .describe('Task steps: the evidence of every attempt. Compute steps: null (see attestation).'),
  })
  .meta({ id: 'StepRunDetail' });
