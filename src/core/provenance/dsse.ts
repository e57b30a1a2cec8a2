import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { dsse } from '@sigstore/core';
import { z } from 'zod';

/**
 * DSSE (Dead Simple Signing Envelope) v1 around a payload, signed with Ed25519. The
 * pre-authentication encoding (PAE) comes from @sigstore/core; the signature is Ed25519 over
 * the PAE bytes, as the DSSE protocol says: "DSSEv1" SP len(type) SP type SP len(body) SP body.
 */

export const envelopeSchema = z.object({
  payloadType: z.string(),
  payload: z.base64(),
  signatures: z.array(z.object({ keyid: z.string().optional(), sig: z.base64() })).min(1),
});

export type DsseEnvelope = z.output<typeof envelopeSchema>;

export interface SigningKey {
  readonly keyid: string;
  readonly privateKey: KeyObject | string;
}

export interface PublicKey {
  readonly keyid: string;
  /** SPKI PEM, or a KeyObject. */
  readonly publicKey: KeyObject | string;
}

export function pae(payloadType: string, payload: Buffer): Buffer {
  return dsse.preAuthEncoding(payloadType, payload);
}

/** The keyid of a public key: sha256 (hex) of its SPKI DER encoding. */
export function keyidOf(publicKey: KeyObject | string): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

export function signEnvelope(payloadType: string, payload: Buffer, key: SigningKey): DsseEnvelope {
  const sig = sign(null, pae(payloadType, payload), key.privateKey);
  return { payloadType, payload: payload.toString('base64'), signatures: [{ keyid: key.keyid, sig: sig.toString('base64') }] };
}

export type EnvelopeCheck = { valid: true; keyid: string } | { valid: false; reason: string };

/**
 * Valid when one signature verifies with one of `keys`: a signature naming a keyid is tried
 * with that key only; one without a keyid with every key.
 */
export function verifyEnvelope(envelope: DsseEnvelope, keys: readonly PublicKey[]): EnvelopeCheck {
  const bytes = pae(envelope.payloadType, Buffer.from(envelope.payload, 'base64'));
  const named = envelope.signatures.map((s) => s.keyid).filter((id): id is string => Boolean(id));
  for (const signature of envelope.signatures) {
    const candidates = signature.keyid ? keys.filter((k) => k.keyid === signature.keyid) : keys;
    for (const key of candidates) {
      try {
        if (verify(null, bytes, key.publicKey, Buffer.from(signature.sig, 'base64'))) return { valid: true, keyid: key.keyid };
      } catch {
        // a key of another algorithm, or a malformed signature: not a match
      }
    }
  }
  const known = new Set(keys.map((k) => k.keyid));
  if (named.length > 0 && named.every((id) => !known.has(id))) {
    return { valid: false, reason: `signed by key ${named.join(', ')}, which is not among the ${keys.length} key(s) given` };
  }
  return { valid: false, reason: 'the signature does not match the payload: the envelope was changed after signing, or signed with another key' };
}
