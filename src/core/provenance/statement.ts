import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { PREDICATE_TYPE, STATEMENT_TYPE, type AttestationPredicate, type Statement } from './predicate.js';

/** Everything a statement says, as read from the database. */
export interface ProvenanceRecord {
  readonly attestation: {
    readonly id: string;
    readonly outcome: 'SUCCESS' | 'FAIL';
    readonly notes: string | null;
    readonly attestedBy: string;
    /** The token it was made with (its name is attestedBy); null with authentication off. */
    readonly tokenId: string | null;
    readonly attestedByVerified: boolean;
    readonly attestedAt: Date;
    readonly contractSnapshot: Record<string, unknown>;
    readonly artifacts: ReadonlyArray<{ name: string; uri: string; sha256: string; bytes: number; verified: boolean; verification: string }>;
  };
  readonly run: { readonly id: string; readonly inputs: unknown };
  /** A map step's item (SPEC §17): its index, and the item itself (named in the statement by its digest). */
  readonly step: { readonly key: string; readonly stepRunId: string; readonly attempt: number; readonly itemIndex?: number; readonly item?: unknown };
  readonly manifest: { readonly id: string; readonly name: string; readonly version: number; readonly contentHash: string };
  /** The contract's declared inputs with their values (core/contract-inputs.ts); undefined when not found. */
  readonly inputs: ReadonlyArray<{ name: string; from: string | null; value: unknown }>;
}

/** RFC 8785 canonical JSON: the bytes a digest or a signature is taken over. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('a value with no JSON form has no canonical JSON');
  return text;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const digestOf = (value: unknown) => ({ sha256: sha256Hex(canonicalJson(value)) });

/**
 * The in-toto Statement v1 of one attestation. Subjects are the attested artifacts by
 * sha256. An attestation without artifacts (a FAIL, or a contract without outputs) has one
 * subject instead, `stepgate-attestation:<id>`, whose digest is the sha256 of the predicate
 * as canonical JSON: in-toto requires at least one subject, and that one pins the record.
 */
export function buildStatement(record: ProvenanceRecord): Statement {
  const { attestation } = record;
  const predicate: AttestationPredicate = {
    attestation_id: attestation.id,
    run: { id: record.run.id, inputs_digest: digestOf(record.run.inputs ?? {}) },
    step: {
      key: record.step.key,
      step_run_id: record.step.stepRunId,
      attempt: record.step.attempt,
      ...(record.step.itemIndex === undefined ? {} : { item_index: record.step.itemIndex, item_digest: digestOf(record.step.item) }),
    },
    manifest: { id: record.manifest.id, name: record.manifest.name, version: record.manifest.version, content_hash: record.manifest.contentHash },
    contract: attestation.contractSnapshot,
    inputs: record.inputs.map((input) => ({ name: input.name, from: input.from, digest: input.value === undefined ? null : digestOf(input.value) })),
    outcome: attestation.outcome,
    notes: attestation.notes,
    attester: {
      name: attestation.attestedBy,
      token: attestation.tokenId === null ? null : { id: attestation.tokenId, name: attestation.attestedBy },
      verified: attestation.attestedByVerified,
    },
    attested_at: attestation.attestedAt.toISOString(),
    artifacts: attestation.artifacts.map((a) => ({
      name: a.name,
      uri: a.uri,
      digest: { sha256: a.sha256 },
      bytes: a.bytes,
      verified: a.verified,
      verification: a.verification,
    })),
  };
  const subject =
    attestation.artifacts.length > 0
      ? attestation.artifacts.map((a) => ({ name: a.name, digest: { sha256: a.sha256 } }))
      : [{ name: `stepgate-attestation:${attestation.id}`, digest: digestOf(predicate) }];
  return { _type: STATEMENT_TYPE, subject, predicateType: PREDICATE_TYPE, predicate };
}
