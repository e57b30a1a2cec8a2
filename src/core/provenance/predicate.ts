import { z } from 'zod';

/**
 * The provenance of one attestation as an in-toto Statement v1 (SPEC §13). The predicate's
 * schema is this Zod schema; `schema/attestation-predicate.schema.json` is generated from it.
 *
 * Every object is open (unknown fields allowed): in-toto consumers ignore fields they do not
 * know, so later versions of stepgate may add optional fields under the same predicate type.
 * A change that removes or redefines a field gets a new predicate type (…/attestation/v2).
 */
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://stepgate.dev/attestation/v1';
/** DSSE payloadType of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hexadecimal characters');
export const digestSetSchema = z.looseObject({ sha256: hex64 }).describe('in-toto DigestSet: algorithm → lowercase hex.');

export const attestationPredicateSchema = z
  .looseObject({
    attestation_id: z.guid().describe('compute_attestations.id'),
    run: z.looseObject({
      id: z.guid(),
      inputs_digest: digestSetSchema.describe("sha256 of the run's inputs as canonical JSON (RFC 8785)"),
    }),
    step: z.looseObject({
      key: z.string(),
      step_run_id: z.guid(),
      attempt: z.number().int().min(1),
      item_index: z.number().int().min(0).optional().describe("A map step's item (SPEC §17): its position in the step's list, from 0; absent for an ordinary step"),
      item_digest: digestSetSchema.optional().describe("sha256 of the item as canonical JSON (RFC 8785); with item_index only"),
    }),
    manifest: z.looseObject({
      id: z.guid(),
      name: z.string(),
      version: z.number().int().min(1),
      content_hash: hex64.describe('manifests.content_hash: sha256 of the normalized manifest as canonical JSON'),
    }),
    contract: z.record(z.string(), z.unknown()).describe("The step's compute_contract as it was when attested (contract_snapshot)"),
    inputs: z
      .array(
        z.looseObject({
          name: z.string(),
          from: z.string().nullable().describe('The reference the contract gives for this input, if any (e.g. steps.A.output)'),
          digest: digestSetSchema
            .nullable()
            .describe('sha256 of the value as canonical JSON (RFC 8785); null when the run holds no value for this input'),
        }),
      )
      .describe("The contract's declared inputs, resolved from the run's inputs and the canonical outputs of upstream steps, by value digest"),
    outcome: z.enum(['SUCCESS', 'FAIL']),
    notes: z.string().nullable(),
    attester: z.looseObject({
      name: z.string().describe('Who attested (compute_attestations.attested_by)'),
      token: z
        .looseObject({ id: z.string(), name: z.string() })
        .nullable()
        .describe('The access token the attestation was made with; null when it was made without one'),
      verified: z
        .boolean()
        .optional()
        .describe('Whether the name comes from the token (true) or, with authentication off, from the request as given (false)'),
    }),
    attested_at: z.iso.datetime({ offset: true }),
    artifacts: z
      .array(
        z.looseObject({
          name: z.string(),
          uri: z.string(),
          digest: digestSetSchema,
          // As stored (bigint): stepgate records at most 2^53 - 1, a row written otherwise may hold more.
          bytes: z.number().min(0),
          verified: z.boolean().describe('true only when the server hashed the file itself at attest time and it matched'),
          verification: z.string().describe('Why: digest_matched, outside_artifact_roots, scheme_not_verified, file_not_found, …'),
        }),
      )
      .describe('Every attested artifact, with the result of digest verification at attest time'),
  })
  .describe(`The predicate of a stepgate attestation (predicateType ${PREDICATE_TYPE}): an operator attested that a compute step's work was done outside stepgate.`);

export type AttestationPredicate = z.output<typeof attestationPredicateSchema>;

/** The in-toto Statement v1 structure with our predicate (for responses and readers). */
export const statementSchema = z.looseObject({
  _type: z.literal(STATEMENT_TYPE),
  subject: z.array(z.looseObject({ name: z.string(), digest: digestSetSchema })).min(1),
  predicateType: z.literal(PREDICATE_TYPE),
  predicate: attestationPredicateSchema,
});

export type Statement = z.output<typeof statementSchema>;
