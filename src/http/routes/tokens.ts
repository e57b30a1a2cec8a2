import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ROLES } from '../../core/access.js';
import type { EngineDeps } from '../../engine/deps.js';
import { createToken, listTokens, revokeToken, type TokenView } from '../../engine/tokens.js';
import { problemResponses } from '../schemas.js';
import { iso } from '../serialize.js';

const tokenSchema = z
  .object({
    id: z.guid(),
    name: z.string().describe('The person or system the token stands for; recorded as attested_by and in the audit log'),
    role: z.enum(ROLES),
    created_at: z.string(),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    last_used_at: z.string().nullable().describe('Updated at most once a minute'),
    status: z.enum(['active', 'expired', 'revoked']),
  })
  .meta({ id: 'Token' });

const tokenJson = (token: TokenView) => ({
  id: token.id,
  name: token.name,
  role: token.role,
  created_at: iso(token.createdAt),
  expires_at: token.expiresAt ? iso(token.expiresAt) : null,
  revoked_at: token.revokedAt ? iso(token.revokedAt) : null,
  last_used_at: token.lastUsedAt ? iso(token.lastUsedAt) : null,
  status: token.revokedAt ? ('revoked' as const) : token.expiresAt && token.expiresAt.getTime() <= Date.now() ? ('expired' as const) : ('active' as const),
});

/** Tokens (admin) and `GET /api/me` (any role): SPEC §10. */
export const tokenRoutes: FastifyPluginAsyncZod<{ deps: EngineDeps }> = async (app, { deps }) => {
  app.get(
    '/api/me',
    {
      schema: {
        operationId: 'getMe',
        tags: ['access'],
        summary: 'Who the token stands for: its name, role and expiry (the console checks a token with it)',
        response: {
          200: z.object({
            name: z.string().nullable().describe('null with authentication off'),
            role: z.enum(ROLES),
            expires_at: z.string().nullable(),
            authentication: z.enum(['on', 'off']),
          }),
          ...problemResponses(401),
        },
      },
    },
    async (request) => {
      const principal = request.principal;
      if (principal?.kind !== 'token') return { name: null, role: 'admin' as const, expires_at: null, authentication: 'off' as const };
      return { name: principal.name, role: principal.role, expires_at: principal.expiresAt ? iso(principal.expiresAt) : null, authentication: 'on' as const };
    },
  );

  app.post(
    '/api/tokens',
    {
      schema: {
        operationId: 'createToken',
        tags: ['access'],
        summary: 'Create a token; the answer holds its secret, shown this once and stored only as a hash',
        body: z.strictObject({
          name: z.string().describe('Unique; letters, digits and . _ @ + -'),
          role: z.enum(ROLES),
          expires_at: z.iso.datetime({ offset: true }).nullish().describe('ISO 8601; omitted or null: never expires'),
        }),
        response: { 201: tokenSchema.extend({ token: z.string().describe('The secret: send it as `Authorization: Bearer <token>`') }), ...problemResponses(400, 401, 403, 409, 422) },
      },
    },
    async (request, reply) => {
      const { name, role, expires_at: expiresAt } = request.body;
      const created = await createToken(deps, { name, role, expiresAt: expiresAt ? new Date(expiresAt) : null });
      reply.header('location', `/api/tokens/${created.id}`);
      return reply.status(201).send({ ...tokenJson(created), token: created.token });
    },
  );

  app.get(
    '/api/tokens',
    {
      schema: {
        operationId: 'listTokens',
        tags: ['access'],
        summary: 'List tokens (never their secrets), oldest first',
        response: { 200: z.object({ items: z.array(tokenSchema) }), ...problemResponses(401, 403) },
      },
    },
    async () => ({ items: (await listTokens(deps)).map(tokenJson) }),
  );

  app.delete(
    '/api/tokens/:id',
    {
      schema: {
        operationId: 'revokeToken',
        tags: ['access'],
        summary: 'Revoke a token (by id or name): refused from its next request on, kept for the record',
        params: z.object({ id: z.string().describe('The token id, or its name') }),
        response: { 200: tokenSchema, ...problemResponses(401, 403, 404, 409) },
      },
    },
    async (request) => tokenJson(await revokeToken(deps, request.params.id)),
  );
};
