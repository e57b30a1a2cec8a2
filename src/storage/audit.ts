import { and, desc, eq, gte, sql, type SQL } from 'drizzle-orm';
import type { Db } from './database.js';
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
  readonly limit: number;
  readonly offset: number;
}

/** Newest first, with the number of rows the filter matches. */
export async function listAuditEvents(db: Db, filter: AuditFilter): Promise<{ items: AuditRow[]; total: number }> {
  const conditions: SQL[] = [];
  if (filter.actor !== undefined) conditions.push(eq(auditEvents.actor, filter.actor));
  if (filter.action !== undefined) conditions.push(eq(auditEvents.action, filter.action));
  if (filter.outcome !== undefined) conditions.push(eq(auditEvents.outcome, filter.outcome));
  if (filter.since !== undefined) conditions.push(gte(auditEvents.at, filter.since));
  const where = conditions.length > 0 ? and(...conditions) : undefined;
  const [items, [count]] = await Promise.all([
    db.select().from(auditEvents).where(where).orderBy(desc(auditEvents.at), desc(auditEvents.id)).limit(filter.limit).offset(filter.offset),
    db.select({ total: sql<number>`count(*)::int` }).from(auditEvents).where(where),
  ]);
  return { items, total: count?.total ?? 0 };
}
