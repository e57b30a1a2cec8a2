import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { EngineDeps } from '../../engine/deps.js';
import { attestStep } from '../../engine/attest.js';
import { listPending } from '../../engine/inbox.js';
import { resumeRun } from '../../engine/resume.js';
import { iso } from '../serialize.js';
import { pageQuerySchema, problemResponses, runSchema } from '../schemas.js';
import { runJson } from '../serialize.js';

const artifactSchema = z.strictObject({
  name: z.string().min(1).describe('Unique within the attestation; on SUCCESS each declared contract output needs one'),
  uri: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/, 'expected a URI with a scheme, e.g. file:///data/forecast.csv or s3://bucket/key')
    .describe('Where the artifact is: file://, s3://, https://, …'),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hexadecimal characters (the sha256 of the artifact)')
    .transform((hex) => hex.toLowerCase()),
  bytes: z.number().int('expected a whole number of bytes').min(0, 'expected a size of 0 bytes or more').max(Number.MAX_SAFE_INTEGER),
});

export const attestBodySchema = z.strictObject({
  outcome: z.enum(['SUCCESS', 'FAIL']),
  notes: z.string().max(100_000).nullish(),
  attested_by: z.string().trim().min(1, 'expected who attests (a name or an id)'),
  artifacts: z
    .array(artifactSchema)
    .default([])
    .superRefine((artifacts, ctx) => {
      const seen = new Map<string, number>();
      artifacts.forEach((artifact, i) => {
        const first = seen.get(artifact.name);
        if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate artifact name "${artifact.name}": artifacts[${first}] already uses it`, input: artifact.name });
        else seen.set(artifact.name, i);
      });
    }),
});

const pendingSchema = z
  .object({
    step_run_id: z.uuid(),
    run_id: z.uuid(),
    step_key: z.string(),
    attempt: z.number().int(),
    waiting_since: z.string(),
    manifest: z.object({ id: z.uuid(), name: z.string(), version: z.number().int() }),
    contract: z.unknown().describe("The step's compute_contract: executor, inputs, outputs, instructions"),
    inputs: z.array(z.object({ name: z.string(), from: z.string().nullable(), value: z.unknown() })).describe('Declared contract inputs with their values'),
    upstream: z.record(z.string(), z.unknown()).describe('Canonical outputs of the steps this one depends on'),
    attest_url: z.string(),
  })
  .meta({ id: 'PendingAttestation' });

export const attestationRoutes: FastifyPluginAsyncZod<{ deps: EngineDeps }> = async (app, { deps }) => {
  app.post(
    '/api/runs/:run_id/steps/:step_run_id/attest',
    {
      schema: {
        operationId: 'attestStepRun',
        tags: ['attestations'],
        summary: 'Attest a compute step: outcome, notes, who, and the artifacts it produced',
        description: 'One attestation per step run. SUCCESS makes the step SUCCESS (resume then continues the run); FAIL ends the run in error.',
        params: z.object({ run_id: z.string(), step_run_id: z.string() }),
        body: attestBodySchema,
        response: { 201: runSchema, ...problemResponses(400, 404, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const { outcome, notes, attested_by: attestedBy, artifacts } = request.body;
      const view = await attestStep(deps, request.params.run_id, request.params.step_run_id, { outcome, notes, attestedBy, artifacts });
      return reply.status(201).send(runJson(view));
    },
  );

  app.post(
    '/api/runs/:run_id/resume',
    {
      schema: {
        operationId: 'resumeRun',
        tags: ['runs'],
        summary: 'Continue a waiting run from the database',
        description:
          'Exactly one caller advances a run: the others get 409. Runs what the attestations unblocked; answers the run, back to waiting (see waiting_on) or finished. ' +
          'A run left running by a process that died (its lease expired) is recovered the same way.',
        params: z.object({ run_id: z.string() }),
        response: { 200: runSchema, ...problemResponses(404, 409) },
      },
    },
    async (request) => runJson(await resumeRun(deps, request.params.run_id)),
  );

  app.get(
    '/api/attestations/pending',
    {
      schema: {
        operationId: 'listPendingAttestations',
        tags: ['attestations'],
        summary: "The operator's inbox: every step run waiting for attestation, oldest first",
        querystring: pageQuerySchema,
        response: {
          200: z.object({ items: z.array(pendingSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }),
          ...problemResponses(422),
        },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const page = await listPending(deps, { limit, offset });
      return {
        items: page.items.map((item) => ({
          step_run_id: item.step_run_id,
          run_id: item.run_id,
          step_key: item.step_key,
          attempt: item.attempt,
          waiting_since: iso(new Date(item.started_at)),
          manifest: { id: item.manifest_id, name: item.manifest_name, version: item.manifest_version },
          contract: item.contract,
          inputs: item.inputs,
          upstream: item.upstream,
          attest_url: `/api/runs/${item.run_id}/steps/${item.step_run_id}/attest`,
        })),
        total: page.total,
        limit,
        offset,
      };
    },
  );
};
