import { sql, type SQL } from 'drizzle-orm';
import type { FlushResult, RunnerGuard, RunnerWrite, StartedStepRun } from '../../core/run-store.js';
import type { RunStatus } from '../../core/lifecycle.js';
import { queryPrepared, type Db, type PreparedRunner } from '../database.js';
import { createRun } from './create-run.js';
import { appendEvents, runEvent, type EventRows } from './events.js';
import { finishStep } from './finish-step.js';
import { park } from './park.js';
import { dropLease, release } from './release.js';
import { settle } from './settle.js';
import { restartStep, startStep } from './start-step.js';

/**
 * The runner's writes since its last flush, as ONE statement (one round trip, one commit):
 * the outcomes of the steps that ended since, the compute steps they unblocked, and the
 * starts of the task steps they unblocked — or the run's release — go to the database
 * together, as data-modifying CTEs. With several steps in flight, the steps that end while a
 * flush is under way share the next one.
 *
 * The first CTE, `held`, locks the run row (or inserts it, for a new run) before anything
 * else: every other piece depends on it through an uncorrelated EXISTS, which PostgreSQL
 * evaluates first. Nothing is written unless this executor holds the run's lease, so a
 * process that lost it writes nothing (the fence); new work additionally needs the run to be
 * `running` and no attestation since the runner decided it (the write's `seenSeq`), so that
 * an attestation or a cancel made meanwhile is seen before anything new starts.
 */

/** Batches of at most this many writes run as named prepared statements. */
const PREPARED_UP_TO = 4;

export interface Piece {
  readonly sql: SQL;
  /** The CTE's name when the flush reports on it. */
  readonly reports?: 'started' | 'released';
  /** The events its rows make (SPEC §12), appended by the same statement. */
  readonly events?: readonly EventRows[];
}

export interface PieceContext {
  readonly runId: string;
  readonly owner: string;
  /** Holds while this executor has the lease (running, or cancelled under it). */
  readonly held: SQL;
  /** Holds while new work decided under attestation count `seenSeq` may start: running, and no attestation since. */
  mayStart(seenSeq: number): SQL;
  name(prefix: string): string;
}

export async function flushRunner(db: Db, prepared: PreparedRunner | undefined, guard: RunnerGuard, writes: readonly RunnerWrite[]): Promise<FlushResult> {
  // A run inserted by this statement cannot also be updated by it: release it in a second one.
  const releaseAt = writes.findIndex((w) => w.kind === 'release' || w.kind === 'drop-lease');
  if (guard.kind === 'create' && releaseAt >= 0) {
    const first = await flushRunner(db, prepared, guard, writes.filter((_, i) => i !== releaseAt));
    if (!first.held) return first;
    const second = await flushRunner(db, prepared, { kind: 'held', runId: guard.runId, owner: guard.owner }, [writes[releaseAt]!]);
    return { ...second, started: first.started };
  }
  let counter = 0;
  const context: PieceContext = {
    runId: guard.runId,
    owner: guard.owner,
    held: sql`EXISTS (SELECT 1 FROM held)`,
    mayStart: (seenSeq) => sql`EXISTS (SELECT 1 FROM held WHERE status = 'running' AND attested_seq = ${seenSeq})`,
    // The same shape of batch gets the same text, and so the same prepared statement.
    name: (prefix) => `${prefix}${++counter}`,
  };
  const held =
    guard.kind === 'create'
      ? createRun(guard)
      : sql`held AS (
          SELECT id, status, attested_seq FROM dag_runs
          WHERE id = ${guard.runId} AND lease_owner = ${guard.owner} AND status IN ('running', 'cancelled')
          FOR UPDATE)`;
  const pieces: Array<Piece & { name: string }> = writes.flatMap((write) => pieceOf(write, context));
  const events = [...(guard.kind === 'create' ? [runEvent('run_started', 'held', 'running', 'run-start')] : []), ...pieces.flatMap((p) => p.events ?? [])];
  const ctes = [held, ...pieces.map((p) => p.sql), ...(events.length > 0 ? [appendEvents('events', events)] : [])];
  const started = pieces.filter((p) => p.reports === 'started');
  const released = pieces.find((p) => p.reports === 'released');
  const startedRows = sql.join(
    started.map((p) => sql`SELECT id, step_key, item_index, attempt FROM ${sql.raw(p.name)}`),
    sql` UNION ALL `,
  );
  const statement = sql`WITH ${sql.join(ctes, sql`, `)}
    SELECT (SELECT count(*) FROM held)::int AS held, (SELECT status FROM held) AS status, (SELECT attested_seq FROM held) AS attested_seq,
           ${started.length > 0 ? sql`(SELECT json_agg(json_build_object('id', s.id, 'stepKey', s.step_key, 'itemIndex', s.item_index, 'attempt', s.attempt)) FROM (${startedRows}) AS s)` : sql`NULL::json`} AS started,
           ${released ? sql`(SELECT count(*) FROM ${sql.raw(released.name)})::int` : sql`0`} AS released`;
  type Row = { held: number; status: RunStatus | null; attested_seq: number | null; started: StartedStepRun[] | null; released: number };
  // Prepared only while the batch is small: the shapes of larger ones (many steps ending and
  // starting together) are too many to keep one prepared statement each on every connection.
  const [row] = await queryPrepared<Row>(db, writes.length <= PREPARED_UP_TO ? prepared : undefined, statement);
  return {
    held: row!.held > 0,
    status: row!.status,
    attestedSeq: row!.attested_seq ?? 0,
    started: row!.started ?? [],
    released: row!.released > 0,
  };
}

function pieceOf(write: RunnerWrite, context: PieceContext): Array<Piece & { name: string }> {
  switch (write.kind) {
    case 'park':
      return park(write, context);
    case 'settle':
      return settle(write, context);
    case 'start':
      return startStep(write, context);
    case 'restart':
      return restartStep(write, context);
    case 'finish':
      return finishStep(write, context);
    case 'release':
      return release(write, context);
    case 'drop-lease':
      return dropLease(context);
  }
}
