import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createEngineDeps } from '../src/engine/create-deps.js';
import { storeManifest } from '../src/engine/manifests.js';
import { createToken } from '../src/engine/tokens.js';
import { buildApp } from '../src/http/app.js';
import { authOptions } from '../src/http/auth/options.js';
import { offlineProvider } from '../src/providers/llm/offline.js';
import { openPostgres } from '../src/storage/postgres/connect.js';

/**
 * The scale benchmark's data: N realistic runs, loaded through SQL in a few statements per
 * batch (generate_series), never one request per run.
 *
 * Realistic because every run is a copy of a run stepgate itself made: a few *template runs*
 * are made first through the HTTP API in process (authentication on: their audit rows are the
 * real ones), one per kind of run — succeeded (attested and resumed), waiting, ready to resume
 * (attested, not resumed), failed (a FAIL attestation), cancelled — and every generated run is
 * one of them with new ids (UUIDv4, derived from the run's number), its own manifest (one of
 * 30), its own inputs and its timestamps moved to its place in time. So every row satisfies
 * every constraint (statuses, ended_at iff final, leases, one attestation per step run, digest
 * formats, append-only events) the way the engine's own rows do, and foreign keys point at the
 * copies. Stalled runs are copies of the waiting one left running, their lease expired long ago.
 *
 * The history is a team's: 2,740 runs a day (a million a year) over 30 manifests of five steps
 * (A, B tasks → C compute → D, E tasks; a third of them with a 48-hour deadline on C), the
 * newest run made just now. Runs of the last 12 hours are half still waiting (some attested,
 * ready to resume); older ones are final but for an abandoned 0.25% (waiting forever, overdue
 * where C has a deadline) and one in 10,000 stalled. 5% end in error, 2% cancelled. So 10,000
 * runs are a team's first 3.6 days, 1,000,000 its first year; the inbox holds ~700 waits at
 * 10k and ~3,200 at 1M.
 */

export const RUNS_PER_DAY = 2_740;
const MANIFESTS = 30;
const PROMPT_BODY =
  'You are preparing the quarterly forecast pack. Read the notes below, list every assumption they make about demand, ' +
  'pricing, churn and costs, say which ones the numbers support and which ones need a second source, and keep the wording ' +
  'of the notes where you quote them. ';

function manifest(k: number) {
  const deadline = k % 3 === 0;
  const long = PROMPT_BODY;
  return {
    name: `scale-${String(k).padStart(2, '0')}`,
    description: `Scale benchmark manifest ${k}`,
    steps: [
      { key: 'A', prompt: `${long}Region: {{inputs.region}}. Topic: {{inputs.topic}}.` },
      { key: 'B', depends_on: ['A'], prompt: `${long}Turn these assumptions into model inputs: {{steps.A.output}}` },
      {
        key: 'C',
        step_type: 'compute',
        depends_on: ['B'],
        compute_contract: {
          executor: { kind: 'excel', workbook: `s3://models/forecast-${k}.xlsx` },
          inputs: [{ name: 'assumptions', from: 'steps.B.output' }],
          outputs: ['forecast_csv', 'workbook_xlsx'],
          verification: 'operator_attest',
          instructions: 'Run the workbook with the assumptions, export the forecast sheet as CSV.',
          ...(deadline ? { deadline: 'PT48H' } : {}),
        },
      },
      { key: 'D', depends_on: ['C'], prompt: `${long}Write the memo for {{inputs.region}} from {{steps.C.artifacts.forecast_csv.uri}}.` },
      { key: 'E', depends_on: ['D'], prompt: `Shorten this memo to five bullet points: {{steps.D.output}}` },
    ],
  };
}

export type Variant = 'success' | 'waiting' | 'ready' | 'error' | 'cancelled' | 'stalled';

/**
 * Which kind of run run number `i` (of `n`) is, as SQL over `i` and `n` (both int8): by its
 * age and a hash of its number.
 */
const VARIANT_SQL = `
  CASE WHEN (n - 1 - i) < ${RUNS_PER_DAY / 2} THEN
         CASE WHEN u < 4500 THEN 'waiting' WHEN u < 5000 THEN 'ready' WHEN u < 5500 THEN 'error' WHEN u < 5600 THEN 'cancelled' ELSE 'success' END
       ELSE
         CASE WHEN u < 21 THEN 'waiting' WHEN u < 25 THEN 'ready' WHEN u < 525 THEN 'error' WHEN u < 725 THEN 'cancelled' WHEN u < 726 THEN 'stalled' ELSE 'success' END
  END`;

/** A UUIDv4 derived from text: the same run number always gets the same ids. */
const uuid = (text: string) => `overlay(overlay(md5(${text}) placing '4' from 13) placing '8' from 17)::uuid`;

export interface ScaleData {
  readonly runs: number;
  readonly manifestIds: string[];
  /** The name of the operator token that attests the copies (an audit actor). */
  readonly operator: string;
}

/**
 * Loads `n` runs into the (migrated, empty) database at `url`, `batch` runs per transaction,
 * reporting progress. Ends with VACUUM ANALYZE, as autovacuum would have by then.
 */
export async function loadScaleData(url: string, n: number, options: { batch?: number; progress?: (line: string) => void } = {}): Promise<ScaleData> {
  const say = options.progress ?? (() => {});
  const batch = options.batch ?? 20_000;
  const began = performance.now();
  const { manifestIds, operator } = await makeTemplates(url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SET synchronous_commit = off`);
    await client.query(`
      CREATE TEMP TABLE scale_manifests AS
        SELECT row_number() OVER (ORDER BY m.name) - 1 AS k, m.id, (ms.compute_contract ? 'deadline') AS deadline, ms.compute_contract AS contract
        FROM manifests m JOIN manifest_steps ms ON ms.manifest_id = m.id AND ms.key = 'C'
        WHERE m.name LIKE 'scale-%'`);
    for (let lo = 0; lo < n; lo += batch) {
      const hi = Math.min(n, lo + batch);
      await client.query('BEGIN');
      await client.query(`DROP TABLE IF EXISTS scale_batch`);
      // Spacing: RUNS_PER_DAY runs a day, the newest (n - 1) made now.
      await client.query(
        `CREATE TEMP TABLE scale_batch AS
           SELECT i, v AS variant, ${uuid(`'run:' || i`)} AS run_id, sm.id AS manifest_id, sm.deadline, sm.contract,
                  t.run_id AS template_id,
                  (now() - ((n - 1 - i) * interval '${86_400_000 / RUNS_PER_DAY} milliseconds') - interval '1 second') - t.created_at AS shift
           FROM generate_series($1::int8, $2::int8 - 1) AS i
           CROSS JOIN LATERAL (SELECT $3::int8 AS n, (hashint8(i) & 2147483647) % 10000 AS u) AS h
           CROSS JOIN LATERAL (SELECT ${VARIANT_SQL} AS v) AS pick
           JOIN scale_templates t ON t.variant = CASE WHEN pick.v = 'stalled' THEN 'waiting' ELSE pick.v END
           JOIN scale_manifests sm ON sm.k = i % ${MANIFESTS}`,
        [lo, hi, n],
      );
      await insertCopies(client);
      await client.query('COMMIT');
      const elapsed = (performance.now() - began) / 1000;
      say(`  ${hi.toLocaleString('en')} of ${n.toLocaleString('en')} runs loaded (${elapsed.toFixed(0)} s, ${Math.round(hi / elapsed)} runs/s)`);
    }
    say('  VACUUM ANALYZE…');
    await client.query('VACUUM ANALYZE');
  } finally {
    await client.end();
  }
  return { runs: n, manifestIds, operator };
}

/** Copies of the template rows for the runs of scale_batch, table by table, parents first. */
async function insertCopies(client: pg.Client): Promise<void> {
  const stepId = (from: string) => uuid(`'step:' || b.i || ':' || ${from}`);
  // Stalled: a copy of the waiting run left running by an executor that died.
  await client.query(`
    INSERT INTO dag_runs (id, manifest_id, status, inputs, error, created_at, started_at, ended_at, lease_owner, lease_expires_at, attested_seq, cancel_reason, updated_at)
    SELECT b.run_id, b.manifest_id,
           CASE WHEN stalled THEN 'running' ELSE r.status END,
           jsonb_build_object('region', (ARRAY['EMEA', 'APAC', 'AMER', 'LATAM'])[1 + b.i % 4], 'topic', 'forecast ' || b.i, 'quarter', 'Q' || (1 + b.i % 4)),
           r.error, r.created_at + b.shift, r.started_at + b.shift, r.ended_at + b.shift,
           CASE WHEN stalled THEN 'scale-bench:dead' ELSE r.lease_owner END,
           CASE WHEN stalled THEN r.created_at + b.shift + interval '15 seconds' ELSE r.lease_expires_at + b.shift END,
           r.attested_seq, r.cancel_reason, r.updated_at + b.shift
    FROM scale_batch b JOIN dag_runs r ON r.id = b.template_id
    CROSS JOIN LATERAL (SELECT b.variant = 'stalled' AS stalled) AS s
    ORDER BY b.i`);
  await client.query(`
    INSERT INTO dag_step_runs (id, run_id, manifest_step_id, step_key, status, attempt, started_at, ended_at, output, error, due_at)
    SELECT ${stepId('s.id')}, b.run_id, ms.id, s.step_key, s.status, s.attempt, s.started_at + b.shift, s.ended_at + b.shift, s.output, s.error,
           CASE WHEN b.deadline THEN s.due_at + b.shift END
    FROM scale_batch b JOIN dag_step_runs s ON s.run_id = b.template_id
    JOIN manifest_steps ms ON ms.manifest_id = b.manifest_id AND ms.key = s.step_key`);
  for (const table of ['prompt_artifacts', 'llm_call_artifacts', 'parsed_output_artifacts']) {
    const columns = {
      prompt_artifacts: ['attempt', 'template', 'values', 'messages', 'error'],
      llm_call_artifacts: ['attempt', 'provider', 'model', 'request', 'response', 'usage', 'latency_ms', 'tries', 'error'],
      parsed_output_artifacts: ['attempt', 'format', 'value', 'error'],
    }[table]!;
    await client.query(`
      INSERT INTO ${table} (id, step_run_id, ${columns.map((c) => `"${c}"`).join(', ')}, created_at)
      SELECT ${uuid(`'${table}:' || b.i || ':' || x.id`)}, ${stepId('x.step_run_id')}, ${columns.map((c) => `x."${c}"`).join(', ')}, x.created_at + b.shift
      FROM scale_batch b JOIN dag_step_runs s ON s.run_id = b.template_id JOIN ${table} x ON x.step_run_id = s.id`);
  }
  await client.query(`
    INSERT INTO compute_attestations (id, step_run_id, attested_by, attested_at, outcome, notes, contract_snapshot, token_id, attested_by_verified)
    SELECT ${uuid(`'attestation:' || b.i || ':' || a.id`)}, ${stepId('a.step_run_id')}, a.attested_by, a.attested_at + b.shift, a.outcome, a.notes, b.contract, a.token_id, a.attested_by_verified
    FROM scale_batch b JOIN dag_step_runs s ON s.run_id = b.template_id JOIN compute_attestations a ON a.step_run_id = s.id`);
  await client.query(`
    INSERT INTO compute_artifacts (id, attestation_id, name, uri, sha256, bytes, created_at, verified, verification)
    SELECT ${uuid(`'artifact:' || b.i || ':' || x.id`)}, ${uuid(`'attestation:' || b.i || ':' || a.id`)}, x.name,
           replace(x.uri, 'template', b.i::text), encode(sha256(convert_to(x.sha256 || b.i, 'UTF8')), 'hex'), x.bytes + b.i % 1000,
           x.created_at + b.shift, x.verified, x.verification
    FROM scale_batch b JOIN dag_step_runs s ON s.run_id = b.template_id JOIN compute_attestations a ON a.step_run_id = s.id
    JOIN compute_artifacts x ON x.attestation_id = a.id`);
  // In the order they happened: event ids grow with time, as the engine's do.
  await client.query(`
    INSERT INTO run_events (run_id, kind, step_run_id, step_key, attempt, status, at)
    SELECT b.run_id, e.kind, CASE WHEN e.step_run_id IS NOT NULL THEN ${stepId('e.step_run_id')} END, e.step_key, e.attempt,
           e.status, e.at + b.shift
    FROM scale_batch b JOIN run_events e ON e.run_id = b.template_id
    ORDER BY e.at + b.shift, b.i, e.id`);
  await client.query(`
    INSERT INTO audit_events (id, at, actor, token_id, action, target, outcome, code, request_id, address)
    SELECT ${uuid(`'audit:' || b.i || ':' || u.id`)}, u.at + b.shift, u.actor, u.token_id, u.action,
           CASE WHEN s.id IS NULL THEN replace(u.target, b.template_id::text, b.run_id::text)
                ELSE replace(replace(u.target, b.template_id::text, b.run_id::text), s.id::text, (${stepId('s.id')})::text) END,
           u.outcome, u.code, 'scale-' || b.i || '-' || left(u.request_id, 8), u.address
    FROM scale_batch b JOIN scale_template_audit t ON t.run_id = b.template_id JOIN audit_events u ON u.id = t.audit_id
    LEFT JOIN dag_step_runs s ON s.run_id = b.template_id AND s.step_key = 'C'`);
}

/**
 * The 30 manifests and one template run of each kind, made through the API in process with
 * authentication on; recorded in scale_templates (variant → run id) and scale_template_audit
 * (the audit rows of each template run).
 */
async function makeTemplates(url: string): Promise<{ manifestIds: string[]; operator: string }> {
  const database = await openPostgres({ url, poolSize: 2 });
  const deps = createEngineDeps({ db: database.db, prepared: database.prepared, providers: new Map([['offline', offlineProvider()]]), defaultModel: 'offline:echo', leaseMs: 60_000 });
  const app = await buildApp(deps, { auth: authOptions({ mode: 'on', rateLimit: { perToken: 1e9, perAddress: 1e9, windowMs: 60_000 } }) });
  try {
    const author = await createToken(deps, { name: 'ci-pipeline', role: 'author', expiresAt: null });
    const operator = await createToken(deps, { name: 'ana.operator', role: 'operator', expiresAt: null });
    const call = async (token: string, method: 'GET' | 'POST', path: string, payload?: unknown) => {
      const response = await app.inject({ method, url: path, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
      if (response.statusCode >= 300) throw new Error(`${method} ${path}: ${response.statusCode} ${response.body}`);
      return response.json();
    };
    const manifestIds: string[] = [];
    for (let k = 0; k < MANIFESTS; k++) manifestIds.push((await storeManifest(deps, manifest(k))).manifest.id);
    const templateManifest = manifestIds[0]!; // k = 0: with a deadline, so due_at is there to copy (or to drop)
    const artifacts = [
      { name: 'forecast_csv', uri: 's3://forecasts/template/forecast.csv', sha256: 'a'.repeat(64), bytes: 48_213 },
      { name: 'workbook_xlsx', uri: 's3://forecasts/template/workbook.xlsx', sha256: 'b'.repeat(64), bytes: 1_204_733 },
    ];
    const templates = new Map<Variant, string>();
    for (const variant of ['success', 'waiting', 'ready', 'error', 'cancelled'] as const) {
      const run = await call(author.token, 'POST', '/api/runs', { manifest_id: templateManifest, inputs: { region: 'EMEA', topic: 'template' } });
      const wait = run.waiting_on[0].step_run_id as string;
      const attest = (outcome: 'SUCCESS' | 'FAIL') =>
        call(operator.token, 'POST', `/api/runs/${run.id}/steps/${wait}/attest`, { outcome, notes: 'Ran the Q3 workbook; numbers checked against finance.', artifacts: outcome === 'SUCCESS' ? artifacts : [] });
      if (variant === 'success') {
        await attest('SUCCESS');
        await call(operator.token, 'POST', `/api/runs/${run.id}/resume`);
      } else if (variant === 'ready') await attest('SUCCESS');
      else if (variant === 'error') await attest('FAIL');
      else if (variant === 'cancelled') await call(operator.token, 'POST', `/api/runs/${run.id}/cancel`, { reason: 'superseded by a newer run' });
      templates.set(variant, run.id);
    }
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // Plain tables (not temporary): the loader's own connection reads them.
      await client.query(`CREATE TABLE scale_templates (variant text PRIMARY KEY, run_id uuid NOT NULL, created_at timestamptz NOT NULL)`);
      for (const [variant, runId] of templates) {
        await client.query(`INSERT INTO scale_templates SELECT $1, id, created_at FROM dag_runs WHERE id = $2`, [variant, runId]);
      }
      await client.query(`
        CREATE TABLE scale_template_audit AS
          SELECT t.run_id, u.id AS audit_id FROM scale_templates t JOIN audit_events u ON u.target LIKE '/api/runs/' || t.run_id || '%'`);
    } finally {
      await client.end();
    }
    return { manifestIds, operator: operator.name };
  } finally {
    await app.close();
    await database.close();
  }
}

/** A fresh id for the bench's own database names. */
export const scratchName = () => `stepgate_scale_${randomUUID().slice(0, 8)}`;
