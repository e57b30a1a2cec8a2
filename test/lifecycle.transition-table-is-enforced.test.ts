import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { canMove, RUN_MOVES, STEP_RUN_MOVES, type RunStatus, type Transition } from '../src/core/lifecycle.js';
import type { RunStore } from '../src/core/run-store.js';
import { queryRows, type Database } from '../src/storage/database.js';
import { createRunStore } from '../src/storage/transitions/index.js';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { DIGEST, storeManifest } from './support/runs.js';

/**
 * Table-driven: a run is put in every status (and `running` both live and stalled), then
 * every transition is tried on it. A move the table of core/lifecycle.ts allows works; any
 * other is refused and writes nothing at all.
 */

interface Fixture {
  readonly name: string;
  readonly status: RunStatus;
  readonly stalled: boolean;
  /** The status of its one compute step run B, if it has one. */
  readonly step: 'WAITING_FOR_ATTESTATION' | 'SUCCESS' | 'FAIL' | 'CANCELLED' | null;
}

const FIXTURES: Fixture[] = [
  { name: 'pending', status: 'pending', stalled: false, step: null },
  { name: 'running (live)', status: 'running', stalled: false, step: 'WAITING_FOR_ATTESTATION' },
  { name: 'running (stalled)', status: 'running', stalled: true, step: 'WAITING_FOR_ATTESTATION' },
  { name: 'waiting', status: 'waiting', stalled: false, step: 'WAITING_FOR_ATTESTATION' },
  { name: 'success', status: 'success', stalled: false, step: 'SUCCESS' },
  { name: 'error', status: 'error', stalled: false, step: 'FAIL' },
  { name: 'cancelled', status: 'cancelled', stalled: false, step: 'CANCELLED' },
];

const OWNER = 'executor-of-the-fixture';
const fromOf = (by: Transition) => RUN_MOVES.filter((move) => move.by === by).map((move) => move.from);

interface Verb {
  readonly name: string;
  /** Whether the table allows it from this fixture, and the run status it leads to. */
  expected(fixture: Fixture): RunStatus | undefined;
  /** Tries it; true when it took effect. */
  apply(store: RunStore, runId: string, stepRunId: string | undefined): Promise<boolean>;
}

const VERBS: Verb[] = [
  {
    name: 'cancel',
    expected: (f) => (fromOf('cancel').includes(f.status) ? 'cancelled' : undefined),
    apply: async (store, runId) => (await store.cancel(runId, 'table test')).kind === 'cancelled',
  },
  {
    name: 'claim-resume / take-over',
    expected: (f) => (fromOf('claim-resume').includes(f.status) || (f.stalled && fromOf('take-over').includes(f.status)) ? 'running' : undefined),
    apply: async (store, runId) => (await store.claimResume({ runId, owner: 'resumer', leaseMs: 60_000 })) !== undefined,
  },
  {
    name: 'retry',
    expected: (f) => (fromOf('retry').includes(f.status) ? 'running' : undefined),
    apply: async (store, runId) => (await store.claimRetry({ runId, owner: 'retrier', leaseMs: 60_000 })) !== undefined,
  },
  {
    name: 'release (as the lease owner)',
    // The owner's hold: release moves running → waiting (fenced by its lease, stalled or not).
    expected: (f) => (fromOf('release').includes(f.status) && canMove(RUN_MOVES, f.status, 'waiting') ? 'waiting' : undefined),
    apply: async (store, runId) => (await store.flush({ kind: 'held', runId, owner: OWNER }, [{ kind: 'release', status: 'waiting', seenSeq: 0 }])).released,
  },
  {
    name: 'attest SUCCESS',
    // The step run's move WAITING_FOR_ATTESTATION → SUCCESS, allowed while its run goes on.
    expected: (f) =>
      f.step !== null && canMove(STEP_RUN_MOVES, f.step, 'SUCCESS') && (f.status === 'waiting' || f.status === 'running') ? f.status : undefined,
    apply: async (store, runId, stepRunId) =>
      stepRunId !== undefined &&
      (
        await store.attest({
          runId,
          stepRunId,
          outcome: 'SUCCESS',
          notes: null,
          attestedBy: 'table', tokenId: null,
          contractSnapshot: {},
          artifacts: [{ name: 'x', uri: 'file:///x', sha256: DIGEST, bytes: 1, verified: false, verification: 'no_artifact_roots' }],
          output: { outcome: 'SUCCESS' },
        })
      ).kind === 'attested',
  },
  {
    name: 'attest FAIL',
    expected: (f) =>
      f.step !== null && canMove(STEP_RUN_MOVES, f.step, 'FAIL') && (f.status === 'waiting' || f.status === 'running')
        ? f.status === 'waiting' && canMove(RUN_MOVES, 'waiting', 'error')
          ? 'error'
          : f.status
        : undefined,
    apply: async (store, runId, stepRunId) =>
      stepRunId !== undefined &&
      (await store.attest({ runId, stepRunId, outcome: 'FAIL', notes: null, attestedBy: 'table', tokenId: null, contractSnapshot: {}, artifacts: [], output: null })).kind === 'attested',
  },
  {
    name: 'renew-lease (as the lease owner)',
    expected: (f) => (f.status === 'running' ? 'running' : undefined),
    apply: async (store, runId) => (await store.renewLease({ runId, owner: OWNER, leaseMs: 60_000 })) !== undefined,
  },
];

async function makeFixture(database: Database, manifestId: string, fixture: Fixture): Promise<{ runId: string; stepRunId: string | undefined }> {
  const runId = randomUUID();
  const ended = ['success', 'error', 'cancelled'].includes(fixture.status);
  const lease = fixture.status === 'running' ? sql`${OWNER}, now() + ${fixture.stalled ? sql`interval '-1 second'` : sql`interval '1 hour'`}` : sql`NULL, NULL`;
  await database.db.execute(sql`
    INSERT INTO dag_runs (id, manifest_id, status, started_at, ended_at, error, lease_owner, lease_expires_at)
    VALUES (${runId}, ${manifestId}, ${fixture.status}, now(), ${ended ? sql`now()` : sql`NULL`},
            ${fixture.status === 'error' ? sql`'{"message": "fixture"}'::jsonb` : sql`NULL`}, ${lease})`);
  if (!fixture.step) return { runId, stepRunId: undefined };
  const [step] = await queryRows<{ id: string }>(
    database.db,
    sql`INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, ended_at, output, error)
        SELECT ${runId}, id, 'B', ${fixture.step}, ${fixture.step === 'WAITING_FOR_ATTESTATION' ? sql`NULL` : sql`now()`},
               ${fixture.step === 'SUCCESS' ? sql`'{}'::jsonb` : sql`NULL`}, ${fixture.step === 'FAIL' || fixture.step === 'CANCELLED' ? sql`'{}'::jsonb` : sql`NULL`}
        FROM manifest_steps WHERE manifest_id = ${manifestId} AND key = 'B'
        RETURNING id`,
  );
  return { runId, stepRunId: step!.id };
}

/** Every column of the run and its step runs, attestations and artifacts. */
async function everything(database: Database, runId: string): Promise<string> {
  const [row] = await queryRows<{ all: unknown }>(
    database.db,
    sql`SELECT json_build_object(
          'run', (SELECT row_to_json(r) FROM dag_runs r WHERE r.id = ${runId}),
          'steps', (SELECT json_agg(s ORDER BY s.id) FROM dag_step_runs s WHERE s.run_id = ${runId}),
          'attestations', (SELECT count(*) FROM compute_attestations a JOIN dag_step_runs s ON s.id = a.step_run_id WHERE s.run_id = ${runId})) AS all`,
  );
  return JSON.stringify(row!.all);
}

describeEachDriver('the transition table', (ctx) => {
  it('allows exactly the moves it lists, from every status, and a refused move writes nothing', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, {
      name: 'table',
      steps: [{ key: 'B', step_type: 'compute', compute_contract: { executor: 'lab', inputs: [], outputs: ['x'], verification: 'operator_attest' } }],
    });
    const store = createRunStore(ctx.database.db);
    const outcomes: string[] = [];
    for (const fixture of FIXTURES) {
      for (const verb of VERBS) {
        const { runId, stepRunId } = await makeFixture(ctx.database, manifestId, fixture);
        const before = await everything(ctx.database, runId);
        const took = await verb.apply(store, runId, stepRunId);
        const expected = verb.expected(fixture);
        const [after] = await queryRows<{ status: RunStatus }>(ctx.database.db, sql`SELECT status FROM dag_runs WHERE id = ${runId}`);
        outcomes.push(`${fixture.name} × ${verb.name}: ${took ? `→ ${after!.status}` : 'refused'}`);
        if (expected === undefined) {
          expect(took, `${verb.name} from ${fixture.name} must be refused`).toBe(false);
          expect(await everything(ctx.database, runId), `${verb.name} from ${fixture.name} wrote something`).toBe(before);
        } else {
          expect(took, `${verb.name} from ${fixture.name} must work`).toBe(true);
          expect(after!.status).toBe(expected);
        }
      }
    }
    // Every fixture × verb pair was tried.
    expect(outcomes).toHaveLength(FIXTURES.length * VERBS.length);
  });

  it('the database refuses an impossible status or state, whatever the code does', async () => {
    const app = await testApp(ctx.database);
    const manifestId = await storeManifest(app, { name: 'checks', steps: [{ key: 'A', prompt: 'hi' }] });
    const bad = [
      sql`INSERT INTO dag_runs (manifest_id, status) VALUES (${manifestId}, 'paused')`,
      sql`INSERT INTO dag_runs (manifest_id, status) VALUES (${manifestId}, 'running')`, // running without a lease
      sql`INSERT INTO dag_runs (manifest_id, status, ended_at) VALUES (${manifestId}, 'cancelled', NULL)`,
      sql`INSERT INTO dag_runs (manifest_id, status, lease_owner, lease_expires_at) VALUES (${manifestId}, 'waiting', 'x', now())`,
      sql`INSERT INTO dag_runs (manifest_id, status, cancel_reason) VALUES (${manifestId}, 'waiting', 'why')`,
    ];
    for (const statement of bad) {
      await expect(ctx.database.db.execute(statement)).rejects.toMatchObject({ cause: { code: '23514' } });
    }
  });
});
