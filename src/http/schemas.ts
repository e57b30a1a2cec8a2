import { z } from 'zod';
import { MAX_CURSOR_LENGTH } from '../core/cursor.js';
import { RUN_STATUSES, STEP_RUN_STATUSES } from '../core/lifecycle.js';

/** Response shapes, declared once: fastify-type-provider-zod serializes through them. */

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().describe('Stable error code, e.g. MANIFEST_INVALID.'),
    instance: z.string().optional(),
    request_id: z.string().optional().describe("The request's id (X-Request-Id, echoed or generated), to quote when reporting it."),
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
    id: z.guid(),
    key: z.string(),
    position: z.number().int(),
    step_type: z.enum(['task', 'compute']).nullable().describe('null means task'),
    depends_on: z.array(z.string()),
    prompt: z.string().nullable(),
    system: z.string().nullable().describe('The system prompt template, or null'),
    model: z.string().nullable(),
    // z.unknown() admits null already; .nullable() would add an empty anyOf branch to the document.
    params: json.describe('The step params as written, or null'),
    output: json.describe('The output spec ({ format, schema? }), or null'),
    compute_contract: json.describe('The compute contract (compute steps), or null'),
    for_each: z.string().nullable().describe("A map step's list (inputs.<path> or steps.<X>.output[.<path>]), or null for an ordinary step"),
  })
  .meta({ id: 'ManifestStep' });

export const manifestSummarySchema = z
  .object({
    id: z.guid(),
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
  offset: z.coerce.number().int().min(0).max(1_000_000_000).default(0),
});

/**
 * Paging of the lists that page by keyset (runs, manifests, the audit log): `cursor` from the
 * page before, `offset` for compatibility, `count` when the total is wanted.
 */
export function listQuerySchema(options: { defaultLimit: number; maxLimit: number }) {
  return z.object({
    limit: z.coerce.number().int().min(1).max(options.maxLimit).default(options.defaultLimit),
    cursor: z
      .string()
      .max(MAX_CURSOR_LENGTH)
      .optional()
      .describe("The next page: next_cursor of the page before, unchanged, with the same filters (a cursor that is not one is a 422)"),
    offset: z
      .coerce.number()
      .int()
      .min(0)
      .max(1_000_000_000)
      .default(0)
      .describe('Compatibility: skip this many rows. Slow deep into a long list (every skipped row is read); prefer cursor. Not with cursor'),
    count: z.enum(['true', 'false']).default('false').describe('true: also answer total, the exact number of matching rows (it reads every one of them)'),
  });
}

/** A page of a keyset list: `next_cursor` is null on the last page; `total` only when counted. */
export function listResponseSchema<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    next_cursor: z.string().nullable().describe('Pass it as cursor for the next page; null when this page is the last'),
    total: z.number().int().optional().describe('The exact number of matching rows; only with count=true'),
    limit: z.number().int(),
    offset: z.number().int(),
  });
}

export const idParamsSchema = z.object({ id: z.string().describe('UUID') });

export const computeArtifactSchema = z
  .object({
    name: z.string(),
    uri: z.string(),
    sha256: z.string(),
    bytes: z.number().describe('A whole number as stored; stepgate records at most 2^53 - 1 (a row written otherwise may hold more, which JSON readers may round)'),
    verified: z.boolean().describe('true only when the server hashed the file itself at attest time (STEPGATE_ARTIFACT_ROOTS) and it matched'),
    verification: z.string().describe('Why: digest_matched, no_artifact_roots, outside_artifact_roots, file_not_found, not_a_regular_file, unreadable, scheme_not_verified, recorded_before_verification'),
    created_at: z.string(),
  })
  .meta({ id: 'ComputeArtifact' });

export const attestationSchema = z
  .object({
    id: z.guid(),
    outcome: z.enum(['SUCCESS', 'FAIL']),
    notes: z.string().nullable(),
    attested_by: z.string(),
    attested_by_verified: z.boolean().describe("true: attested_by is the name of the token the attestation was made with; false: a name given with authentication off"),
    token_id: z.guid().nullable().describe('The token the attestation was made with; null with authentication off'),
    attested_at: z.string(),
    contract_snapshot: json.describe('The compute_contract as it was when attested'),
    artifacts: z.array(computeArtifactSchema),
  })
  .meta({ id: 'Attestation' });

export const stepRunSchema = z
  .object({
    id: z.guid(),
    step_key: z.string(),
    step_type: z.enum(['task', 'compute']),
    item_index: z.number().int().nullable().describe("A map step's item: its position in the step's list, from 0; null for an ordinary step"),
    item: json.describe("A map step's item: the list's element this step run is for; null for an ordinary step"),
    status: z.enum(STEP_RUN_STATUSES),
    attempt: z
      .number()
      .int()
      .describe('1, 2, …: a retry adds a step run with the next attempt; a step taken over after its process died counts the repeat in place'),
    started_at: z.string(),
    ended_at: z.string().nullable(),
    due_at: z.string().nullable().describe("A waiting compute step's deadline (started_at + compute_contract.deadline)"),
    overdue: z.boolean().describe('Waiting, and due_at has passed: it can no longer be attested; a resume ends it FAIL'),
    output: json.describe('The canonical output (SUCCESS only)'),
    error: json,
    attestation: attestationSchema.nullable(),
  })
  .meta({ id: 'StepRun' });

const tokenCounts = {
  calls: z.number().int().describe('LLM calls: one per attempt of a task step (a retried step counts each attempt)'),
  tries: z.number().int().describe('HTTP requests those calls took, their own retries included'),
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
  calls_without_usage: z.number().int().describe('Calls whose provider reported no token usage (counted as 0)'),
};

export const runUsageSchema = z
  .object({
    ...tokenCounts,
    by_model: z.array(z.object({ provider: z.string(), model: z.string(), ...tokenCounts })).describe('By provider (its name in manifests) and model, ordered by both'),
  })
  .describe("Tokens the run's LLM calls used, as the providers reported them, over every call of every attempt (failed and truncated ones included)")
  .meta({ id: 'RunUsage' });

export const runSchema = z
  .object({
    id: z.guid(),
    manifest_id: z.guid(),
    status: z.enum(RUN_STATUSES),
    inputs: json,
    error: json,
    created_at: z.string(),
    started_at: z.string().nullable(),
    ended_at: z.string().nullable(),
    stalled: z.boolean().describe('running, but its lease expired: the process advancing it died or hangs; resume takes it over'),
    ready_to_resume: z.boolean().describe('waiting, and everything it waited on is attested: resume it'),
    cancel_reason: z.string().nullable().describe('Why it was cancelled, if it was and a reason was given'),
    waiting_on: z
      .array(z.object({ step_run_id: z.guid(), step_key: z.string(), item_index: z.number().int().optional().describe("A map step's item (absent for an ordinary step)") }))
      .describe('The step runs waiting for attestation, in execution order (a map step\'s items each with its item_index)'),
    map_steps: z
      .array(
        z.object({
          step_key: z.string(),
          total: z.number().int().nullable().describe('Items in its list; null until its dependencies succeeded'),
          done: z.number().int(),
          failed: z.number().int(),
          waiting: z.number().int(),
          running: z.number().int(),
          cancelled: z.number().int(),
        }),
      )
      .describe('Each map step (for_each) of the manifest, in plan order, with where its items stand (the latest attempt of each)'),
    usage: runUsageSchema,
    step_runs: z.array(stepRunSchema),
  })
  .meta({ id: 'Run' });

export const runSummarySchema = runSchema.omit({ step_runs: true, waiting_on: true, map_steps: true, usage: true }).meta({ id: 'RunSummary' });

const artifactBase = { attempt: z.number().int(), created_at: z.string() };
export const stepRunDetailSchema = stepRunSchema
  .extend({
    run_id: z.guid(),
    compute_contract: json.describe('compute steps only'),
    artifacts: z
      .object({
        prompts: z.array(
          z.object({
            ...artifactBase,
            template: z.string(),
            system_template: z.string().nullable().describe("The step's system prompt template, or null; the rendered system message is the first of messages"),
            values: json,
            messages: json,
            error: json,
          }),
        ),
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

export const readyRunSchema = z
  .object({
    run_id: z.guid(),
    manifest: z.object({ id: z.guid(), name: z.string(), version: z.number().int() }),
    waiting_since: z.string().describe('When the run last changed'),
    resume_url: z.string(),
  })
  .meta({ id: 'ReadyToResume' });

/** SPEC §9: a dry run of resume (or, for a run in error, of retry). */
export const runPlanSchema = z
  .object({
    run_id: z.guid(),
    status: z.enum(RUN_STATUSES),
    stalled: z.boolean(),
    action: z
      .enum(['resume', 'retry'])
      .nullable()
      .describe('What the plan previews; null when the run cannot go on (success, cancelled, or running under a live executor)'),
    steps: z.array(
      z.object({
        step_key: z.string(),
        step_type: z.enum(['task', 'compute']),
        plan: z.enum(['done', 'will_run', 'waiting', 'blocked', 'failed']),
        step_run_id: z.guid().nullable().describe('The latest step run of the step, if any'),
        attempt: z.number().int().nullable().describe('The attempt it would be (will_run, waiting) or was (done, failed)'),
        reason: z.string().describe('Why, in a sentence'),
        items: z
          .object({
            total: z.number().int().nullable().describe('Items in its list; null while the list is not known yet'),
            done: z.number().int(),
            will_run: z.number().int(),
            waiting: z.number().int(),
            failed: z.number().int(),
            blocked: z.number().int(),
          })
          .nullable()
          .describe("A map step's items by what would happen to each; null for an ordinary step"),
      }),
    ),
  })
  .meta({ id: 'RunPlan' });
