import { listAuditEvents, type AuditFilter, type AuditInsert, appendAuditEvent } from '../storage/audit.js';
import type { EngineDeps } from './deps.js';

/** The append-only audit log (SPEC §10): one row per state-changing request, allowed or refused. */
export function recordAuditEvent(deps: EngineDeps, event: AuditInsert): Promise<void> {
  return appendAuditEvent(deps.db, event);
}

export function listAudit(deps: EngineDeps, filter: AuditFilter) {
  return listAuditEvents(deps.db, filter);
}
