/**
 * Run events (SPEC §12): one per committed transition of a run or a step run, appended to
 * `run_events` in the transition's own statement. The same JSON shape travels everywhere: an
 * SSE `data:` line, an NDJSON line (docs/events.md). Where an event sorts in the record is its
 * position: the id of the transaction that appended it, then its own id (below).
 */
export const RUN_EVENT_KINDS = [
  'run_started',
  'step_started',
  'step_succeeded',
  'step_failed',
  'step_waiting',
  'step_attested',
  'step_cancelled',
  'run_waiting',
  'run_succeeded',
  'run_failed',
  'run_cancelled',
  'run_resumed',
  'run_retried',
] as const;
export type RunEventKind = (typeof RUN_EVENT_KINDS)[number];

/** The channel every stepgate process sharing a PostgreSQL server LISTENs on for wake-ups. */
export const EVENTS_CHANNEL = 'stepgate_events';

export interface RunEvent {
  /** `run_events.id`, a bigint as a string: the event's identity (not its place in the record: see EventPosition). */
  readonly id: string;
  readonly kind: RunEventKind;
  readonly run_id: string;
  readonly step_key: string | null;
  readonly step_run_id: string | null;
  /** A map step's item (SPEC §17), from 0; null for an ordinary step and for run events. */
  readonly item_index: number | null;
  readonly attempt: number | null;
  /** The run's or the step run's new status. */
  readonly status: string | null;
  /** Why: the step's error message (step_failed), the run's (run_failed); null otherwise. */
  readonly error: { readonly message: string } | null;
  /** ISO 8601, UTC, milliseconds. */
  readonly at: string;
}

export const isRunEventKind = (kind: string): kind is RunEventKind => (RUN_EVENT_KINDS as readonly string[]).includes(kind);

/**
 * Where an event sorts in the record: the id of the transaction that appended it
 * (`pg_current_xact_id()`), then its own id. Readers deliver an event only once every
 * transaction with a smaller id has ended, so no event can later appear before one already
 * delivered: a cursor never skips a committed event (docs/events.md, "Order").
 */
export interface EventPosition {
  readonly tx: bigint;
  readonly id: bigint;
}

/**
 * An event as read from the record: its position, what filters look at, and its JSON as the
 * database built it — written to a stream as it is, never parsed and built again.
 */
export interface RecordedEvent {
  readonly position: EventPosition;
  readonly kind: RunEventKind;
  readonly runId: string;
  /** A RunEvent's JSON. */
  readonly json: string;
}

export const parseEvent = (recorded: RecordedEvent): RunEvent => JSON.parse(recorded.json) as RunEvent;

/** Before every event. */
export const START: EventPosition = { tx: 0n, id: 0n };

/** Ids are bigints: the greatest one, for a position past every event of a transaction. */
export const MAX_EVENT_ID = 9_223_372_036_854_775_807n;

export const isAfter = (a: EventPosition, b: EventPosition): boolean => a.tx > b.tx || (a.tx === b.tx && a.id > b.id);

export const later = (a: EventPosition, b: EventPosition): EventPosition => (isAfter(a, b) ? a : b);

/** A position as an SSE id (`Last-Event-ID`): `<tx>-<id>`. */
export const formatCursor = (position: EventPosition): string => `${position.tx}-${position.id}`;

const CURSOR = /^(\d{1,18})-(\d{1,18})$/;
const EVENT_ID = /^\d{1,18}$/;

/**
 * What a `Last-Event-ID` says: a cursor (`<tx>-<id>`, what this server sends), or an event's
 * id (what servers before cursors sent, or an event's `id` from NDJSON), which must be looked
 * up; undefined when it is neither.
 */
export function parseLastEventId(text: string): { position: EventPosition } | { eventId: bigint } | undefined {
  const cursor = CURSOR.exec(text);
  if (cursor) return { position: { tx: BigInt(cursor[1]!), id: BigInt(cursor[2]!) } };
  return EVENT_ID.test(text) ? { eventId: BigInt(text) } : undefined;
}
