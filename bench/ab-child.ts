/**
 * One side of bench/ab.ts: the engine figures that a change to run events moves, measured
 * with the code of the checkout at `root` (its own src/, loaded from there) against the
 * database at `url`. Prints one JSON object.
 *
 *   node --import tsx bench/ab-child.ts <root> <database url> <seconds> <shared: true|false>
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql } from 'drizzle-orm';
import { delayFigures, liveEventLoad, type EngineFunctions } from './live-events.js';
import { median, percentile } from './stats.js';

const [root, url, secondsArg, sharedArg] = process.argv.slice(2) as [string, string, string, string];
const seconds = Number(secondsArg);
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- another checkout's modules, typed by their use here
const load = (path: string): Promise<any> => import(pathToFileURL(join(root, path)).href);

const [{ openPostgres }, { createEngineDeps }, { storeManifest }, { startRun }, { attestStep }, { resumeRun }, { offlineProvider }, { buildApp }, { authOptions }] = await Promise.all([
  load('src/storage/postgres/connect.ts'),
  load('src/engine/create-deps.ts'),
  load('src/engine/manifests.ts'),
  load('src/engine/runs.ts'),
  load('src/engine/attest.ts'),
  load('src/engine/resume.ts'),
  load('src/providers/llm/offline.ts'),
  load('src/http/app.ts'),
  load('src/http/auth/options.ts'),
]);

const database = await openPostgres({ url, poolSize: 24, shared: sharedArg === 'true' });
await database.migrate();
const deps = createEngineDeps({
  db: database.db,
  prepared: database.prepared,
  listen: database.listen,
  shared: database.shared,
  providers: new Map([['offline', offlineProvider()]]),
  defaultModel: 'offline:echo',
  leaseMs: 60_000,
});
const engine: EngineFunctions<typeof deps> = { startRun, attestStep, resumeRun };
const compute = { executor: 'bench', inputs: [], outputs: ['out'], verification: 'operator_attest' };
const ABC = {
  name: 'bench-abc',
  steps: [
    { key: 'A', prompt: 'assumptions for {{inputs.tag}}' },
    { key: 'B', step_type: 'compute', depends_on: ['A'], compute_contract: compute },
    { key: 'C', depends_on: ['B'], prompt: 'memo on {{steps.A.output}} and {{steps.B.artifacts.out.uri}}' },
  ],
};
const attestation = { outcome: 'SUCCESS', attestedBy: 'bench', tokenId: null, artifacts: [{ name: 'out', uri: 'file:///bench/out', sha256: 'd'.repeat(64), bytes: 1 }] };
const chain = (n: number) => ({
  name: `bench-chain-${n}`,
  steps: Array.from({ length: n + 1 }, (_, i) =>
    i === n / 2
      ? { key: `s${i}`, step_type: 'compute', depends_on: [`s${i - 1}`], compute_contract: compute }
      : { key: `s${i}`, ...(i > 0 ? { depends_on: [`s${i - 1}`] } : {}), prompt: `step ${i} for {{inputs.tag}}` },
  ),
});

// The floor: a single-row INSERT + COMMIT.
await database.db.execute(sql`CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, v int NOT NULL)`);
const floors: number[] = [];
for (let i = 0; i < 300; i++) {
  const began = performance.now();
  await database.db.execute(sql`INSERT INTO bench_floor (v) VALUES (${i})`);
  floors.push(performance.now() - began);
}

// Per task step at N=100: start, attest the compute step in the middle, resume.
const { manifest: chainManifest } = await storeManifest(deps, chain(100));
const perStep: number[] = [];
for (let r = 0; r < 3; r++) {
  const began = performance.now();
  const started = await startRun(deps, { manifestId: chainManifest.id, inputs: { tag: `r${r}` } });
  const waiting = started.stepRuns.find((s: { status: string }) => s.status === 'WAITING_FOR_ATTESTATION');
  await attestStep(deps, started.run.id, waiting.id, attestation);
  const resumed = await resumeRun(deps, started.run.id);
  if (resumed.run.status !== 'success') throw new Error('chain did not succeed');
  perStep.push((performance.now() - began) / 100);
}

const { manifest } = await storeManifest(deps, ABC);
const quiet = await liveEventLoad(engine, deps, manifest.id, { clients: 20, seconds, subscriber: false });
const loaded = await liveEventLoad(engine, deps, manifest.id, { clients: 20, seconds, subscriber: true });
const idle = await liveEventLoad(engine, deps, manifest.id, { clients: 1, seconds: Math.min(seconds, 2), subscriber: true });

// GET /api/runs/{id} in process (authentication off): the read path, untouched by events.
const app = await buildApp(deps, { auth: authOptions({ mode: 'off', rateLimit: { perToken: 1e9, perAddress: 1e9, windowMs: 60_000 } }) });
const sample = await startRun(deps, { manifestId: manifest.id, inputs: { tag: 'get' } });
const gets: number[] = [];
for (let i = 0; i < 1_000; i++) {
  const began = performance.now();
  const response = await app.inject({ method: 'GET', url: `/api/runs/${sample.run.id}`, headers: { host: '127.0.0.1' } });
  gets.push(performance.now() - began);
  if (response.statusCode !== 200) throw new Error(`GET: ${response.statusCode}`);
}
await app.close();
await database.close();

const floor = median(floors);
const loadedDelay = delayFigures(loaded.delays);
const idleDelay = delayFigures(idle.delays);
const loadedSent = delayFigures(loaded.sinceSent);
const idleSent = delayFigures(idle.sinceSent);
console.log(
  JSON.stringify({
    floor_ms: floor,
    per_step_n100_ms: median(perStep),
    per_step_n100_floor_ratio: median(perStep) / floor,
    throughput_runs_per_s: quiet.runsPerSecond,
    throughput_with_subscriber_runs_per_s: loaded.runsPerSecond,
    event_delay_20_clients_p50_ms: loadedDelay.p50,
    event_delay_20_clients_p99_ms: loadedDelay.p99,
    event_delay_1_client_p50_ms: idleDelay.p50,
    event_delay_1_client_p99_ms: idleDelay.p99,
    event_since_sent_20_clients_p50_ms: loadedSent.p50,
    event_since_sent_20_clients_p99_ms: loadedSent.p99,
    event_since_sent_1_client_p50_ms: idleSent.p50,
    event_since_sent_1_client_p99_ms: idleSent.p99,
    get_run_in_process_p50_ms: median(gets),
    get_run_in_process_p99_ms: percentile(gets, 99),
  }),
);
process.exit(0);
