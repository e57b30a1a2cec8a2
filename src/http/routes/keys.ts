import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RequestInvalidError } from '../../core/errors.js';
import type { EngineDeps } from '../../engine/deps.js';
import { listPublicKeys, rotateSigningKey, type PublicKeyView } from '../../engine/keys.js';
import { problemResponses } from '../schemas.js';
import { iso } from '../serialize.js';

/** The server's provenance signing keys: public halves only, retired ones included. */

const publicKeySchema = z
  .object({
    keyid: z.string().describe('sha256 (hex) of the SPKI DER public key; DSSE signatures name it'),
    algorithm: z.literal('ed25519'),
    public_key: z.string().describe('SPKI, PEM'),
    active: z.boolean().describe('The key that signs new envelopes; retired keys verify what they signed'),
    created_at: z.string(),
    retired_at: z.string().nullable(),
  })
  .meta({ id: 'PublicKey' });

export const keyJson = (key: PublicKeyView) => ({
  keyid: key.keyid,
  algorithm: 'ed25519' as const,
  public_key: key.publicKey,
  active: key.retiredAt === null,
  created_at: iso(key.createdAt),
  retired_at: iso(key.retiredAt),
});

export const keyRoutes: FastifyPluginAsyncZod<{ deps: EngineDeps }> = async (app, { deps }) => {
  app.get(
    '/api/keys',
    {
      schema: {
        operationId: 'listSigningKeys',
        tags: ['provenance'],
        summary: 'The public keys that verify provenance envelopes: the active one first, then the retired ones',
        response: { 200: z.object({ keys: z.array(publicKeySchema) }), ...problemResponses(429) },
      },
    },
    async () => ({ keys: (await listPublicKeys(deps)).map(keyJson) }),
  );

  app.post(
    '/api/keys/rotate',
    {
      schema: {
        operationId: 'rotateSigningKey',
        tags: ['provenance'],
        summary: 'Retire the active signing key and create a new one (stepgate keys rotate)',
        description: 'New envelopes are signed with the new key; the retired key stays listed at GET /api/keys, so what it signed still verifies.',
        // No parameters: an unknown one is refused (422) rather than ignored while the key rotates.
        querystring: z.strictObject({}),
        response: { 201: z.object({ active: publicKeySchema, retired: z.array(publicKeySchema) }), ...problemResponses(401, 403, 429) },
      },
    },
    async (request, reply) => {
      // It takes no body: one sent is refused rather than ignored while the key rotates.
      if (request.body !== undefined) throw new RequestInvalidError([{ path: 'body', message: 'this route takes no body' }], 'POST /api/keys/rotate takes no body.');
      const { active, retired } = await rotateSigningKey(deps);
      return reply.status(201).send({ active: keyJson(active), retired: retired.map(keyJson) });
    },
  );
};
