import { and, desc, eq, getTableColumns, gte, sql, type SQL } from 'drizzle-orm';
import type { Page, Position } from '../core/cursor.js';
import type { Db } from './database.js';
import { cursorAt, pageOf } from './keyset.js';
import { auditEvents } from './schema.js';

export type AuditRow = typeof auditEvents.$inferSelect;
export type AuditInsert = typeof auditEvents.$inferInsert;

export async function appendAuditEvent(db: Db, event: AuditInsert): Promise<void> {
  await db.insert(auditEvents).values(event);
}

export interface AuditFilter {
  readonly actor?: string | undefined;
  readonly action?: string | undefined;
  readonly outcome?: number | undefined;
  readonly since?: Date | undefined;
}

/**
 * Newest first (at, then id, descending), a page at a time, by keyset (`after`) or offset.
 * Served by (at, id) and, for one actor, (actor, at, id) (migration 0010); `since` bounds the
 * same scan. `action` and `outcome` filter the rows that scan reads. The count only when asked.
 */
export async function listAuditEvents(
  db: Db,
  query: AuditFilter & { limit: number; offset?: number | undefined; after?: Position | undefined; count?: boolean | undefined },
): Promise<Page<AuditRow>> {
  const conditions: SQL[] = [];
  if (query.actor !== undefined) conditions.push(eq(auditEvents.actor, query.actor));
  if (query.action !== undefined) conditions.push(eq(auditEvents.action, query.action));
  if (query.outcome !== undefined) conditions.push(eq(auditEvents.outcome, query.outcome));
  if (query.since !== undefined) conditions.push(gte(auditEvents.at, query.since));
  const where = conditions.length > 0 ? and(...conditions) : undefined;
  const page = and(where, query.after === undefined ? undefined : sql`(${auditEvents.at}, ${auditEvents.id}) < (${query.after.at}::timestamptz, ${query.after.id}::uuid)`);
  const [rows, total] = await Promise.all([
    db
      .select({ ...getTableColumns(auditEvents), cursorAt: cursorAt(auditEvents.at) })
      .from(auditEvents)
      .where(page)
      .orderBy(desc(auditEvents.at), desc(auditEvents.id))
      .limit(query.limit + 1)
      .offset(query.offset ?? 0),
    query.count ? db.$count(auditEvents, where) : undefined,
  ]);
  return pageOf(rows, query.limit, total, ({ cursorAt: at, ...event }) => [event, { at, id: event.id }]);
}
