import { listAuditEvents, type AuditFilter, type AuditInsert, appendAuditEvent } from '../storage/audit.js';
import type { EngineDeps } from './deps.js';
import { afterCursor, withCursor, type ListQuery } from './lists.js';

/** The append-only audit log (SPEC §10): one row per state-changing request, allowed or refused. */
export function recordAuditEvent(deps: EngineDeps, event: AuditInsert): Promise<void> {
  return appendAuditEvent(deps.db, event);
}

/** Newest first, a page at a time (engine/lists.ts). */
export async function listAudit(deps: EngineDeps, query: AuditFilter & ListQuery) {
  const filters = { actor: query.actor, action: query.action, outcome: query.outcome, since: query.since?.toISOString() };
  return withCursor('audit', filters, await listAuditEvents(deps.db, { ...query, after: afterCursor('audit', filters, query) }));
}
