import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Principal } from '../../core/access.js';
import { RequestInvalidError } from '../../core/errors.js';
import type { EngineDeps } from '../../engine/deps.js';
import { attestStep } from '../../engine/attest.js';
import { listPending, listReadyToResume } from '../../engine/inbox.js';
import { resumeRun } from '../../engine/resume.js';
import { iso } from '../serialize.js';
import { pageQuerySchema, problemResponses, readyRunSchema, runSchema } from '../schemas.js';
import { runJson } from '../serialize.js';
import { NDJSON_NOTE, streamRun, wantsNdjson } from '../ndjson.js';

const artifactSchema = z.strictObject({
  name: z.string().min(1).max(100).describe('Unique within the attestation; on SUCCESS each declared contract output needs one'),
  uri: z
    .string()
    .max(4096)
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
  attested_by: z.string().trim().min(1, 'expected who attests (a name or an id)').max(200).optional().describe("Optional: who attests is the token's name; one that differs is refused (422). Required with authentication off, and stored as not verified"),
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
    step_run_id: z.guid(),
    run_id: z.guid(),
    step_key: z.string(),
    item_index: z.number().int().nullable().describe("A map step's item, from 0; null for an ordinary step"),
    item: z.unknown().describe("A map step's item: the list's element this wait is for; null for an ordinary step"),
    label: z.string().describe('How the wait is named: the step key, or B[3] for item 3 of map step B'),
    attempt: z.number().int(),
    waiting_since: z.string(),
    due_at: z.string().nullable().describe('The deadline, when the contract has one'),
    overdue: z.boolean().describe('due_at has passed: it can no longer be attested'),
    manifest: z.object({ id: z.guid(), name: z.string(), version: z.number().int() }),
    contract: z.unknown().describe("The step's compute_contract: executor, inputs, outputs, instructions"),
    instructions: z.string().nullable().describe("The contract's instructions rendered as a template (a map step's item and item_index in them); null when it has none"),
    inputs: z.array(z.object({ name: z.string(), from: z.string().nullable(), value: z.unknown() })).describe('Declared contract inputs with their values'),
    upstream: z.record(z.string(), z.unknown()).describe('Canonical outputs of the steps this one depends on'),
    attest_url: z.string(),
  })
  .meta({ id: 'PendingAttestation' });

/**
 * Who attests (SPEC §4, §10): the token's name, verified; a body `attested_by` may only repeat
 * it. With authentication off the body must name someone, stored as not verified.
 */
function attesterOf(principal: Principal | null, claimed: string | undefined): { attestedBy: string; tokenId: string | null } {
  if (principal?.kind === 'token') {
    if (claimed !== undefined && claimed !== principal.name) {
      throw new RequestInvalidError(
        [{ path: 'attested_by', message: `the token attests as "${principal.name}", not "${claimed}": omit attested_by, or attest with the token of "${claimed}"` }],
        `attested_by "${claimed}" differs from the name of the token the request was made with ("${principal.name}"); nothing was stored.`,
      );
    }
    return { attestedBy: principal.name, tokenId: principal.tokenId };
  }
  if (claimed === undefined) {
    throw new RequestInvalidError(
      [{ path: 'attested_by', message: 'required while authentication is off (STEPGATE_AUTH=off): the body names who attests (CLI: --by NAME or STEPGATE_OPERATOR)' }],
      'The request body is invalid: attested_by is required while authentication is off.',
    );
  }
  return { attestedBy: claimed, tokenId: null };
}

export const attestationRoutes: FastifyPluginAsyncZod<{ deps: EngineDeps }> = async (app, { deps }) => {
  app.post(
    '/api/runs/:run_id/steps/:step_run_id/attest',
    {
      schema: {
        operationId: 'attestStepRun',
        tags: ['attestations'],
        summary: 'Attest a compute step: outcome, notes and the artifacts it produced; who attests is the token',
        description: 'One attestation per step run. SUCCESS makes the step SUCCESS (resume then continues the run); FAIL ends the run in error.',
        params: z.object({ run_id: z.string(), step_run_id: z.string() }),
        body: attestBodySchema,
        response: { 201: runSchema, ...problemResponses(400, 404, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const { outcome, notes, artifacts } = request.body;
      const attester = attesterOf(request.principal, request.body.attested_by);
      const view = await attestStep(deps, request.params.run_id, request.params.step_run_id, { outcome, notes, ...attester, artifacts });
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
          'A run left running by a process that died (its lease expired) is recovered the same way.\n\n' +
          NDJSON_NOTE,
        params: z.object({ run_id: z.string() }),
        response: { 200: runSchema, ...problemResponses(404, 409) },
      },
    },
    async (request, reply) => {
      const runId = request.params.run_id;
      if (wantsNdjson(request)) return streamRun(deps, request, reply, runId, async () => runJson(await resumeRun(deps, runId)));
      return runJson(await resumeRun(deps, runId));
    },
  );

  app.get(
    '/api/attestations/pending',
    {
      schema: {
        operationId: 'listPendingAttestations',
        tags: ['attestations'],
        summary: "The operator's inbox: every step run waiting for attestation (overdue first, then oldest), and the runs ready to resume",
        querystring: pageQuerySchema,
        response: {
          200: z.object({
            items: z.array(pendingSchema),
            total: z.number().int(),
            limit: z.number().int(),
            offset: z.number().int(),
            ready_to_resume: z.array(readyRunSchema).describe('Waiting runs whose waits are all attested (newest first, at most 50): resume them'),
          }),
          ...problemResponses(422),
        },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const [page, ready] = await Promise.all([listPending(deps, { limit, offset }), listReadyToResume(deps)]);
      return {
        ready_to_resume: ready.map((run) => ({
          run_id: run.runId,
          manifest: { id: run.manifestId, name: run.manifestName, version: run.manifestVersion },
          waiting_since: iso(run.updatedAt),
          resume_url: `/api/runs/${run.runId}/resume`,
        })),
        items: page.items.map((item) => ({
          step_run_id: item.stepRunId,
          run_id: item.runId,
          step_key: item.stepKey,
          item_index: item.itemIndex,
          item: item.itemIndex === null ? null : item.item,
          label: item.label,
          attempt: item.attempt,
          waiting_since: iso(item.startedAt),
          due_at: iso(item.dueAt),
          overdue: item.overdue,
          manifest: { id: item.manifestId, name: item.manifestName, version: item.manifestVersion },
          contract: item.contract,
          instructions: item.instructions,
          inputs: item.inputs,
          upstream: item.upstream,
          attest_url: `/api/runs/${item.runId}/steps/${item.stepRunId}/attest`,
        })),
        total: page.total,
        limit,
        offset,
      };
    },
  );
};
