import { z } from 'zod';

/**
 * The manifest format of SPEC §1, as one Zod schema. The server validates with it, and
 * `schema/manifest.schema.json` (for editors) is generated from it.
 */

export const MANIFEST_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]*$/;
export const STEP_KEY_PATTERN = /^[A-Za-z0-9_-]+$/;
export const MODEL_PATTERN = /^[a-z][a-z0-9_-]*:.+$/;
/** An ISO 8601 duration with at least one part, e.g. PT48H, P2D, P1DT12H, PT90M, P1W; at most 6 digits a part. */
export const ISO_DURATION = /^P(?=\d|T\d)(?:\d{1,6}Y)?(?:\d{1,6}M)?(?:\d{1,6}W)?(?:\d{1,6}D)?(?:T(?=\d)(?:\d{1,6}H)?(?:\d{1,6}M)?(?:\d{1,6}S)?)?$/;
/** `for_each`: `inputs.<path>` or `steps.<X>.output[.<path>]` (SPEC §17). */
export const FOR_EACH_PATTERN = /^(?:inputs(?:\.[A-Za-z0-9_-]+)+|steps\.[A-Za-z0-9_-]+\.output(?:\.[A-Za-z0-9_-]+)*)$/;
/** Identifiers are short; free text is held to STEPGATE_MAX_STRING_LENGTH by the input guard. */
export const MAX_NAME_LENGTH = 100;
/** `version` is stored as a PostgreSQL integer. */
export const MAX_VERSION = 2_147_483_647;

const stepKey = z
  .string()
  .max(MAX_NAME_LENGTH)
  .regex(STEP_KEY_PATTERN, 'expected a step key of letters, digits, "_" or "-"')
  .describe('Unique within the manifest.');

const ioName = z.union(
  [z.string().min(1).max(MAX_NAME_LENGTH), z.looseObject({ name: z.string().min(1).max(MAX_NAME_LENGTH) }).describe('An object with at least a "name".')],
  { error: 'expected a non-empty name, or an object with a non-empty "name"' },
);

export const computeContractSchema = z
  .strictObject({
    executor: z
      .union([z.string().min(1), z.record(z.string(), z.unknown())], {
        error: 'expected a non-empty string or an object describing where the work runs',
      })
      .describe('Where the work runs: a non-empty string or an object describing it.'),
    inputs: z.array(ioName).describe('What the operator needs: names, or objects with a "name".'),
    outputs: z
      .array(ioName)
      .describe('What the operator must attest: names, or objects with a "name". On SUCCESS each needs an artifact.'),
    verification: z.literal('operator_attest').describe('The only verification stepgate accepts.'),
    deadline: z
      .string()
      .regex(ISO_DURATION, 'expected an ISO 8601 duration such as "PT48H" or "P2D"')
      .optional()
      .describe('How long the operator has, as an ISO 8601 duration (e.g. "PT48H"): the waiting step run gets due_at = started_at + deadline.'),
    description: z.string().optional(),
    instructions: z
      .string()
      .optional()
      .describe('What the operator should do, shown in the inbox: a template like prompt (a map step\'s items see {{item}} and {{item_index}}).'),
  })
  .describe('The contract of a compute step: work done outside stepgate and attested by an operator.');

export const outputSpecSchema = z.strictObject({
  format: z.enum(['text', 'json']).default('text'),
  schema: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('JSON Schema the parsed output must satisfy (format json only).'),
});

export const stepSchema = z
  .strictObject({
    key: stepKey,
    step_type: z
      .enum(['task', 'compute'])
      .nullish()
      .describe('task (the default when missing or null) or compute.'),
    description: z.string().optional(),
    depends_on: z.array(z.string().max(MAX_NAME_LENGTH)).optional(),
    prompt: z.string().min(1).optional().describe('Handlebars template; sees inputs.* and steps.<upstream>.*'),
    system: z
      .string()
      .min(1)
      .optional()
      .describe('System prompt, a template like prompt: sent as the system message (OpenAI) or the top-level system (Anthropic).'),
    model: z
      .string()
      .max(200)
      .regex(MODEL_PATTERN, 'expected "provider:model", e.g. "offline:echo" or "openai:gpt-4o-mini"')
      .optional(),
    params: z.record(z.string(), z.unknown()).optional().describe('Passed to the provider as is.'),
    output: outputSpecSchema.optional(),
    compute_contract: computeContractSchema.optional(),
    for_each: z
      .string()
      .max(500)
      .regex(FOR_EACH_PATTERN, 'expected "inputs.<path>" or "steps.<key>.output[.<path>]", e.g. "inputs.documents"')
      .optional()
      .describe(
        'Makes this a map step: one step run per item of this JSON array — "inputs.<path>", or "steps.<X>.output[.<path>]" of an upstream task step with JSON output. Its templates see {{item}} and {{item_index}}.',
      ),
  })
  .describe('A task step (prompt → LLM) or a compute step (compute_contract → operator attestation).');

export const manifestSchema = z
  .strictObject({
    name: z
      .string()
      .max(MAX_NAME_LENGTH)
      .regex(MANIFEST_NAME_PATTERN, 'expected lowercase letters, digits, "_", "." or "-", starting with a letter or digit'),
    version: z.number().int().min(1).max(MAX_VERSION).default(1),
    description: z.string().optional(),
    steps: z.array(stepSchema).min(1, 'expected at least one step'),
  })
  .describe('A stepgate manifest: a DAG of task and compute steps.');

export type Manifest = z.output<typeof manifestSchema>;
export type ManifestStep = z.output<typeof stepSchema>;
export type ComputeContract = z.output<typeof computeContractSchema>;
export type OutputSpec = z.output<typeof outputSpecSchema>;

/** Names declared by a contract's inputs or outputs, whichever form they use. */
export function ioNames(list: ComputeContract['inputs']): string[] {
  return list.map((item) => (typeof item === 'string' ? item : item.name));
}
