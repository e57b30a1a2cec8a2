import { sql, type SQL } from 'drizzle-orm';
import { EVENTS_CHANNEL, later, MAX_EVENT_ID, START, type EventPosition, type RecordedEvent, type RunEventKind } from '../core/events.js';
import { queryPrepared, queryRows, type Db, type PreparedRunner } from './database.js';
import { eventJson } from './transitions/events.js';

/**
 * Reading `run_events` by position (docs/events.md, "Order"). An event is *settled* once every
 * transaction whose id is smaller than its `tx_id` has ended: from then on no event can appear
 * before it. Readers that follow the record deliver settled events only, so a cursor never
 * skips one committed late.
 *
 * The horizon below which everything is settled is the statement's own snapshot's: the
 * smallest id of a transaction still running, leaving out those of other databases on the same
 * server (a long transaction elsewhere must not hold stepgate's events back; a transaction's
 * database is known from pg_stat_activity and pg_prepared_xacts, which any role may read for
 * that), or, none running, the next id to be given.
 */
const HORIZON = sql`coalesce(
  (SELECT min(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
   WHERE (x::text::bigint % 4294967296) NOT IN (
     SELECT a.backend_xid::text::bigint FROM pg_stat_activity a
     WHERE a.backend_xid IS NOT NULL AND a.datname IS DISTINCT FROM current_database()
     UNION ALL
     SELECT p.transaction::text::bigint FROM pg_prepared_xacts p WHERE p.database <> current_database())),
  pg_snapshot_xmax(pg_current_snapshot())::text::bigint)`;

export interface EventQuery {
  /** Only events after this position. */
  readonly after: EventPosition;
  readonly runId?: string | undefined;
  readonly kinds?: readonly RunEventKind[] | undefined;
  readonly limit: number;
}

export interface EventPage {
  /** Settled events after `after`, in position order. */
  readonly events: RecordedEvent[];
  /**
   * How far the record has been read: every settled event up to here was returned (the last
   * event's position, or past it when nothing more is settled). The next read starts here.
   */
  readonly reached: EventPosition;
  /** The page was full: more settled events may follow at once. */
  readonly full: boolean;
  /** Events after the page are committed but not settled yet: worth another look soon. */
  readonly held: boolean;
}

type Row = { tx_id: string; id: string; kind: RunEventKind; run_id: string; event: string };

const recorded = (row: Row): RecordedEvent => ({ position: { tx: BigInt(row.tx_id), id: BigInt(row.id) }, kind: row.kind, runId: row.run_id, json: row.event });

/** The filtered rows after `after`, in position order, at most `limit` (each kind from its index, merged). */
function rowsAfter(query: EventQuery): SQL {
  const base = (kinds: SQL) => sql`SELECT e.tx_id, e.id, e.kind, e.run_id, (${eventJson('e')})::text AS event FROM run_events e
    WHERE (e.tx_id, e.id) > (${query.after.tx.toString()}::bigint, ${query.after.id.toString()}::bigint)
      ${query.runId === undefined ? sql`` : sql`AND e.run_id = ${query.runId}::uuid`} ${kinds}
    ORDER BY e.tx_id, e.id LIMIT ${query.limit}`;
  const kinds = query.kinds === undefined ? undefined : [...new Set(query.kinds)];
  if (kinds === undefined) return base(sql``);
  // One run's events are few: its index serves, the kinds filter. Across runs, one ordered
  // scan of the kind index per kind, merged: no more than `limit` rows read of each.
  if (query.runId !== undefined) return base(sql`AND e.kind IN (${sql.join(kinds.map((kind) => sql`${kind}`), sql`, `)})`);
  return sql`SELECT * FROM (${sql.join(
    kinds.map((kind) => sql`(${base(sql`AND e.kind = ${kind}`)})`),
    sql` UNION ALL `,
  )}) AS p ORDER BY p.tx_id, p.id LIMIT ${query.limit}`;
}

/** Settled events after `query.after`, in position order (a replay, a catch-up, the hub's reads). */
export async function readSettledEvents(db: Db, prepared: PreparedRunner | undefined, query: EventQuery): Promise<EventPage> {
  // Prepared where the driver offers it: planning this statement takes longer than running it.
  const rows = await queryPrepared<{ horizon: string } & { [K in keyof Row]: Row[K] | null }>(
    db,
    prepared,
    sql`WITH h AS (SELECT ${HORIZON} AS horizon), p AS (${rowsAfter(query)})
        SELECT h.horizon::text AS horizon, p.tx_id::text AS tx_id, p.id::text AS id, p.kind, p.run_id, p.event
        FROM h LEFT JOIN p ON true ORDER BY p.tx_id, p.id`,
  );
  const horizon = BigInt(rows[0]!.horizon);
  const events: RecordedEvent[] = [];
  let held = false;
  for (const row of rows) {
    if (row.tx_id === null) continue;
    const event = recorded(row as Row);
    if (event.position.tx >= horizon) {
      held = true;
      break;
    }
    events.push(event);
  }
  const full = events.length === query.limit;
  const last = events.at(-1)?.position ?? query.after;
  // Not full: every settled event after `after` was read, so the record is read up to the horizon.
  const reached = full ? last : later(last, { tx: horizon - 1n, id: MAX_EVENT_ID });
  return { events, reached, full, held };
}

/** How far the record is settled now: a position before every event not yet settled. */
export async function settledNow(db: Db): Promise<EventPosition> {
  const [row] = await queryRows<{ horizon: string }>(db, sql`SELECT (${HORIZON})::text AS horizon`);
  return { tx: BigInt(row!.horizon) - 1n, id: MAX_EVENT_ID };
}

/**
 * One run's committed events after `after`, settled or not: its own runner's catch-up. The
 * transitions of one run take its row lock first, so they commit one after the other, in the
 * order of their positions.
 */
export async function readRunEvents(db: Db, prepared: PreparedRunner | undefined, runId: string, after: EventPosition, limit: number): Promise<RecordedEvent[]> {
  const rows = await queryPrepared<Row>(db, prepared, sql`SELECT p.tx_id::text AS tx_id, p.id::text AS id, p.kind, p.run_id, p.event FROM (${rowsAfter({ after, runId, limit })}) AS p`);
  return rows.map(recorded);
}

/** The position of a run's newest event (START when it has none). */
export async function lastRunPosition(db: Db, prepared: PreparedRunner | undefined, runId: string): Promise<EventPosition> {
  const [row] = await queryPrepared<{ tx_id: string; id: string }>(
    db,
    prepared,
    sql`SELECT e.tx_id::text AS tx_id, e.id::text AS id FROM run_events e WHERE e.run_id = ${runId}::uuid ORDER BY e.tx_id DESC, e.id DESC LIMIT 1`,
  );
  return row ? { tx: BigInt(row.tx_id), id: BigInt(row.id) } : START;
}

/** The position of the event with this id; undefined when there is none. */
export async function positionOfEvent(db: Db, eventId: bigint): Promise<EventPosition | undefined> {
  const [row] = await queryRows<{ tx_id: string }>(db, sql`SELECT e.tx_id::text AS tx_id FROM run_events e WHERE e.id = ${eventId.toString()}::bigint`);
  return row ? { tx: BigInt(row.tx_id), id: eventId } : undefined;
}

/**
 * Tells the other processes sharing the database that events were committed (payload: who
 * sends it, so that it can ignore its own). Its own short transaction, after the events'
 * commit, committed without waiting for the disk: a wake-up lost in a crash costs nothing
 * (listeners read the table again when they reconnect), and the NOTIFY's database-wide lock is
 * held for microseconds, never across a disk flush, and never by the commits of transitions.
 */
export async function announceEvents(db: Db, sender: string): Promise<void> {
  await db.execute(sql`SELECT set_config('synchronous_commit', 'off', true), pg_notify(${EVENTS_CHANNEL}, ${sender})`);
}
