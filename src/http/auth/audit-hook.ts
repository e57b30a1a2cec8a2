import type { FastifyReply, FastifyRequest } from 'fastify';
import { recordAuditEvent } from '../../engine/audit.js';
import type { EngineDeps } from '../../engine/deps.js';
import { isStateChanging } from './access.js';

const MAX_TARGET = 1024;

/**
 * One audit row for every state-changing request, allowed or refused (SPEC §10), written
 * before the response leaves: a client is never told "done" (or "refused") about a request
 * the log does not hold. If the row cannot be written the event goes to the error log whole,
 * so it can be re-entered; only a process dying between a change's commit and this write can
 * lose a row.
 */
export function auditHook(deps: EngineDeps) {
  return async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (!isStateChanging(request.method)) return payload;
    const principal = request.principal;
    const path = request.url.split('?')[0]!;
    const location = reply.getHeader('location');
    const event = {
      actor: principal?.kind === 'token' ? principal.name : null,
      tokenId: principal?.kind === 'token' ? principal.tokenId : null,
      action: `${request.method} ${request.routeOptions.url ?? path}`.slice(0, MAX_TARGET),
      target: (request.auditTarget ?? (typeof location === 'string' ? location : path)).slice(0, MAX_TARGET),
      outcome: reply.statusCode,
      code: reply.statusCode >= 400 ? problemCode(payload) : null,
      requestId: String(request.id),
      address: request.ip ?? null,
    };
    try {
      await recordAuditEvent(deps, event);
    } catch (err) {
      request.log.error({ audit_event: event, err: { message: 'the audit row could not be written', sqlstate: (err as { cause?: { code?: string } }).cause?.code } }, 'audit write failed');
    }
    return payload;
  };
}

function problemCode(payload: unknown): string | null {
  if (typeof payload !== 'string') return null;
  try {
    const code = (JSON.parse(payload) as { code?: unknown }).code;
    return typeof code === 'string' ? code.slice(0, 100) : null;
  } catch {
    return null;
  }
}
