import type { FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import type { AuditRecord } from '../../core/run-store.js';
import { PendingAudit, recordAuditEvent, withPendingAudit } from '../../engine/audit.js';
import type { EngineDeps } from '../../engine/deps.js';
import { wantsNdjson } from '../ndjson.js';
import { isStateChanging } from './access.js';

const MAX_TARGET = 1024;

/**
 * One audit row for every state-changing request, allowed or refused (SPEC §10), in the log
 * before the response leaves: a client is never told "done" (or "refused") about a request the
 * log does not hold.
 *
 * - `preHandler`: a request that reached its handler hands the engine its row as it will read
 *   on success (engine/audit.ts); the engine's last write of the request — the attestation, the
 *   cancel, the runner's release — inserts it in the same statement as the change, so the
 *   change and its row commit together, with no commit of their own.
 * - `onSend`: writes the row no write carried (refusals, requests whose changes are not the
 *   runner's, NDJSON streams, whose answer starts before the run ends), and a second row when
 *   the answer is not the one recorded (an error after the change committed). If that row
 *   cannot be written the event goes to the error log whole, so it can be re-entered.
 */
export function auditHooks(deps: EngineDeps): { preHandler: preHandlerHookHandler; onSend: (request: FastifyRequest, reply: FastifyReply, payload: unknown) => Promise<unknown> } {
  return {
    preHandler: (request, reply, done) => {
      const outcome = isStateChanging(request.method) && !wantsNdjson(request) ? successStatusOf(request) : undefined;
      if (outcome === undefined) return done();
      const path = pathOf(request);
      const row = rowOf(request, reply, outcome, null);
      request.pendingAudit = new PendingAudit(row, (runId) => clip(request.auditTarget ?? (path.includes(runId) ? path : `/api/runs/${runId}`)));
      withPendingAudit(request.pendingAudit, done);
    },
    onSend: async (request, reply, payload) => {
      if (!isStateChanging(request.method)) return payload;
      if (request.pendingAudit && (await request.pendingAudit.written()) && reply.statusCode === request.pendingAudit.row.outcome) return payload;
      const event = rowOf(request, reply, reply.statusCode, reply.statusCode >= 400 ? problemCode(payload) : null);
      try {
        await recordAuditEvent(deps, event);
      } catch (err) {
        request.log.error({ audit_event: event, err: { message: 'the audit row could not be written', sqlstate: (err as { cause?: { code?: string } }).cause?.code } }, 'audit write failed');
      }
      return payload;
    },
  };
}

function rowOf(request: FastifyRequest, reply: FastifyReply, outcome: number, code: string | null): AuditRecord {
  const principal = request.principal;
  const location = reply.getHeader('location');
  return {
    actor: principal?.kind === 'token' ? principal.name : null,
    tokenId: principal?.kind === 'token' ? principal.tokenId : null,
    action: clip(`${request.method} ${request.routeOptions.url ?? pathOf(request)}`),
    target: clip(request.auditTarget ?? (typeof location === 'string' ? location : pathOf(request))),
    outcome,
    code,
    requestId: String(request.id),
    address: request.ip ?? null,
  };
}

/** The route's status on success, when its schema declares exactly one (201 for a create, 200 for a resume). */
function successStatusOf(request: FastifyRequest): number | undefined {
  const codes = Object.keys((request.routeOptions.schema?.response ?? {}) as object)
    .map(Number)
    .filter((code) => code >= 200 && code < 300);
  return codes.length === 1 ? codes[0] : undefined;
}

const pathOf = (request: FastifyRequest) => request.url.split('?')[0]!;
const clip = (text: string) => text.slice(0, MAX_TARGET);

function problemCode(payload: unknown): string | null {
  if (typeof payload !== 'string') return null;
  try {
    const code = (JSON.parse(payload) as { code?: unknown }).code;
    return typeof code === 'string' ? code.slice(0, 100) : null;
  } catch {
    return null;
  }
}
