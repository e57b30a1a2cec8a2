import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyidOf, signEnvelope, verifyEnvelope } from '../src/core/provenance/dsse.js';
import { paeBytes, sha256, signatureVerifies } from './support/provenance.js';

const pair = () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { keyid: keyidOf(publicKey), publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey };
};

describe('DSSE envelopes (core/provenance/dsse.ts)', () => {
  const signer = pair();
  const other = pair();
  const payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');
  const envelope = signEnvelope('application/vnd.in-toto+json', payload, signer);

  it('signs the PAE bytes with Ed25519, as an independent verifier computes them', () => {
    expect(envelope).toEqual({ payloadType: 'application/vnd.in-toto+json', payload: payload.toString('base64'), signatures: [{ keyid: signer.keyid, sig: expect.any(String) }] });
    expect(signatureVerifies(envelope as never, signer.publicKey)).toBe(true);
    expect(paeBytes(envelope.payloadType, payload).toString()).toBe(`DSSEv1 28 application/vnd.in-toto+json ${payload.length} ${payload}`);
  });

  it('names keys by the sha256 of their SPKI DER encoding', () => {
    const der = generateKeyPairSync('ed25519').publicKey;
    expect(keyidOf(der)).toBe(sha256(der.export({ type: 'spki', format: 'der' })));
  });

  it('verifies with the named key among several, and with any key when the signature names none', () => {
    expect(verifyEnvelope(envelope, [other, signer])).toEqual({ valid: true, keyid: signer.keyid });
    const anonymous = { ...envelope, signatures: [{ sig: envelope.signatures[0]!.sig }] };
    expect(verifyEnvelope(anonymous, [other, signer])).toEqual({ valid: true, keyid: signer.keyid });
  });

  it('refuses another key, a changed payload or payload type, and a malformed signature, saying why', () => {
    expect(verifyEnvelope(envelope, [other])).toEqual({ valid: false, reason: expect.stringMatching(/^signed by key [0-9a-f]{64}, which is not among the 1 key\(s\) given$/) });
    const changed = { ...envelope, payload: Buffer.from('{"_type":"https://in-toto.io/Statement/v2"}').toString('base64') };
    expect(verifyEnvelope(changed, [signer])).toMatchObject({ valid: false, reason: expect.stringMatching(/does not match the payload/) });
    expect(verifyEnvelope({ ...envelope, payloadType: 'application/json' }, [signer]).valid).toBe(false);
    expect(verifyEnvelope({ ...envelope, signatures: [{ keyid: signer.keyid, sig: 'AAAA' }] }, [signer]).valid).toBe(false);
  });
});
