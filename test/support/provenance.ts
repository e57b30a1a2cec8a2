import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { ROOT } from './cli.js';

/**
 * What a third party would do with a statement, written here from the specifications and not
 * from stepgate's modules: the DSSE PAE and Ed25519 verification with node:crypto, the
 * in-toto Statement v1 rules, and the published predicate schema.
 */

export function paeBytes(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

export interface Envelope {
  payloadType: string;
  payload: string;
  signatures: Array<{ keyid: string; sig: string }>;
}

/** Ed25519 over the PAE bytes of `payload` (given separately so a test can change it). */
export function signatureVerifies(envelope: Envelope, publicKeyPem: string, payload = Buffer.from(envelope.payload, 'base64')): boolean {
  const key = createPublicKey(publicKeyPem);
  return verify(null, paeBytes(envelope.payloadType, payload), key, Buffer.from(envelope.signatures[0]!.sig, 'base64'));
}

export const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);

/** in-toto Statement v1 (github.com/in-toto/attestation spec/v1/statement.md, resource_descriptor.md). */
const inTotoStatementV1 = ajv.compile({
  type: 'object',
  required: ['_type', 'subject', 'predicateType', 'predicate'],
  properties: {
    _type: { const: 'https://in-toto.io/Statement/v1' },
    subject: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['digest'],
        properties: {
          name: { type: 'string' },
          uri: { type: 'string', format: 'uri' },
          digest: { type: 'object', minProperties: 1, additionalProperties: { type: 'string', pattern: '^[0-9a-f]+$' } },
        },
      },
    },
    predicateType: { type: 'string', format: 'uri' },
    predicate: { type: 'object' },
  },
});

const predicateSchema = ajv.compile(JSON.parse(readFileSync(join(ROOT, 'schema/attestation-predicate.schema.json'), 'utf8')));

/** Errors of a statement against in-toto v1 and the published predicate schema; [] when valid. */
export function statementErrors(statement: { predicate?: unknown }): string[] {
  const errors: string[] = [];
  if (!inTotoStatementV1(statement)) errors.push(...inTotoStatementV1.errors!.map((e) => `in-toto ${e.instancePath} ${e.message}`));
  if (!predicateSchema(statement.predicate)) errors.push(...predicateSchema.errors!.map((e) => `predicate ${e.instancePath} ${e.message}`));
  return errors;
}
