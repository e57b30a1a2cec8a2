import { sql } from 'drizzle-orm';
import type { RunEvent, RunEventKind } from '../core/events.js';
import { queryRows, type Db } from './database.js';
import { eventJson } from './transitions/events.js';

export interface EventQuery {
  /** Only events with a greater id (a bigint, as a string). */
  readonly after: string;
  readonly runId?: string | undefined;
  readonly kinds?: readonly RunEventKind[] | undefined;
  readonly limit: number;
}

/** Events from `run_events` in id order, as the NOTIFY payload carries them (replay, catch-up). */
export async function readEvents(db: Db, query: EventQuery): Promise<RunEvent[]> {
  const rows = await queryRows<{ event: RunEvent }>(
    db,
    sql`SELECT ${eventJson('e')} AS event FROM run_events e
        WHERE e.id > ${query.after}::bigint
          ${query.runId === undefined ? sql`` : sql`AND e.run_id = ${query.runId}::uuid`}
          ${query.kinds === undefined ? sql`` : sql`AND e.kind = ANY(${`{${query.kinds.join(',')}}`}::text[])`}
        ORDER BY e.id LIMIT ${query.limit}`,
  );
  return rows.map((row) => (typeof row.event === 'string' ? (JSON.parse(row.event) as RunEvent) : row.event));
}

/** The newest event's id ('0' when none), of one run or of all. */
export async function lastEventId(db: Db, runId?: string): Promise<string> {
  const [row] = await queryRows<{ id: string | null }>(
    db,
    sql`SELECT max(id)::text AS id FROM run_events ${runId === undefined ? sql`` : sql`WHERE run_id = ${runId}::uuid`}`,
  );
  return row?.id ?? '0';
}
