import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { queryRows, type Database } from '../src/storage/database.js';
import { sqlState, violatedConstraint } from '../src/storage/sqlstate.js';
import { testDrivers } from './support/databases.js';
import { migrationsUpTo } from './support/migrations.js';
import journal from '../src/storage/migrations/meta/_journal.json' with { type: 'json' };

const MIGRATIONS = journal.entries;

const columnsOf = (db: Database, table: string) =>
  queryRows<{ column_name: string; data_type: string; is_nullable: string }>(
    db.db,
    sql`SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ${table} ORDER BY ordinal_position`,
  );

const tablesOf = async (db: Database) =>
  (await queryRows<{ table_name: string }>(db.db, sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`)).map(
    (row) => row.table_name,
  );

/** The error a statement fails with (Drizzle wraps it; the SQLSTATE is on its cause). */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the statement to fail');
}

for (const driver of testDrivers()) {
  describe(`[${driver.name}] migrations`, () => {
    let database: Database;
    afterEach(async () => {
      await database.close();
    });

    it('builds the schema of SPEC §2 on an empty database, and a rerun changes nothing', async () => {
      database = await driver.empty();
      const first = await database.migrate();
      expect(first.slice(0, 2)).toEqual(['0000_core', '0001_compute_substrate']);
      expect(await tablesOf(database)).toEqual([
        'api_tokens',
        'audit_events',
        'compute_artifacts',
        'compute_attestations',
        'dag_runs',
        'dag_step_runs',
        'llm_call_artifacts',
        'manifest_steps',
        'manifests',
        'parsed_output_artifacts',
        'prompt_artifacts',
        'run_events',
        'signing_keys',
      ]);
      expect((await columnsOf(database, 'compute_attestations')).map((c) => c.column_name)).toEqual([
        'id',
        'step_run_id',
        'attested_by',
        'attested_at',
        'outcome',
        'notes',
        'contract_snapshot',
        'token_id',
        'attested_by_verified',
      ]);
      expect((await columnsOf(database, 'audit_events')).map((c) => c.column_name)).toEqual(['id', 'at', 'actor', 'token_id', 'action', 'target', 'outcome', 'code', 'request_id', 'address']);
      expect((await columnsOf(database, 'compute_artifacts')).map((c) => c.column_name)).toEqual([
        'id',
        'attestation_id',
        'name',
        'uri',
        'sha256',
        'bytes',
        'created_at',
        'verified',
        'verification',
      ]);
      const steps = await columnsOf(database, 'manifest_steps');
      expect(steps.find((c) => c.column_name === 'step_type')).toMatchObject({ data_type: 'text', is_nullable: 'YES' });
      expect(steps.find((c) => c.column_name === 'compute_contract')).toMatchObject({ data_type: 'jsonb', is_nullable: 'YES' });

      const applied = async () => (await queryRows<{ n: number }>(database.db, sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`))[0]!.n;
      expect(await applied()).toBe(MIGRATIONS.length);
      expect(first).toHaveLength(MIGRATIONS.length);
      expect(await database.migrate()).toEqual([]);
      expect(await applied()).toBe(MIGRATIONS.length);
    });

    it('upgrades a database that holds manifests and runs from before the compute migration', async () => {
      database = await driver.empty();
      expect(await database.migrate(migrationsUpTo('0000_core'))).toEqual(['0000_core']);
      expect(await tablesOf(database)).not.toContain('compute_attestations');
      await database.db.execute(sql`
        WITH m AS (
          INSERT INTO manifests (name, version, document, content_hash) VALUES ('old', 1, '{}', 'h') RETURNING id
        ), s AS (
          INSERT INTO manifest_steps (manifest_id, key, position, prompt) SELECT id, 'A', 0, 'hello' FROM m RETURNING id
        ), r AS (
          INSERT INTO dag_runs (manifest_id, status, started_at, ended_at) SELECT id, 'success', now(), now() FROM m RETURNING id
        )
        INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, ended_at, output)
        SELECT r.id, s.id, 'A', 'SUCCESS', now(), '"hi"' FROM r, s`);

      expect(await database.migrate()).toContain('0001_compute_substrate');
      expect(await tablesOf(database)).toContain('compute_attestations');
      const old = await queryRows<{ key: string; step_type: string | null; compute_contract: unknown; prompt: string }>(
        database.db,
        sql`SELECT key, step_type, compute_contract, prompt FROM manifest_steps`,
      );
      expect(old).toEqual([{ key: 'A', step_type: null, compute_contract: null, prompt: 'hello' }]);
      const runs = await queryRows<{ status: string }>(database.db, sql`SELECT status FROM dag_step_runs`);
      expect(runs).toEqual([{ status: 'SUCCESS' }]);
    });

    it('keeps attestations made before tokens existed, marked as not verified and made with no token', async () => {
      database = await driver.empty();
      await database.migrate(migrationsUpTo('0001_compute_substrate'));
      await database.db.execute(sql`
        WITH m AS (
          INSERT INTO manifests (name, version, document, content_hash) VALUES ('old', 1, '{}', 'h') RETURNING id
        ), s AS (
          INSERT INTO manifest_steps (manifest_id, key, position, step_type, compute_contract)
          SELECT id, 'B', 0, 'compute', '{"executor":"excel","inputs":[],"outputs":[],"verification":"operator_attest"}' FROM m RETURNING id
        ), r AS (
          INSERT INTO dag_runs (manifest_id, status, started_at) SELECT id, 'waiting', now() FROM m RETURNING id
        ), sr AS (
          INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, ended_at, output)
          SELECT r.id, s.id, 'B', 'SUCCESS', now(), '{}' FROM r, s RETURNING id
        )
        INSERT INTO compute_attestations (step_run_id, attested_by, outcome, contract_snapshot) SELECT id, 'ana', 'SUCCESS', '{}' FROM sr`);
      await database.migrate();
      const rows = await queryRows<{ attested_by: string; token_id: string | null; attested_by_verified: boolean }>(
        database.db,
        sql`SELECT attested_by, token_id, attested_by_verified FROM compute_attestations`,
      );
      expect(rows).toEqual([{ attested_by: 'ana', token_id: null, attested_by_verified: false }]);
    });

    it('marks artifacts attested before digest verification existed as not verified, saying so', async () => {
      database = await driver.empty();
      await database.migrate(migrationsUpTo('0001_compute_substrate'));
      await database.db.execute(sql`
        WITH m AS (
          INSERT INTO manifests (name, version, document, content_hash) VALUES ('old', 1, '{}', 'h') RETURNING id
        ), s AS (
          INSERT INTO manifest_steps (manifest_id, key, position, step_type, compute_contract)
          SELECT id, 'B', 0, 'compute', '{}' FROM m RETURNING id
        ), r AS (
          INSERT INTO dag_runs (manifest_id, status, started_at, ended_at) SELECT id, 'success', now(), now() FROM m RETURNING id
        ), sr AS (
          INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, ended_at, output)
          SELECT r.id, s.id, 'B', 'SUCCESS', now(), '{}' FROM r, s RETURNING id
        ), a AS (
          INSERT INTO compute_attestations (step_run_id, attested_by, outcome, contract_snapshot) SELECT id, 'ana', 'SUCCESS', '{}' FROM sr RETURNING id
        )
        INSERT INTO compute_artifacts (attestation_id, name, uri, sha256, bytes) SELECT id, 'x', 'file:///x', ${'a'.repeat(64)}, 1 FROM a`);
      await database.migrate();
      const artifacts = await queryRows<{ verified: boolean; verification: string }>(database.db, sql`SELECT verified, verification FROM compute_artifacts`);
      expect(artifacts).toEqual([{ verified: false, verification: 'recorded_before_verification' }]);
      await expect(database.db.execute(sql`UPDATE compute_artifacts SET verified = true`)).rejects.toMatchObject({ cause: { code: '23514' } });
    });

    it('upgrades a database holding runs from before map steps: their step runs are ordinary ones, and items are unique per (run, step, item, attempt)', async () => {
      database = await driver.empty();
      await database.migrate(migrationsUpTo('0005_run_events'));
      await database.db.execute(sql`
        WITH m AS (
          INSERT INTO manifests (name, version, document, content_hash) VALUES ('old', 1, '{}', 'h') RETURNING id
        ), s AS (
          INSERT INTO manifest_steps (manifest_id, key, position, prompt) SELECT id, 'A', 0, 'hello' FROM m RETURNING id
        ), r AS (
          INSERT INTO dag_runs (manifest_id, status, started_at, ended_at) SELECT id, 'error', now(), now() FROM m RETURNING id
        )
        INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, attempt, ended_at, error)
        SELECT r.id, s.id, 'A', 'FAIL', 1, now(), '{"message":"x"}' FROM r, s`);
      expect(await database.migrate()).toContainEqual(expect.stringMatching(/_map_items$/));
      const old = await queryRows<{ step_key: string; item_index: number | null; item: unknown; for_each: string | null }>(
        database.db,
        sql`SELECT sr.step_key, sr.item_index, sr.item, ms.for_each FROM dag_step_runs sr JOIN manifest_steps ms ON ms.id = sr.manifest_step_id`,
      );
      expect(old).toEqual([{ step_key: 'A', item_index: null, item: null, for_each: null }]);
      // An ordinary step's attempt stays unique…
      const again = sql`INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, attempt, ended_at, error)
        SELECT run_id, manifest_step_id, step_key, 'FAIL', 1, now(), '{}' FROM dag_step_runs LIMIT 1`;
      expect(violatedConstraint(await failure(database.db.execute(again)))).toBe('dag_step_runs_run_id_step_key_attempt_key');
      // … items of the same step and attempt are distinct step runs, each unique per item.
      const item = (index: number) => sql`INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status, attempt, item_index, item)
        SELECT run_id, manifest_step_id, step_key, 'RUNNING', 1, ${index}, '"doc"' FROM dag_step_runs WHERE item_index IS NULL LIMIT 1`;
      await database.db.execute(item(0));
      await database.db.execute(item(1));
      expect(violatedConstraint(await failure(database.db.execute(item(1))))).toBe('dag_step_runs_run_id_step_key_item_index_attempt_key');
      expect(violatedConstraint(await failure(database.db.execute(item(-1))))).toBe('dag_step_runs_item_index_check');
      const noItem = sql`UPDATE dag_step_runs SET item = NULL WHERE item_index = 0`;
      expect(violatedConstraint(await failure(database.db.execute(noItem)))).toBe('dag_step_runs_item_iff_item_index');
    });

    describe('constraints', () => {
      /** A waiting compute step run in a waiting run; returns its id. */
      async function waitingStepRun(db: Database): Promise<string> {
        const [row] = await queryRows<{ id: string }>(
          db.db,
          sql`
          WITH m AS (
            INSERT INTO manifests (name, version, document, content_hash) VALUES ('c', 1, '{}', 'h') RETURNING id
          ), s AS (
            INSERT INTO manifest_steps (manifest_id, key, position, step_type, compute_contract)
            SELECT id, 'B', 0, 'compute', '{"executor":"excel","inputs":[],"outputs":["x"],"verification":"operator_attest"}' FROM m RETURNING id
          ), r AS (
            INSERT INTO dag_runs (manifest_id, status, started_at) SELECT id, 'waiting', now() FROM m RETURNING id
          )
          INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status)
          SELECT r.id, s.id, 'B', 'WAITING_FOR_ATTESTATION' FROM r, s RETURNING id`,
        );
        return row!.id;
      }
      const attest = (db: Database, stepRunId: string) =>
        queryRows<{ id: string }>(
          db.db,
          sql`INSERT INTO compute_attestations (step_run_id, attested_by, outcome, contract_snapshot) VALUES (${stepRunId}, 'ana', 'SUCCESS', '{}') RETURNING id`,
        );

      it('refuses a second attestation of one step run', async () => {
        database = await driver.fresh();
        const stepRunId = await waitingStepRun(database);
        await attest(database, stepRunId);
        const err = await failure(attest(database, stepRunId));
        expect(sqlState(err)).toBe('23505');
        expect(violatedConstraint(err)).toBe('compute_attestations_step_run_id_key');
        // The single PGlite connection is usable after the failed statement.
        expect(await queryRows(database.db, sql`SELECT 1 AS ok`)).toEqual([{ ok: 1 }]);
      });

      it('rolls a transaction with a failed statement back and keeps the connection usable', async () => {
        database = await driver.fresh();
        const stepRunId = await waitingStepRun(database);
        const err = await failure(
          database.db.transaction(async (tx) => {
            await tx.execute(sql`UPDATE dag_step_runs SET status = 'SUCCESS', ended_at = now() WHERE id = ${stepRunId}`);
            await tx.execute(sql`INSERT INTO compute_attestations (step_run_id, attested_by, outcome, contract_snapshot) VALUES (${stepRunId}, 'ana', 'MAYBE', '{}')`);
          }),
        );
        expect(sqlState(err)).toBe('23514');
        // The first statement was rolled back with the failed one, and the next query runs.
        expect(await queryRows(database.db, sql`SELECT status FROM dag_step_runs WHERE id = ${stepRunId}`)).toEqual([{ status: 'WAITING_FOR_ATTESTATION' }]);
        await attest(database, stepRunId);
      });

      it('cascades the deletion of a step run to its attestation and artifacts', async () => {
        database = await driver.fresh();
        const stepRunId = await waitingStepRun(database);
        const [attestation] = await attest(database, stepRunId);
        await database.db.execute(
          sql`INSERT INTO compute_artifacts (attestation_id, name, uri, sha256, bytes) VALUES (${attestation!.id}, 'x', 'file:///x', ${'a'.repeat(64)}, 3)`,
        );
        await database.db.execute(sql`DELETE FROM dag_step_runs WHERE id = ${stepRunId}`);
        const left = await queryRows<{ n: number }>(
          database.db,
          sql`SELECT (SELECT count(*) FROM compute_attestations)::int + (SELECT count(*) FROM compute_artifacts)::int AS n`,
        );
        expect(left).toEqual([{ n: 0 }]);
      });

      it('holds the status values and their invariants', async () => {
        database = await driver.fresh();
        const stepRunId = await waitingStepRun(database);
        const refused = async (statement: ReturnType<typeof sql>, constraint: string) => {
          const err = await failure(database.db.execute(statement));
          expect(sqlState(err)).toBe('23514');
          expect(violatedConstraint(err)).toBe(constraint);
        };
        await refused(sql`UPDATE dag_step_runs SET status = 'DONE' WHERE id = ${stepRunId}`, 'dag_step_runs_status_check');
        await refused(sql`UPDATE dag_step_runs SET ended_at = now() WHERE id = ${stepRunId}`, 'dag_step_runs_ended_at_iff_terminal');
        await refused(sql`UPDATE dag_step_runs SET status = 'SUCCESS' WHERE id = ${stepRunId}`, 'dag_step_runs_ended_at_iff_terminal');
        await refused(sql`UPDATE dag_runs SET status = 'success'`, 'dag_runs_ended_at_iff_terminal');
        await refused(sql`UPDATE dag_runs SET status = 'paused'`, 'dag_runs_status_check');
        await refused(sql`UPDATE dag_runs SET status = 'running'`, 'dag_runs_running_has_lease');
        await refused(sql`UPDATE dag_runs SET status = 'cancelled'`, 'dag_runs_ended_at_iff_terminal');
        const [att] = await attest(database, stepRunId);
        await refused(
          sql`INSERT INTO compute_artifacts (attestation_id, name, uri, sha256, bytes) VALUES (${att!.id}, 'x', 'file:///x', 'ABC', 3)`,
          'compute_artifacts_sha256_check',
        );
        // A step run is unique per (run, step, attempt).
        const err = await failure(
          database.db.execute(sql`INSERT INTO dag_step_runs (run_id, manifest_step_id, step_key, status) SELECT run_id, manifest_step_id, step_key, 'RUNNING' FROM dag_step_runs`),
        );
        expect(violatedConstraint(err)).toBe('dag_step_runs_run_id_step_key_attempt_key');
      });
    });
  });
}
