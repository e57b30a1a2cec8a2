import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { encodeCursor } from '../src/core/cursor.js';
import { createEngineDeps } from '../src/engine/create-deps.js';
import { createToken } from '../src/engine/tokens.js';
import { openPostgres } from '../src/storage/postgres/connect.js';
import { startServer } from '../test/support/server-process.js';
import type { Measurement } from './report.js';
import { loadScaleData } from './scale-data.js';
import { median, peakRssMb, percentile } from './stats.js';

/**
 * `npm run bench -- --scale 10000,1000000`: the reads that must not grow with the data
 * (issue 25), measured over HTTP against a `stepgate serve` process (compiled, authentication
 * on) on N realistic runs loaded by bench/scale-data.ts — for each N in turn, each in a
 * database of its own. Reported per N: every list's first page and a page deep in it, the
 * inbox, the audit log, events by kind, a replay from an old event id with the server's
 * memory, the write path (start → waiting, attest, resume), bytes per run and the largest
 * tables; and, when several N are measured, the ratio of the largest N's figure to the
 * smallest's. Goals (issue 25): every list, inbox and audit page ≤ 20 ms median at 1M runs and
 * within 2× of its figure at 10k. The legacy offset page and the exact count are reported
 * without a goal: they read every row they skip or count, by design (docs/api-lists.md).
 */

export interface ScaleOptions {
  /** The run counts to measure, smallest first. */
  readonly sizes: readonly number[];
  /** A PostgreSQL server to create the databases on (the benchmark's own scratch databases). */
  readonly serverUrl: string;
  readonly quick: boolean;
  /** Also measure this database, loaded before (its run count is read; it is kept). */
  readonly reuseUrl?: string | undefined;
  /** Keep each loaded database (its URL is printed) instead of dropping it. */
  readonly keep?: boolean | undefined;
  readonly say?: (line: string) => void;
}

/** The figures whose goal is ≤ 20 ms and ≤ 2× from the smallest size to the largest. */
const PAGES = [
  'GET /api/runs, first page',
  'GET /api/runs?manifest_id=…, first page',
  'GET /api/runs?status=waiting, first page',
  'GET /api/runs?status=error, first page',
  'GET /api/runs?status=stalled',
  'GET /api/runs?cursor=… (90% deep)',
  'GET /api/manifests, first page',
  'GET /api/attestations/pending (the inbox)',
  'GET /api/audit, first page',
  'GET /api/audit?actor=…, first page',
  'GET /api/audit?cursor=… (90% deep)',
] as const;

export async function scaleBenchmarks(options: ScaleOptions): Promise<Measurement[]> {
  const say = options.say ?? (() => {});
  const figures: Measurement[] = [];
  const bySize = new Map<number, Map<string, number>>();
  const targets = [...options.sizes.map((n) => ({ n, reuse: undefined })), ...(options.reuseUrl ? [{ n: 0, reuse: options.reuseUrl }] : [])];
  for (const { n: requested, reuse } of targets) {
    const scratch = reuse ? undefined : `stepgate_scale_${requested}_${Date.now().toString(36)}`;
    const url = reuse ?? withDatabase(options.serverUrl, scratch!);
    if (scratch) {
      await admin(options.serverUrl, `CREATE DATABASE ${scratch}`);
      const database = await openPostgres({ url, poolSize: 1 });
      await database.migrate();
      await database.close();
      say(`scale: loading ${requested.toLocaleString('en')} runs into ${scratch}…`);
      const began = performance.now();
      await loadScaleData(url, requested, { progress: say });
      figures.push({ name: `scale N=${label(requested)}: load time`, database: 'postgres', value: (performance.now() - began) / 1000, unit: 's' });
    }
    try {
      const measured = await measure(url, options, say, scratch ? requested : undefined);
      bySize.set(measured.runs, measured.values);
      figures.push(...measured.figures);
    } finally {
      if (scratch && !options.keep) await admin(options.serverUrl, `DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
      else if (scratch) say(`scale: kept ${url}`);
    }
  }
  const sizes = [...bySize.keys()].sort((a, b) => a - b);
  if (sizes.length >= 2) {
    const [small, large] = [sizes[0]!, sizes.at(-1)!];
    for (const name of [...PAGES, 'GET /api/runs/{id}', 'write: start → waiting', 'write: attest', 'write: resume → success']) {
      const ratio = bySize.get(large)!.get(name)! / bySize.get(small)!.get(name)!;
      const page = (PAGES as readonly string[]).includes(name);
      figures.push({
        name: `scale ${name}: N=${label(large)} / N=${label(small)}`,
        database: 'postgres',
        value: ratio,
        unit: '×',
        goal: page ? { text: '≤ 2×', meets: (v) => v <= 2 } : { text: '≤ 1.5× (unchanged)', meets: (v) => v <= 1.5 },
      });
    }
  }
  return figures;
}

/** 10k, 1M (a reused database also counts the template runs and the runs earlier measurements wrote: 1,000,027 is 1M). */
const label = (n: number) => (n >= 1_000_000 ? `${Number((n / 1_000_000).toFixed(2))}M` : n >= 1000 ? `${Number((n / 1000).toFixed(1))}k` : String(n));

function withDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** Measures the database at `url`; `loaded` is the N it was loaded with (its runs also count the five template runs). */
async function measure(url: string, options: ScaleOptions, say: (line: string) => void, loaded: number | undefined) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const one = async <T>(text: string, values: unknown[] = []) => (await client.query(text, values)).rows[0] as T;
  const { runs } = await one<{ runs: number }>(`SELECT count(*)::int AS runs FROM dag_runs`);
  const n = label(loaded ?? runs);
  const figures: Measurement[] = [];
  const values = new Map<string, number>();
  const record = (name: string, value: number, unit: string, goal?: Measurement['goal']) => {
    values.set(name, value);
    figures.push({ name: `scale N=${n}: ${name}`, database: 'postgres', value, unit, ...(goal ? { goal } : {}) });
  };

  // Size: bytes per run, and the largest tables.
  const { bytes } = await one<{ bytes: string }>(`SELECT pg_database_size(current_database())::text AS bytes`);
  record('database bytes per run', Number(bytes) / runs, 'B');
  const tables = (await client.query<{ name: string; bytes: string }>(
    `SELECT c.relname AS name, pg_total_relation_size(c.oid)::text AS bytes FROM pg_class c
     WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 6`,
  )).rows;
  for (const table of tables) record(`table ${table.name} (with its indexes)`, Number(table.bytes) / 2 ** 20, 'MB');

  // What the requests need: a manifest, an actor, positions 90% deep, an event id from long ago.
  const manifest = await one<{ id: string }>(`SELECT id FROM manifests WHERE name = 'scale-07'`);
  const deepRun = await one<{ at: string; id: string }>(
    `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, id FROM dag_runs ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1`,
    [Math.floor(runs * 0.9)],
  );
  const { audits } = await one<{ audits: number }>(`SELECT count(*)::int AS audits FROM audit_events`);
  const deepAudit = await one<{ at: string; id: string }>(
    `SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, id FROM audit_events ORDER BY at DESC, id DESC OFFSET $1 LIMIT 1`,
    [Math.floor(audits * 0.9)],
  );
  const { oldEvent, lastEvent } = await one<{ oldEvent: string; lastEvent: string }>(`SELECT (min(id) + 1)::text AS "oldEvent", max(id)::text AS "lastEvent" FROM run_events`);
  const sampleRun = await one<{ id: string }>(
    `SELECT id FROM dag_runs WHERE status = 'success' ORDER BY created_at DESC OFFSET (SELECT count(*) / 2 FROM dag_runs WHERE status = 'success') LIMIT 1`,
  );
  await client.end();

  const dataDir = mkdtempSync(join(tmpdir(), 'stepgate-bench-scale-'));
  const token = await adminToken(url);
  const headers = { authorization: `Bearer ${token}` };
  const server = await startServer(
    { DATABASE_URL: url, STEPGATE_DATA_DIR: dataDir, LOG_LEVEL: 'warn', STEPGATE_RATE_LIMIT_PER_TOKEN: '1000000000', STEPGATE_RATE_LIMIT_PER_ADDRESS: '1000000000' },
    { built: true },
  );
  try {
    const base = server.baseUrl;
    const get = async (path: string) => {
      const began = performance.now();
      const response = await fetch(`${base}${path}`, { headers });
      const body = await response.arrayBuffer();
      if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${Buffer.from(body).toString('utf8').slice(0, 300)}`);
      return performance.now() - began;
    };
    const reps = options.quick ? 10 : 30;
    const timeGet = async (name: string, path: string, repetitions = reps, goal = true) => {
      for (let i = 0; i < 3; i++) await get(path); // warm: plans cached, pages in memory
      const times: number[] = [];
      for (let i = 0; i < repetitions; i++) times.push(await get(path));
      record(name, median(times), 'ms', goal ? { text: '≤ 20 ms', meets: (v) => v <= 20 } : undefined);
      figures.push({ name: `scale N=${n}: ${name} p95`, database: 'postgres', value: percentile(times, 95), unit: 'ms' });
      say(`  N=${n} ${name}: ${median(times).toFixed(1)} ms median`);
    };
    const runCursor = encodeCursor('runs', {}, deepRun);
    const auditCursor = encodeCursor('audit', {}, deepAudit);
    const paths: Record<(typeof PAGES)[number], string> = {
      'GET /api/runs, first page': '/api/runs?limit=50',
      'GET /api/runs?manifest_id=…, first page': `/api/runs?limit=50&manifest_id=${manifest.id}`,
      'GET /api/runs?status=waiting, first page': '/api/runs?limit=50&status=waiting',
      'GET /api/runs?status=error, first page': '/api/runs?limit=50&status=error',
      'GET /api/runs?status=stalled': '/api/runs?limit=50&status=stalled',
      'GET /api/runs?cursor=… (90% deep)': `/api/runs?limit=50&cursor=${runCursor}`,
      'GET /api/manifests, first page': '/api/manifests?limit=50',
      'GET /api/attestations/pending (the inbox)': '/api/attestations/pending?limit=50',
      'GET /api/audit, first page': '/api/audit?limit=100',
      'GET /api/audit?actor=…, first page': '/api/audit?limit=100&actor=ana.operator',
      'GET /api/audit?cursor=… (90% deep)': `/api/audit?limit=100&cursor=${auditCursor}`,
    };
    for (const name of PAGES) await timeGet(name, paths[name]);
    await timeGet('GET /api/runs/{id}', `/api/runs/${sampleRun.id}`, reps, false);
    // By design they read every row they skip or count (documented): measured, no goal.
    await timeGet('GET /api/runs?offset=… (90% deep, compatibility)', `/api/runs?limit=50&offset=${Math.floor(runs * 0.9)}`, 5, false);
    await timeGet('GET /api/runs?count=true (exact total)', '/api/runs?limit=50&count=true', 5, false);

    // The write path: start → waiting, attest, resume → success, one client; before the event
    // replays below, which read gigabytes of run_events through the cache it needs.
    const post = async (path: string, body: unknown) => {
      const began = performance.now();
      const response = await fetch(`${base}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const json = (await response.json()) as { id: string; status: string; waiting_on: Array<{ step_run_id: string }> };
      if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${JSON.stringify(json)}`);
      return [json, performance.now() - began] as const;
    };
    const writes = { start: [] as number[], attest: [] as number[], resume: [] as number[] };
    const artifacts = ['forecast_csv', 'workbook_xlsx'].map((name) => ({ name, uri: `s3://bench/${name}`, sha256: 'e'.repeat(64), bytes: 1 }));
    for (let i = 0; i < (options.quick ? 5 : 30) + 5; i++) {
      const [run, start] = await post('/api/runs', { manifest_id: manifest.id, inputs: { region: 'EMEA', topic: `write ${i}` } });
      const [, attest] = await post(`/api/runs/${run.id}/steps/${run.waiting_on[0]!.step_run_id}/attest`, { outcome: 'SUCCESS', artifacts });
      const [done, resume] = await post(`/api/runs/${run.id}/resume`, undefined);
      if (done.status !== 'success') throw new Error(`run ${run.id} ended ${done.status}`);
      if (i < 5) continue; // warm-up: the index pages these writes touch come into the cache
      writes.start.push(start);
      writes.attest.push(attest);
      writes.resume.push(resume);
    }
    record('write: start → waiting', median(writes.start), 'ms');
    record('write: attest', median(writes.attest), 'ms');
    record('write: resume → success', median(writes.resume), 'ms');
    // Events by kind, from the first event to the end (the index is the events work's).
    const kindTimes: number[] = [];
    for (let i = 0; i < (options.quick ? 1 : 3); i++) kindTimes.push(await get(`/api/events?kind=run_failed&follow=false&last_event_id=0`));
    record('GET /api/events?kind=run_failed&follow=false&last_event_id=0', median(kindTimes), 'ms');

    // A replay from an old event id: read for at most 30 s (5 quick), then hang up.
    const before = peakRssMb(server.child.pid!);
    const replay = await replayFor(`${base}/api/events?follow=false&last_event_id=${oldEvent}`, headers, options.quick ? 5_000 : 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    record('replay from the first event: events read', replay.events, 'events');
    record('replay from the first event: events per second', replay.events / (replay.ms / 1000), 'events/s');
    record(`replay from the first event: server peak RSS growth (of ${Number(lastEvent).toLocaleString('en')} events)`, peakRssMb(server.child.pid!) - before, 'MB', {
      text: '≤ 50 MB',
      meets: (v) => v <= 50,
    });

    record('server RSS at peak', peakRssMb(server.child.pid!), 'MB');
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { runs: loaded ?? runs, figures, values };
}

/** A new admin token for the benchmark (the loaded database has tokens already: no bootstrap one). */
async function adminToken(url: string): Promise<string> {
  const database = await openPostgres({ url, poolSize: 1 });
  try {
    const deps = createEngineDeps({ db: database.db, providers: new Map(), defaultModel: 'offline:echo', leaseMs: 60_000 });
    return (await createToken(deps, { name: `bench-admin-${Date.now().toString(36)}`, role: 'admin', expiresAt: null })).token;
  } finally {
    await database.close();
  }
}

/** Reads a Server-Sent Events stream for at most `ms`, counting events, then hangs up. */
async function replayFor(url: string, headers: Record<string, string>, ms: number): Promise<{ events: number; ms: number }> {
  const controller = new AbortController();
  const began = performance.now();
  const timer = setTimeout(() => controller.abort(), ms);
  let events = 0;
  try {
    const response = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' }, signal: controller.signal });
    const decoder = new TextDecoder();
    let tail = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      const text = tail + decoder.decode(chunk, { stream: true });
      const parts = text.split('\n\n');
      tail = parts.pop() ?? '';
      events += parts.filter((part) => part.startsWith('id: ')).length;
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    clearTimeout(timer);
  }
  return { events, ms: performance.now() - began };
}
