import { sql } from 'drizzle-orm';
import type { AuditRecord, FlushResult, RunnerGuard, RunnerWrite, StartedStepRun } from '../../core/run-store.js';
import type { RunStatus } from '../../core/lifecycle.js';
import { queryPrepared, type Db, type PreparedRunner } from '../database.js';
import { createRun } from './create-run.js';
import type { Piece, PieceContext } from './pieces.js';
import { auditRow } from './audit.js';
import { appendEvents, runEvent } from './events.js';
import { finishSteps } from './finish-step.js';
import { parkSteps } from './park.js';
import { dropLease, release } from './release.js';
import { settleSteps } from './settle.js';
import { restartSteps, startSteps } from './start-step.js';

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
 *
 * `audit`, the request's audit row, is inserted by the same statement when the release (or
 * the dropped lease) takes effect: that is the request's last write.
 */

export async function flushRunner(db: Db, prepared: PreparedRunner | undefined, guard: RunnerGuard, writes: readonly RunnerWrite[], audit?: AuditRecord): Promise<FlushResult> {
  // A run inserted by this statement cannot also be updated by it: release it in a second one.
  const releaseAt = writes.findIndex((w) => w.kind === 'release' || w.kind === 'drop-lease');
  if (guard.kind === 'create' && releaseAt >= 0) {
    const first = await flushRunner(db, prepared, guard, writes.filter((_, i) => i !== releaseAt));
    if (!first.held) return first;
    const second = await flushRunner(db, prepared, { kind: 'held', runId: guard.runId, owner: guard.owner }, [writes[releaseAt]!], audit);
    return { ...second, started: first.started };
  }
  let counter = 0;
  const context: PieceContext = {
    runId: guard.runId,
    owner: guard.owner,
    held: sql`EXISTS (SELECT 1 FROM held)`,
    // The same kinds of writes get the same text, and so the same prepared statement.
    name: (prefix) => `${prefix}${++counter}`,
  };
  const held =
    guard.kind === 'create'
      ? createRun(guard)
      : sql`held AS (
          SELECT id, status, attested_seq FROM dag_runs
          WHERE id = ${guard.runId} AND lease_owner = ${guard.owner} AND status IN ('running', 'cancelled')
          FOR UPDATE)`;
  const pieces: Array<Piece & { name: string }> = piecesOf(writes, context);
  const released = pieces.find((p) => p.reports === 'released');
  if (audit && released) pieces.push({ name: 'audit', sql: auditRow('audit', audit, released.name) });
  const events = [...(guard.kind === 'create' ? [runEvent('run_started', 'held', 'running', 'run-start')] : []), ...pieces.flatMap((p) => p.events ?? [])];
  const ctes = [held, ...pieces.map((p) => p.sql), ...(events.length > 0 ? [appendEvents('events', events)] : [])];
  const started = pieces.filter((p) => p.reports === 'started');
  const startedRows = sql.join(
    started.map((p) => sql`SELECT id, step_key, item_index, attempt FROM ${sql.raw(p.name)}`),
    sql` UNION ALL `,
  );
  const statement = sql`WITH ${sql.join(ctes, sql`, `)}
    SELECT (SELECT count(*) FROM held)::int AS held, (SELECT status FROM held) AS status, (SELECT attested_seq FROM held) AS attested_seq,
           ${started.length > 0 ? sql`(SELECT json_agg(json_build_object('id', s.id, 'stepKey', s.step_key, 'itemIndex', s.item_index, 'attempt', s.attempt)) FROM (${startedRows}) AS s)` : sql`NULL::json`} AS started,
           ${released ? sql`(SELECT count(*) FROM ${sql.raw(released.name)})::int` : sql`0`} AS released`;
  type Row = { held: number; status: RunStatus | null; attested_seq: number | null; started: StartedStepRun[] | null; released: number };
  // One piece per kind of write, whatever their number: few shapes, each prepared once per connection.
  const [row] = await queryPrepared<Row>(db, prepared, statement);
  return {
    held: row!.held > 0,
    status: row!.status,
    attestedSeq: row!.attested_seq ?? 0,
    started: row!.started ?? [],
    released: row!.released > 0,
  };
}

/**
 * The pieces of a batch, one per kind of write whatever their number (each kind's rows go in
 * as one JSON parameter): outcomes first, then what they unblocked, then the release.
 */
function piecesOf(writes: readonly RunnerWrite[], context: PieceContext): Array<Piece & { name: string }> {
  const of = <K extends RunnerWrite['kind']>(kind: K) => writes.filter((w): w is Extract<RunnerWrite, { kind: K }> => w.kind === kind);
  const pieces: Array<Piece & { name: string }> = [];
  const finishes = of('finish');
  if (finishes.length > 0) pieces.push(...finishSteps(finishes, context));
  const parks = of('park');
  if (parks.length > 0) pieces.push(...parkSteps(parks, context));
  const settles = of('settle');
  if (settles.length > 0) pieces.push(...settleSteps(settles, context));
  const starts = of('start');
  if (starts.length > 0) pieces.push(...startSteps(starts, context));
  const restarts = of('restart');
  if (restarts.length > 0) pieces.push(...restartSteps(restarts, context));
  for (const write of writes) {
    if (write.kind === 'release') pieces.push(...release(write, context));
    else if (write.kind === 'drop-lease') pieces.push(...dropLease(context));
  }
  return pieces;
}
