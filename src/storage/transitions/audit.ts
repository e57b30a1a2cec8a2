import { sql, type SQL } from 'drizzle-orm';
import type { AuditRecord } from '../../core/run-store.js';

/**
 * The request's audit row (SPEC §10) as a CTE of the statement that makes its change, written
 * only when `made` (the CTE of that change) returned a row: the change and its row commit
 * together, or neither does.
 */
export function auditRow(name: string, audit: AuditRecord, made: string): SQL {
  return sql`${sql.raw(name)} AS (
    INSERT INTO audit_events (actor, token_id, action, target, outcome, code, request_id, address)
    SELECT ${audit.actor}::text, ${audit.tokenId}::uuid, ${audit.action}::text, ${audit.target}::text, ${audit.outcome}::int, ${audit.code}::text, ${audit.requestId}::text, ${audit.address}::text
    WHERE EXISTS (SELECT 1 FROM ${sql.raw(made)})
    RETURNING id)`;
}
