import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { envelopeSchema } from '../../core/provenance/dsse.js';
import { statementSchema } from '../../core/provenance/predicate.js';
import type { EngineDeps } from '../../engine/deps.js';
import { runProvenance, signStatements, stepRunProvenance } from '../../engine/provenance.js';
import { problemResponses } from '../schemas.js';

/** SPEC §13: an attestation as an in-toto statement, signed on request; a run's bundle. */

/** JSON Lines, one statement or envelope per line: the in-toto bundle format (`.intoto.jsonl`). */
export const BUNDLE_CONTENT_TYPE = 'application/jsonl; charset=utf-8';

const envelopeQuery = z.object({
  envelope: z.enum(['dsse']).optional().describe('dsse: answer a DSSE envelope signed with the server key (GET /api/keys) instead of the bare statement'),
});

export const provenanceRoutes: FastifyPluginAsyncZod<{ deps: EngineDeps }> = async (app, { deps }) => {
  app.get(
    '/api/runs/:run_id/steps/:step_run_id/provenance',
    {
      schema: {
        operationId: 'getStepRunProvenance',
        tags: ['provenance'],
        summary: "An attested step run's provenance: an in-toto Statement v1, or with ?envelope=dsse a signed DSSE envelope",
        description:
          'Subjects are the attested artifacts by sha256; the predicate (https://stepgate.dev/attestation/v1, schema/attestation-predicate.schema.json) ' +
          'holds the run, the step, the manifest, the contract, the inputs by value digest, outcome, notes, attester and the verification results. 404 when the step run is not attested.',
        params: z.object({ run_id: z.string(), step_run_id: z.string() }),
        querystring: envelopeQuery,
        response: { 200: z.union([statementSchema.meta({ id: 'InTotoStatement' }), envelopeSchema.meta({ id: 'DsseEnvelope' })]), ...problemResponses(404, 422) },
      },
    },
    async (request) => {
      const statement = await stepRunProvenance(deps, request.params.run_id, request.params.step_run_id);
      if (request.query.envelope !== 'dsse') return statement;
      const [envelope] = await signStatements(deps, [statement]);
      return envelope!;
    },
  );

  app.get(
    '/api/runs/:run_id/provenance',
    {
      schema: {
        operationId: 'getRunProvenance',
        tags: ['provenance'],
        summary: "Every attestation of a run, as an in-toto bundle: JSON Lines, one statement (or with ?envelope=dsse one signed envelope) per line",
        description: 'In the order of the run\'s steps; an empty body when nothing is attested yet. `stepgate provenance RUN --out DIR` writes it as files for an auditor.',
        params: z.object({ run_id: z.string() }),
        querystring: envelopeQuery,
        response: {
          200: { description: 'JSON Lines (application/jsonl)', content: { 'application/jsonl': { schema: z.string() } } },
          ...problemResponses(404, 422),
        },
      },
    },
    async (request, reply) => {
      const statements = await runProvenance(deps, request.params.run_id);
      const lines = request.query.envelope === 'dsse' ? await signStatements(deps, statements) : statements;
      return reply.type(BUNDLE_CONTENT_TYPE).send(lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
    },
  );
};
