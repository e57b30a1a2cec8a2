/**
 * Run events (SPEC §12): one per committed transition of a run or a step run, appended to
 * `run_events` in the transition's own statement and announced with `pg_notify` in its
 * transaction. The same JSON shape travels everywhere: the NOTIFY payload, an SSE `data:`
 * line, an NDJSON line (docs/events.md).
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

/** The channel every stepgate process LISTENs on. */
export const EVENTS_CHANNEL = 'stepgate_events';

export interface RunEvent {
  /** A bigint, as a string; ordered per run in commit order. */
  readonly id: string;
  readonly kind: RunEventKind;
  readonly run_id: string;
  readonly step_key: string | null;
  readonly step_run_id: string | null;
  readonly attempt: number | null;
  /** The run's or the step run's new status. */
  readonly status: string | null;
  /** ISO 8601, UTC, milliseconds. */
  readonly at: string;
}

export const isRunEventKind = (kind: string): kind is RunEventKind => (RUN_EVENT_KINDS as readonly string[]).includes(kind);

/** Compares event ids (bigint strings) without losing precision. */
export const eventIdAfter = (id: string, than: string): boolean => BigInt(id) > BigInt(than);
